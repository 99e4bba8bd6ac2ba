"""The word-cached pinyin keys equal pypinyin's answer for the whole text."""

from __future__ import annotations

import random

import pytest
from pypinyin import Style, lazy_pinyin

from kehu.customers.normalize import fold, pinyin_keys

POLYPHONES = [
    "重庆银行长沙分行",
    "中国银行(香港)有限公司",
    "长春长生生物科技股份有限公司",
    "音乐之声ABC文化传媒",
    "行行行",
    "朝阳区朝阳门外大街",
    "厦门 行 长",
    "重重重庆庆",
    "Åbc上海a1b2—数据",
    "东莞市长安镇乐器行",
    "",
    "abc",
]


def _whole_text(text: str) -> tuple[str, str]:
    """The definition: pypinyin over the whole text at once."""
    syllables = [s for s in lazy_pinyin(text, errors="ignore") if s.isascii() and s.isalpha()]
    initials = lazy_pinyin(text, style=Style.FIRST_LETTER, errors="ignore")
    return "".join(syllables).lower(), "".join(i for i in initials if i.isalpha()).lower()


@pytest.mark.parametrize("text", POLYPHONES)
def test_pinyin_keys_of_polyphones_equal_pypinyin(text: str) -> None:
    assert pinyin_keys(fold(text)) == _whole_text(fold(text))


def test_pinyin_keys_of_random_company_names_equal_pypinyin() -> None:
    rng = random.Random(7)
    parts = ["上海", "重庆", "长沙", "银行", "行业", "音乐", "调度", "和平", "都市", "科技"]
    chars = "华瑞德兴恒泰安康盛达重长行乐和调都还便朝单"
    for _ in range(2000):
        name = "".join(rng.choice(parts) for _ in range(2)) + "".join(
            rng.choice(chars) for _ in range(rng.randint(1, 4))
        )
        name += rng.choice(["有限公司", "股份有限公司", "(集团)", " Co., Ltd."])
        assert pinyin_keys(fold(name)) == _whole_text(fold(name)), name


def test_han_pairs_spell_each_run_of_han_characters_with_a_mark_between() -> None:
    from kehu.customers.normalize import han_pairs, pair_term

    assert han_pairs("上海瑞德 c-1 shanghairuide 李明 王 13800138000") == "上x海x瑞x德 李x明"
    assert han_pairs("abc 王 x") == ""
    assert (pair_term("瑞德"), pair_term("瑞德电"), pair_term("瑞"), pair_term("ab")) == (
        "瑞x德",
        None,
        None,
        None,
    )
