"""Reading and cleaning in a second process: the same batches, errors handed over, no queries."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kehu.customers.models import Customer
from kehu.customers.normalize import pinyin_keys
from kehu.transfer import engine, pipeline, services
from kehu.transfer.cleaning import RowResult
from kehu.transfer.models import ImportJob
from kehu.transfer.reading import FileProblem
from kehu.transfer.tests.helpers import customer_rows, write_csv

pytestmark = pytest.mark.skipif(not pipeline.can_fork(), reason="needs fork")


def _rows(count: int) -> Iterator[tuple[int, list[Any]]]:
    for line in range(2, count + 2):
        yield line, [f"客户{line}"]


def _clean(line: int, cells: list[Any]) -> RowResult:
    return RowResult(line, values={"name": cells[0], "pid": os.getpid()})


def _batches(*, parallel: bool, count: int = 25, size: int = 10) -> list[pipeline.Batch]:
    with pipeline.cleaned_batches(lambda: _rows(count), _clean, size, parallel=parallel) as found:
        return list(found)


def test_the_child_gives_the_same_batches_as_cleaning_here() -> None:
    here = _batches(parallel=False)
    there = _batches(parallel=True)
    assert [len(rows) for _cells, rows in there] == [10, 10, 5]
    assert [cells for cells, _rows in there] == [cells for cells, _rows in here]
    names = [[(row.line, row.values["name"]) for row in rows] for _cells, rows in there]
    assert names == [[(row.line, row.values["name"]) for row in rows] for _cells, rows in here]
    assert {row.values["pid"] for _cells, rows in here for row in rows} == {os.getpid()}
    child = {row.values["pid"] for _cells, rows in there for row in rows}
    assert len(child) == 1
    assert os.getpid() not in child


def _broken_file() -> Iterator[tuple[int, list[Any]]]:
    yield from _rows(15)
    raise FileProblem(
        "Line 17 cannot be read as utf-8; choose another encoding.", code="bad_encoding"
    )


def test_an_error_in_the_child_is_raised_here_after_the_batches_before_it() -> None:
    received: list[pipeline.Batch] = []

    def receive_all(batches: Iterator[pipeline.Batch]) -> None:
        received.extend(batches)

    with (
        pipeline.cleaned_batches(_broken_file, _clean, 10, parallel=True) as batches,
        pytest.raises(FileProblem) as raised,
    ):
        receive_all(batches)
    assert [len(rows) for _cells, rows in received] == [10]
    assert raised.value.code == "bad_encoding"
    assert raised.value.detail == "Line 17 cannot be read as utf-8; choose another encoding."


@pytest.mark.django_db
def test_the_child_may_not_query_the_database() -> None:
    def clean_with_a_query(line: int, cells: list[Any]) -> RowResult:
        Customer.objects.count()
        return _clean(line, cells)

    with (
        pipeline.cleaned_batches(lambda: _rows(5), clean_with_a_query, 2, parallel=True) as batches,
        pytest.raises(RuntimeError, match="must not query the database"),
    ):
        list(batches)
    assert Customer.objects.count() == 0  # this process's connection still works


def _slow_rows() -> Iterator[tuple[int, list[Any]]]:
    for item in _rows(1000):
        time.sleep(0.01)
        yield item


def test_a_child_that_dies_is_reported_and_leaving_early_stops_it() -> None:
    with pipeline.cleaned_batches(_slow_rows, _clean, 2, parallel=True) as batches:
        first = next(batches)
        child = first[1][0].values["pid"]
        os.kill(child, signal.SIGKILL)
        with pytest.raises(pipeline.ReaderStopped):
            list(batches)
    with pipeline.cleaned_batches(_slow_rows, _clean, 2, parallel=True) as batches:
        child = next(batches)[1][0].values["pid"]
    with pytest.raises(ProcessLookupError):  # stopped and reaped when the block was left
        os.kill(child, 0)


def _real_job(actor: Any, path: Path) -> ImportJob:
    job = services.import_job_create(actor=actor, kind="customers", path=path)
    job.dry_run = False
    job.save()
    return job


@pytest.mark.django_db
def test_an_import_of_several_batches_cleans_in_the_child_and_keeps_the_pinyin(
    org: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cleaned_by = tmp_path / "pids.txt"  # written by whichever process cleans
    clean = engine.Importer._clean

    def clean_and_tell(importer: engine.Importer, line: int, cells: list[Any]) -> RowResult:
        with cleaned_by.open("a") as handle:
            handle.write(f"{os.getpid()}\n")
        return clean(importer, line, cells)

    monkeypatch.setattr(engine.Importer, "_clean", clean_and_tell)
    path = write_csv(tmp_path / "a.csv", customer_rows(7))
    job = engine.run_job(_real_job(org.admin, path), batch_size=3)
    assert job.status == "done", job.message
    assert job.counts["created"] == 7
    pids = cleaned_by.read_text().split()
    assert len(pids) == 7
    assert set(pids) != {str(os.getpid())}
    assert len(set(pids)) == 1
    for customer in Customer.objects.all():
        full, initials = pinyin_keys(customer.name)
        assert f" {full} {initials} " in customer.search_text
    assert ImportJob.objects.get().next_row == 9

    cleaned_by.unlink()  # one batch: cleaned here, nothing to overlap with
    path = write_csv(tmp_path / "b.csv", customer_rows(2, start=100))
    assert engine.run_job(_real_job(org.admin, path), batch_size=3).status == "done"
    assert cleaned_by.read_text().split() == [str(os.getpid())] * 2
