"""Merge fields: 称呼 from the contact, unknown fields refused by name, rendering."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.utils import translation

from kehu.campaigns.services import merge
from kehu.core.errors import InvalidInput


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """The messages asserted below are the English ones, whatever an earlier test activated."""
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("name", "gender", "title", "expected"),
    [
        ("王伟", "m", "", "王先生"),
        ("李娜", "f", "总监", "李女士"),
        ("欧阳娜娜", "f", "", "欧阳女士"),
        ("司马光", "m", "", "司马先生"),
        ("诸葛亮", "", "总经理", "诸葛总经理"),
        ("张三", "", "经理", "张经理"),
        ("赵敏", "", "", "赵敏"),
        ("欧阳", "m", "", "欧先生"),  # a two-character name is a surname and a given name
        ("John Smith", "m", "", "Mr Smith"),
        ("Jane Doe", "", "", "Jane Doe"),
        ("", "m", "", ""),
    ],
)
def test_salutation(name: str, gender: str, title: str, expected: str) -> None:
    assert merge.salutation(name, gender, title) == expected


def test_unknown_field_is_named() -> None:
    with pytest.raises(InvalidInput) as raised:
        merge.check("{{ salutation }}您好，{{ discount_code }}", field="body")
    assert raised.value.errors["body"] == ["Unknown merge field {{ discount_code }}."]


def test_unclosed_field_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        merge.check("{{ salutation 您好")
    assert "not closed" in raised.value.errors["body"][0]


def test_template_errors_name_their_part() -> None:
    with pytest.raises(InvalidInput) as raised:
        merge.check_template("{{ nope }}", "{{ 称呼 }}")
    assert set(raised.value.errors) == {"subject"}


def test_render_fills_keys_and_chinese_aliases() -> None:
    context = {"salutation": "王先生", "company": "华瑞", "owner_name": "小李", "campaign": "展会"}
    text = merge.render("{{salutation}}/{{ 称呼 }}/{{ 公司 }}/{{ owner_phone }}", context)
    assert text == "王先生/王先生/华瑞/"
    assert merge.fields_in("{{ a }} x {{b}}") == ["a", "b"]
    with pytest.raises(InvalidInput):
        merge.render("{{ unknown }}", context)
