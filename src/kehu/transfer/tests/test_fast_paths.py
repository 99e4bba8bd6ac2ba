"""The import's fast paths give the answers of the slow ones they stand in for."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from django.utils import timezone

from kehu.core.bulk_insert import RowInserter
from kehu.core.context import acting_context
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer, StatusChange
from kehu.transfer import engine, services
from kehu.transfer.cleaning import _is_plain_cn_mobile
from kehu.transfer.models import ImportRecord
from kehu.transfer.tests.helpers import HEADERS, customer_rows, write_csv


def _phonenumbers_says_plain_mobile(number: str) -> bool:
    try:
        parsed = phonenumbers.parse(number, "CN")
    except phonenumbers.NumberParseException:
        return False
    return (
        phonenumbers.is_valid_number(parsed)
        and phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE
        and phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        == "+86" + number
    )


def test_chinese_mobile_check_agrees_with_phonenumbers() -> None:
    rng = random.Random(5)
    numbers = [f"1{rng.randint(3, 9)}{rng.randrange(10**9):09d}" for _ in range(4000)]
    numbers += [f"179{rng.randrange(10**8):08d}" for _ in range(200)]  # carrier-code prefix
    numbers += [f"1740{i:07d}" for i in range(0, 10**7, 50_000)]  # 1740[0-5] only
    numbers += [f"1610{i:07d}" for i in range(0, 10**7, 50_000)]
    for number in numbers:
        assert _is_plain_cn_mobile(number) == _phonenumbers_says_plain_mobile(number), number


@pytest.mark.django_db
def test_rows_inserted_with_reserved_keys_answer_them_and_keep_the_counter() -> None:
    table = RowInserter(Customer)
    now = timezone.now()
    base = {f.attname: f.get_default() for f in Customer._meta.concrete_fields}
    base.update(created_at=now, updated_at=now, contact_info_updated_at=now, to_verify=[])
    rows = [table.row({**base, "number": f"KH-R-{i}", "name": f"键客户{i}"}) for i in range(3)]
    ids = table.insert_returning(rows, key="number")
    assert sorted(ids) == ["KH-R-0", "KH-R-1", "KH-R-2"]
    assert dict(Customer.objects.values_list("number", "pk")) == ids
    twins = [table.row({**base, "number": f"KH-T-{i}", "name": "同名客户"}) for i in range(2)]
    with pytest.raises(ValueError, match="not unique"):
        table.insert_returning(twins, key="name")
    assert not Customer.objects.filter(number__startswith="KH-T-").exists()  # nothing written
    later = Customer.objects.create(number="KH-R-LATER", name="之后的客户")
    assert later.pk > max(ids.values())


def _tracked(history_model: Any, obj: Any) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in history_model.tracked_fields}


@pytest.mark.django_db
def test_bulk_rows_equal_what_customer_create_writes(org: Any, tmp_path: Path) -> None:
    """A row imported through the bulk path and the same data through ``customer_create``
    end up alike: search keys, completeness, grade, number series, history rows (every tracked
    field, user, request id), contact and its history, status event."""
    headers = [*HEADERS, "统一社会信用代码", "年度预算", "职务"]
    rows = [[*customer_rows(1)[0], "91310115MA1H7K4X28", "60万", "采购经理"]]
    rows[0][2] = ""  # no region: derived from the credit code, as customer_create does
    path = write_csv(tmp_path / "a.csv", rows, headers=headers)
    with acting_context("bulk-1"):
        job = services.import_job_create(actor=org.admin, kind="customers", path=path)
        job.dry_run = False
        job.save()
        job = engine.run_job(job)
    assert job.status == "done", job.message
    imported = Customer.objects.get()
    with acting_context("service-1"):
        created = customer_services.customer_create(
            actor=org.admin,
            data={
                "name": "对照" + imported.name,
                "industry": imported.industry_id,
                "source": imported.source,
                "founded_on": imported.founded_on,
                "credit_code": "91310115MA1H7K4X3B",
                "annual_budget": imported.annual_budget,
            },
            contacts=[{"name": "对照人", "title": "采购经理", "mobile": "+8613900009999"}],
            force=True,
        )
    created.refresh_from_db()
    assert imported.region_id == created.region_id == "310115"
    assert imported.grade == created.grade == "A"
    prefix, seq = re.fullmatch(r"(.*?)(\d+)", imported.number).groups()  # type: ignore[union-attr]
    assert created.number == prefix + str(int(seq) + 1).zfill(len(seq))  # next in the series
    # the stored search keys are what refresh_search computes from the stored rows
    for customer in (imported, created):
        stored = (customer.name_key, customer.search_text, customer.completeness)
        customer_services.refresh_search(customer)
        assert (customer.name_key, customer.search_text, customer.completeness) == stored
    assert imported.completeness == created.completeness
    # history: one "+" row each, a snapshot of the stored customer, user and request id
    history_model = Customer.history.model
    row = imported.history.get()
    reference = created.history.get()
    assert _tracked(history_model, row) == _tracked(history_model, imported)
    assert _tracked(history_model, reference) == _tracked(history_model, created)
    assert (row.history_type, row.history_user_id, row.request_id) == ("+", org.admin.pk, "bulk-1")
    assert row.history_change_reason == f"Imported (import #{job.pk})"
    assert row.history_date == imported.created_at
    contact = imported.contacts.get()
    reference_contact = created.contacts.get()
    same = ("title", "is_primary", "is_active", "is_decision_maker", "version", "left_at", "notes")
    assert {f: getattr(contact, f) for f in same} == {
        f: getattr(reference_contact, f) for f in same
    }
    contact_model = Contact.history.model
    contact_row = contact.history.get()
    assert _tracked(contact_model, contact_row) == _tracked(contact_model, contact)
    assert (contact_row.history_user_id, contact_row.request_id) == (org.admin.pk, "bulk-1")
    event = StatusChange.objects.get(customer=imported)
    assert (event.old_status, event.new_status, event.changed_by_id) == (
        "",
        "potential",
        org.admin.pk,
    )
    assert ImportRecord.objects.get(job=job).object_id == imported.pk
