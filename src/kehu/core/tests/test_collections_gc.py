"""The garbage collector's thresholds during a batch call, and after it."""

from __future__ import annotations

import gc

from kehu.core.collections_gc import BATCH_YOUNG_OBJECTS, few_collections


def test_thresholds_are_raised_for_the_block_and_restored_after_the_last() -> None:
    before = gc.get_threshold()
    with few_collections():
        assert gc.get_threshold()[0] == BATCH_YOUNG_OBJECTS
        with few_collections():
            assert gc.get_threshold()[0] == BATCH_YOUNG_OBJECTS
        assert gc.get_threshold()[0] == BATCH_YOUNG_OBJECTS
    assert gc.get_threshold() == before


def test_thresholds_are_restored_when_the_block_fails() -> None:
    before = gc.get_threshold()
    try:
        with few_collections():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
