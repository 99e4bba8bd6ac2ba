"""Cleaning, validation and the automatic column mapping."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from kehu.transfer.cleaning import CellError, Cleaner, fold_text
from kehu.transfer.mapping import auto_map, header_key, validate_mapping
from kehu.transfer.specs import KINDS

pytestmark = pytest.mark.django_db
# The built-in fields (``spec_map`` adds the custom ones, read from the database).
SPECS = {spec.key: spec for spec in KINDS["customers"]}


@pytest.fixture
def cleaner(org: Any) -> Cleaner:
    return Cleaner("customers", actor=org.admin)


@pytest.mark.parametrize(
    "raw",
    ["2024年5月20日", "2024/5/20", "2024-05-20", "2024.05.20", "20240520", "45432", 45432,
     datetime(2024, 5, 20, 0, 0), date(2024, 5, 20), " ２０２４年５月２０日 "],
)  # fmt: skip
def test_dates_in_common_chinese_formats(cleaner: Cleaner, raw: Any) -> None:
    assert cleaner.clean_cell(SPECS["founded_on"], raw) == date(2024, 5, 20)


@pytest.mark.parametrize("raw", ["2024年13月1日", "昨天", "2024-02-30"])
def test_bad_dates_say_how_to_write_them(cleaner: Cleaner, raw: str) -> None:
    with pytest.raises(CellError):
        cleaner.clean_cell(SPECS["founded_on"], raw)


def test_full_width_and_spaces_are_folded() -> None:
    assert fold_text("  上海（华瑞）  科技　有限公司 ") == "上海(华瑞) 科技 有限公司"
    assert fold_text("ＡＢＣ１２３") == "ABC123"
    assert fold_text(13812345678.0) == "13812345678"


def test_phones_become_e164_and_are_checked(cleaner: Cleaner) -> None:
    mobile = SPECS["contact_mobile"]
    assert cleaner.clean_cell(mobile, "１３８ １２３４ ５６７８") == "+8613812345678"
    assert cleaner.clean_cell(mobile, "+86-138-1234-5678") == "+8613812345678"
    assert cleaner.clean_cell(SPECS["contact_work_phone"], "021-61234567") == "+862161234567"
    with pytest.raises(CellError, match="not a valid phone"):
        cleaner.clean_cell(mobile, "1381234")
    with pytest.raises(CellError, match="not a phone"):
        cleaner.clean_cell(mobile, "没有")


def test_landline_in_the_mobile_column_moves_to_work_phone(cleaner: Cleaner) -> None:
    headers = ["客户名称", "手机"]
    row = cleaner.clean_row(
        2, ["甲公司", "021-61234567"], {"name": 0, "contact_mobile": 1}, headers
    )
    assert row.ok
    assert row.values["contact_work_phone"] == "+862161234567"
    assert "contact_mobile" not in row.values


def test_emails(cleaner: Cleaner) -> None:
    # lower case, as the API stores an address: the bulk insert keeps the cleaned value
    assert cleaner.clean_cell(SPECS["contact_email"], "Wang@Example.CN") == "wang@example.cn"
    assert cleaner.clean_cell(SPECS["contact_email"], "Li.Na@Example.CN") == "li.na@example.cn"
    with pytest.raises(CellError, match="not an email"):
        cleaner.clean_cell(SPECS["contact_email"], "wang@@example")


def test_enumerations_by_name_and_synonym_with_fuzzy_suggestion(cleaner: Cleaner) -> None:
    assert cleaner.clean_cell(SPECS["source"], "展会") == "trade_show"
    assert cleaner.clean_cell(SPECS["source"], "Trade show") == "trade_show"
    assert cleaner.clean_cell(SPECS["status"], "意向") == "intent"
    with pytest.raises(CellError, match="Did you mean “行业展会”"):
        cleaner.clean_cell(SPECS["source"], "行业展销")


def test_industry_and_region_lookup(cleaner: Cleaner) -> None:
    assert cleaner.clean_cell(SPECS["industry"], "制造业-通用设备制造业") == "34"
    assert cleaner.clean_cell(SPECS["industry"], "通用设备制造业") == "34"
    assert cleaner.clean_cell(SPECS["industry"], "C") == "C"
    assert cleaner.clean_cell(SPECS["region"], "上海") == "310000"
    assert cleaner.clean_cell(SPECS["region"], "浙江省杭州市") == "330100"
    assert cleaner.clean_cell(SPECS["region"], "杭州") == "330100"
    with pytest.raises(CellError, match="Did you mean"):
        cleaner.clean_cell(SPECS["industry"], "通用设备制造")


def test_amounts_credit_codes_booleans(cleaner: Cleaner) -> None:
    assert cleaner.clean_cell(SPECS["annual_budget"], "20万") == Decimal("200000.00")
    assert cleaner.clean_cell(SPECS["annual_budget"], "¥1,500") == Decimal("1500.00")
    assert cleaner.clean_cell(SPECS["contact_is_decision_maker"], "是") is True
    assert cleaner.clean_cell(SPECS["credit_code"], "91310000MA1FL5LX3K") == "91310000MA1FL5LX3K"
    with pytest.raises(CellError, match="credit code"):
        cleaner.clean_cell(SPECS["credit_code"], "91310000MA1FL5LX3X")


def test_required_name_and_to_verify(cleaner: Cleaner) -> None:
    headers = ["客户名称", "邮箱"]
    row = cleaner.clean_row(5, ["", "a@example.cn"], {"name": 0, "contact_email": 1}, headers)
    assert row.errors == [("客户名称", "is required.")]
    # a blank cell is blank: 待核实 is what the cell says (the entry rules, tested in
    # customers/tests/test_entry_rules.py, decide whether a blank may be imported)
    row = cleaner.clean_row(6, ["甲公司", ""], {"name": 0, "contact_email": 1}, headers)
    assert row.to_verify == []
    assert row.ok
    row = cleaner.clean_row(
        7,
        ["乙公司", "待核实", "待核实"],
        {"name": 0, "industry": 1, "employees_band": 2},
        ["客户名称", "所属行业", "客户规模"],
    )
    assert row.ok
    assert row.to_verify == ["industry", "employees_band"]


def test_owner_must_be_an_active_user(cleaner: Cleaner, org: Any) -> None:
    assert cleaner.clean_cell(SPECS["owner"], "rep") == org.rep.pk
    with pytest.raises(CellError, match="no active user"):
        cleaner.clean_cell(SPECS["owner"], "nobody")


@pytest.mark.parametrize(
    ("header", "field"),
    [("客户名称", "name"), ("公司名称", "name"), ("企业名称", "name"), ("Company Name", "name"),
     ("手机", "contact_mobile"), ("联系电话", "contact_mobile"), ("电话", "contact_mobile"),
     ("行业", "industry"), ("所属行业", "industry"), ("客户名称 / Customer name *", "name"),
     ("ＥＭＡＩＬ", "contact_email"), ("电子邮箱", "contact_email"), ("成立时间", "founded_on")],
)  # fmt: skip
def test_automatic_mapping_of_known_headers(header: str, field: str) -> None:
    assert auto_map("customers", [header]) == {header: field}


def test_each_field_is_mapped_once_leftmost_wins() -> None:
    mapping = auto_map("customers", ["公司名称", "客户名称", "备注"])
    assert mapping == {"公司名称": "name", "客户名称": "", "备注": "notes"}


def test_mapping_validation() -> None:
    assert header_key(" 客户名称* ") == header_key("客户名称")
    with pytest.raises(Exception, match="mapping"):
        validate_mapping("customers", {"A": "name", "B": "name"})
    with pytest.raises(Exception, match="mapping"):
        validate_mapping("customers", {"A": "bogus"})
