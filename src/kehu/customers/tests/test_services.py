from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.utils import timezone, translation

from kehu.core import config
from kehu.core.errors import Forbidden, InvalidInput, NotFound, ReadOnly, StaleVersion
from kehu.core.testing.factories import Organisation
from kehu.customers import grading, selectors, services
from kehu.customers.models import (
    Contact,
    Customer,
    CustomerShare,
    CustomerStatus,
    StatusChange,
)
from kehu.customers.tests.factories import VALID_USCC, make_customer

pytestmark = pytest.mark.django_db


def test_create_numbers_owner_department_search_and_history(org: Organisation) -> None:
    customer = services.customer_create(
        actor=org.rep,
        data={"name": "上海科技发展有限公司", "industry": "34", "region": "310101"},
        contacts=[{"name": "王伟", "mobile": "138 1234 5678", "email": "Wang@Example.COM"}],
        tags=["高意向客户"],
    )
    assert customer.number == "C-SH-001"
    assert customer.owner == org.rep
    assert customer.department == org.shanghai
    assert customer.created_by == org.rep
    contact = customer.contacts.get()
    assert contact.mobile == "+8613812345678"
    assert contact.email == "wang@example.com"
    assert contact.is_primary
    assert "shanghaikeji" in customer.search_text
    assert "shkj" in customer.search_text
    assert "8613812345678" in customer.search_text
    assert "王伟" in customer.search_text
    assert list(customer.tags.values_list("name", flat=True)) == ["高意向客户"]
    assert customer.history.get().history_user == org.rep
    assert StatusChange.objects.get(customer=customer).new_status == CustomerStatus.POTENTIAL
    second = make_customer(org.rep, industry="34", region="310101")
    assert second.number == "C-SH-002"


def test_number_is_never_reused_after_delete(org: Organisation) -> None:
    first = make_customer(org.rep, industry="34", region="310101")
    services.customer_delete(actor=org.admin, customer=first)
    again = make_customer(org.rep, industry="34", region="310101")
    assert again.number == "C-SH-002"


def test_owner_defaults_to_actor_and_managers_may_pick(org: Organisation) -> None:
    customer = make_customer(org.east_manager, owner=org.hangzhou_rep)
    assert customer.owner == org.hangzhou_rep
    assert customer.department == org.hangzhou
    with pytest.raises(Forbidden):
        make_customer(org.rep, owner=org.colleague)
    with pytest.raises(Forbidden):
        make_customer(org.east_manager, owner=org.south_rep)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"industry": "ZZ9"}, "industry"),
        ({"region": "999999"}, "region"),
        ({"credit_code": "91310000MA1FL0000X"}, "credit_code"),
        ({"credit_code": "9131"}, "credit_code"),
        ({"name": "x" * 201}, "name"),
        ({"website": "not a url"}, "website"),
        ({"annual_budget": "lots"}, "annual_budget"),
        ({"to_verify": ["owner"]}, "to_verify"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_create_rejects_bad_input_and_saves_nothing(
    org: Organisation, data: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        services.customer_create(actor=org.rep, data={"name": "某某有限公司", **data})
    assert field in raised.value.errors
    assert raised.value.errors[field][0]
    assert not Customer.objects.exists()


@translation.override("en")
def test_credit_code_messages_name_the_problem(org: Organisation) -> None:
    with pytest.raises(InvalidInput) as raised:
        services.customer_create(
            actor=org.rep, data={"name": "甲公司", "credit_code": "91310000MA1FL0000X"}
        )
    assert "check digit" in raised.value.errors["credit_code"][0]
    with pytest.raises(InvalidInput) as raised:
        services.customer_create(actor=org.rep, data={"name": "甲公司", "credit_code": "12"})
    assert "18 characters" in raised.value.errors["credit_code"][0]
    ok = services.customer_create(
        actor=org.rep, data={"name": "甲公司", "credit_code": VALID_USCC[0].lower()}
    )
    assert ok.credit_code == VALID_USCC[0]


@pytest.mark.parametrize(
    "contact",
    [
        {"name": "王伟", "mobile": "12345"},
        {"name": "王伟", "work_phone": "abc"},
        {"name": "王伟", "email": "wang@"},
        {"name": ""},
    ],
)
def test_create_rejects_bad_contacts(org: Organisation, contact: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        services.customer_create(actor=org.rep, data={"name": "乙公司"}, contacts=[contact])
    assert not Customer.objects.exists()
    assert not Contact.objects.exists()


def test_duplicates_by_phone_email_credit_code_and_name(org: Organisation) -> None:
    existing = services.customer_create(
        actor=org.south_rep,
        data={"name": "杭州恒泰精密制造有限公司", "credit_code": VALID_USCC[1]},
        contacts=[{"name": "李娜", "mobile": "+86 139 0000 1111", "email": "li@hengtai.cn"}],
    )
    by_phone = services.find_duplicates(phones=["13900001111"])
    assert [(m.customer_id, m.reason) for m in by_phone] == [(existing.pk, "phone")]
    assert services.find_duplicates(emails=["LI@hengtai.cn"])[0].reason == "email"
    assert services.find_duplicates(credit_code=VALID_USCC[1])[0].reason == "credit_code"
    exact = services.find_duplicates(name="杭州恒泰精密制造股份有限公司")
    assert exact[0].reason == "name"
    assert exact[0].score == 100.0
    similar = services.find_duplicates(name="杭州恒泰精密制造厂有限公司")
    assert similar
    assert similar[0].score >= 88
    assert services.find_duplicates(name="杭州恒泰精密制造", exclude_id=existing.pk) == []
    assert services.find_duplicates(name="北京完全不同的公司") == []

    with pytest.raises(services.DuplicateCustomer) as raised:
        services.customer_create(
            actor=org.rep,
            data={"name": "杭州恒泰精密制造有限公司"},
            contacts=[{"name": "李娜", "mobile": "13900001111"}],
        )
    payload = raised.value.payload()
    assert payload["code"] == "duplicate"
    # the rep cannot see the south rep's customer: only that a match exists and who holds it
    assert all(not m["visible"] and "name" not in m for m in payload["matches"])
    assert {m["owner_name"] for m in payload["matches"]} == {str(org.south_rep)}
    assert Customer.objects.count() == 1
    # 撞单: force does not let a rep take a customer another rep holds; an admin may.
    with pytest.raises(services.CustomerHeldByOther) as held:
        services.customer_create(
            actor=org.rep, data={"name": "杭州恒泰精密制造有限公司"}, force=True
        )
    assert held.value.payload()["code"] == "held_by_other"
    assert str(org.south_rep) in held.value.detail
    assert Customer.objects.count() == 1
    forced = services.customer_create(
        actor=org.admin, data={"name": "杭州恒泰精密制造有限公司"}, force=True
    )
    assert forced.pk != existing.pk


def test_update_checks_version_scope_and_records_history(org: Organisation) -> None:
    customer = make_customer(org.rep)
    services.customer_update(
        actor=org.rep, customer=customer, changes={"address": "上海市浦东新区1号"}, version=1
    )
    assert customer.version == 2
    assert customer.address == "上海市浦东新区1号"
    with pytest.raises(StaleVersion):
        services.customer_update(
            actor=org.rep, customer=customer, changes={"address": "别处"}, version=1
        )
    with pytest.raises(NotFound):
        services.customer_update(
            actor=org.colleague, customer=customer, changes={"address": "别处"}
        )
    customer.refresh_from_db()
    assert customer.address == "上海市浦东新区1号"
    assert customer.history.count() == 2


def test_share_read_only_and_read_write(org: Organisation) -> None:
    customer = make_customer(org.rep)
    services.customer_share(actor=org.rep, customer=customer, user=org.colleague)
    assert Customer.objects.visible_to(org.colleague).filter(pk=customer.pk).exists()
    with pytest.raises(ReadOnly):
        services.customer_update(actor=org.colleague, customer=customer, changes={"notes": "x"})
    services.customer_share(actor=org.rep, customer=customer, user=org.colleague, can_edit=True)
    services.customer_update(actor=org.colleague, customer=customer, changes={"notes": "x"})
    assert CustomerShare.objects.get().can_edit
    # a colleague with a share may not see nor change the budget
    with pytest.raises(Forbidden):
        services.customer_update(
            actor=org.colleague, customer=customer, changes={"annual_budget": 1}
        )


def test_status_change_records_who_when_why_and_is_idempotent(org: Organisation) -> None:
    customer = make_customer(org.rep)
    services.customer_change_status(
        actor=org.rep, customer=customer, status=CustomerStatus.INTENT, reason="需求明确"
    )
    services.customer_change_status(
        actor=org.rep, customer=customer, status=CustomerStatus.INTENT, reason="again"
    )
    changes = list(StatusChange.objects.filter(customer=customer).order_by("id"))
    assert [c.new_status for c in changes] == ["potential", "intent"]
    assert changes[1].changed_by == org.rep
    assert changes[1].reason == "需求明确"
    with pytest.raises(InvalidInput):
        services.customer_change_status(actor=org.rep, customer=customer, status="lost")


def test_reassign_is_for_managers_with_reason(org: Organisation) -> None:
    customer = make_customer(org.rep)
    with pytest.raises(Forbidden):
        services.customer_reassign(
            actor=org.rep, customer=customer, owner=org.colleague, reason="休假"
        )
    with pytest.raises(InvalidInput):
        services.customer_reassign(
            actor=org.east_manager, customer=customer, owner=org.colleague, reason=" "
        )
    with pytest.raises(Forbidden):
        services.customer_reassign(
            actor=org.east_manager, customer=customer, owner=org.south_rep, reason="调整"
        )
    services.customer_reassign(
        actor=org.east_manager, customer=customer, owner=org.hangzhou_rep, reason="区域调整"
    )
    customer.refresh_from_db()
    assert customer.owner == org.hangzhou_rep
    assert customer.department == org.hangzhou
    assert customer.history.first().history_change_reason == "区域调整"  # type: ignore[union-attr]


def test_mark_verified_and_record_contact(org: Organisation) -> None:
    customer = make_customer(org.rep)
    with pytest.raises(InvalidInput):
        services.customer_mark_verified(actor=org.rep, customer=customer, via="pigeon")
    services.customer_mark_verified(actor=org.rep, customer=customer, via="tianyancha")
    customer.refresh_from_db()
    assert customer.verified_by == org.rep
    assert customer.verified_via == "tianyancha"
    now = timezone.now()
    services.customer_record_contact(customer=customer, when=now)
    services.customer_record_contact(customer=customer, when=now - timedelta(days=2))
    services.customer_record_contact(customer=customer, when=now - timedelta(days=1))
    customer.refresh_from_db()
    assert customer.first_contact_at == now - timedelta(days=2)
    assert customer.last_contact_at == now


def test_contacts_create_update_deactivate(org: Organisation) -> None:
    customer = make_customer(org.rep, contacts=[{"name": "王伟", "mobile": "13812345678"}])
    first = customer.contacts.get()
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        second = services.contact_create(
            actor=org.rep,
            customer=customer,
            data={
                "name": "赵敏",
                "title": "采购经理",
                "work_phone": "021-6888 1234",
                "is_primary": True,
            },
        )
        customer.refresh_from_db()
        assert customer.contact_info_updated_at.date() == timezone.now().date()
    assert second.work_phone == "+862168881234"
    first.refresh_from_db()
    assert second.is_primary
    assert not first.is_primary
    with pytest.raises(InvalidInput):
        services.contact_update(actor=org.rep, contact=second, changes={"email": "bad@"})
    services.contact_update(
        actor=org.rep, contact=second, changes={"email": "zhao@ex.cn"}, version=second.version
    )
    customer.refresh_from_db()
    assert "zhao@ex.cn" in customer.search_text
    assert "862168881234" in customer.search_text
    with pytest.raises(NotFound):
        services.contact_deactivate(actor=org.colleague, contact=second)
    left = services.contact_deactivate(actor=org.rep, contact=second, reason="离职")
    assert not left.is_active
    assert left.left_at is not None
    first.refresh_from_db()
    assert first.is_primary
    assert Contact.objects.filter(pk=second.pk).exists()


def test_contact_with_another_customers_phone_is_a_duplicate(org: Organisation) -> None:
    make_customer(org.rep, contacts=[{"name": "王伟", "mobile": "13812345678"}])
    other = make_customer(org.rep)
    with pytest.raises(services.DuplicateCustomer):
        services.contact_create(
            actor=org.rep, customer=other, data={"name": "王伟", "mobile": "13812345678"}
        )
    services.contact_create(
        actor=org.rep, customer=other, data={"name": "王伟", "mobile": "13812345678"}, force=True
    )


def test_merge_moves_every_related_row(org: Organisation) -> None:
    survivor = make_customer(
        org.rep, contacts=[{"name": "甲", "mobile": "13800000001"}], tags=["重点客户"]
    )
    merged = make_customer(
        org.colleague,
        contacts=[{"name": "乙", "mobile": "13800000002"}],
        tags=["制造业"],
        address="杭州市西湖区",
        credit_code=VALID_USCC[2],
    )
    services.customer_share(actor=org.colleague, customer=merged, user=org.hangzhou_rep)
    services.customer_change_status(actor=org.colleague, customer=merged, status="intent")
    with pytest.raises(Forbidden):
        services.customer_merge(actor=org.rep, survivor=survivor, merged=merged)
    merged_id = merged.pk
    services.customer_merge(
        actor=org.east_manager, survivor=survivor, merged=merged, reason="同一家公司"
    )
    assert not Customer.objects.filter(pk=merged_id).exists()
    assert sorted(survivor.contacts.values_list("name", flat=True)) == ["乙", "甲"]
    assert sorted(survivor.tags.values_list("name", flat=True)) == ["制造业", "重点客户"]
    assert survivor.shares.get().user == org.hangzhou_rep
    assert StatusChange.objects.filter(customer=survivor).count() == 3
    survivor.refresh_from_db()
    assert survivor.address == "杭州市西湖区"
    assert survivor.credit_code == VALID_USCC[2]
    assert "13800000002" in survivor.search_text
    reason = survivor.history.first().history_change_reason  # type: ignore[union-attr]
    assert "同一家公司" in reason or "Merged" in reason or "合并" in reason
    gone = Customer.history.filter(id=merged_id, history_type="-").get()
    assert gone.history_change_reason == reason


def test_grading_rules_hook_and_override(org: Organisation) -> None:
    customer = make_customer(org.rep, annual_budget=Decimal("600000"))
    assert customer.grade == "A"
    small = make_customer(org.rep)
    assert small.grade == "D"

    def orders(ids: Any) -> dict[int, grading.GradeInput]:
        return {small.pk: grading.GradeInput(Decimal(0), 3)} if small.pk in ids else {}

    grading.register_grade_input(orders)
    try:
        assert services.customer_recompute_grades() == 1
        assert services.customer_recompute_grades() == 0  # idempotent
    finally:
        grading.unregister_grade_input(orders)
    small.refresh_from_db()
    assert small.grade == "B"
    with pytest.raises(InvalidInput):
        services.customer_set_grade(actor=org.rep, customer=small, grade="A", reason="")
    services.customer_set_grade(actor=org.rep, customer=small, grade="A", reason="战略客户")
    small.refresh_from_db()
    assert small.effective_grade == "A"
    assert small.grade == "B"


def test_delete_is_admin_only(org: Organisation) -> None:
    customer = make_customer(org.rep)
    with pytest.raises(Forbidden):
        services.customer_delete(actor=org.east_manager, customer=customer)
    with pytest.raises(Forbidden):
        services.customer_delete(actor=org.colleague, customer=customer)
    services.customer_delete(actor=org.admin, customer=customer)
    assert not Customer.objects.exists()


def test_number_pattern_is_configurable(org: Organisation) -> None:
    config.put("customers.number_pattern", "B2B-{year}-{seq:03}")
    with time_machine.travel("2024-05-01 10:00 +08:00"):
        first = make_customer(org.rep)
        second = make_customer(org.rep, kind="individual")
    assert first.number == "B2B-2024-001"
    assert second.number == "B2B-2024-002"
    config.put("customers.number_pattern", "{kind}-{year}-{seq:04}")
    with time_machine.travel("2025-01-02 10:00 +08:00"):
        third = make_customer(org.rep, kind="individual")
    assert third.number == "B2C-2025-0001"


def test_contact_change_refreshes_search_and_stale_filter(org: Organisation) -> None:
    from kehu.customers import selectors

    with time_machine.travel("2024-01-01 10:00 +08:00"):
        customer = make_customer(org.rep, contacts=[{"name": "王伟"}])
    with time_machine.travel("2024-03-01 10:00 +08:00"):
        stale = selectors.customer_list(user=org.rep, filters=selectors.CustomerFilters(stale=True))
        assert list(stale) == [customer]
        services.contact_create(
            actor=org.rep, customer=customer, data={"name": "赵敏", "email": "zhao@ex.cn"}
        )
        stale = selectors.customer_list(user=org.rep, filters=selectors.CustomerFilters(stale=True))
        assert list(stale) == []
        found = selectors.customer_list(
            user=org.rep, filters=selectors.CustomerFilters(q="zhao@ex")
        )
        assert list(found) == [customer]


def test_unverified_filter(org: Organisation) -> None:
    from kehu.customers import selectors

    customer = make_customer(org.rep)
    services.customer_record_contact(customer=customer, when=timezone.now())
    flt = selectors.CustomerFilters(unverified=True)
    assert list(selectors.customer_list(user=org.rep, filters=flt)) == []
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        assert list(selectors.customer_list(user=org.rep, filters=flt)) == [customer]
        services.customer_mark_verified(actor=org.rep, customer=customer, via="phone")
        assert list(selectors.customer_list(user=org.rep, filters=flt)) == []


def test_completeness_is_kept_by_the_services_and_matches_the_migration(
    org: Organisation,
) -> None:
    import importlib

    from django.apps import apps

    from kehu.customers import selectors

    bare = make_customer(org.rep)
    assert bare.completeness == 13  # the name only: 1 of 8 key fields
    full = make_customer(
        org.rep,
        industry="34",
        region="310101",
        employees_band="50-300",
        source="referral",
        initial_need="需要CRM",
        address="上海",
        contacts=[{"name": "王伟", "mobile": "13812345678"}],
    )
    assert full.completeness == 100
    contact = full.contacts.get()
    services.contact_deactivate(actor=org.rep, contact=contact)
    full.refresh_from_db()
    assert full.completeness == 88
    assert selectors.team_completeness(user=org.rep) == {"percent": 50, "count": 2}
    expected = dict(Customer.objects.values_list("pk", "completeness"))
    Customer.objects.update(completeness=0)
    migration = importlib.import_module("kehu.customers.migrations.0004_customer_completeness")
    migration.fill_completeness(apps, None)
    assert dict(Customer.objects.values_list("pk", "completeness")) == expected


def test_grade_job_is_a_nightly_periodic_task() -> None:
    from datetime import datetime

    from huey.contrib.djhuey import HUEY

    from kehu.customers.tasks import recompute_customer_grades

    periodic = {task.name for task in HUEY._registry.periodic_tasks}
    assert "recompute_customer_grades" in periodic
    task = recompute_customer_grades.s()
    assert task.validate_datetime(datetime(2024, 5, 1, 2, 30))
    assert not task.validate_datetime(datetime(2024, 5, 1, 14, 30))


def test_region_is_derived_from_the_credit_code_when_empty(org: Organisation) -> None:
    hangzhou = services.customer_create(
        actor=org.rep, data={"name": "杭州某某科技有限公司", "credit_code": VALID_USCC[1]}
    )
    assert hangzhou.region_id == "330100"
    shanghai_given = services.customer_create(
        actor=org.rep,
        data={"name": "深圳某某电子有限公司", "credit_code": VALID_USCC[2], "region": "310000"},
    )
    assert shanghai_given.region_id == "310000"  # a region the user chose is kept


def test_panel_figures_agree_with_the_list_and_its_filters(org: Organisation) -> None:
    from kehu.customers.selectors import CustomerFilters

    full = make_customer(org.rep, industry="34", region="310101", source="referral", address="上海")
    old = make_customer(org.colleague)
    make_customer(org.hangzhou_rep, initial_need="需要CRM")
    make_customer(org.south_rep)  # outside the east manager's teams
    now = timezone.now()
    Customer.objects.filter(pk=full.pk).update(contact_info_updated_at=now - timedelta(days=400))
    Customer.objects.filter(pk=old.pk).update(
        verified_at=None, first_contact_at=now - timedelta(days=30)
    )
    manager = org.east_manager
    visible = Customer.objects.visible_to(manager)

    def listed(**filters: Any) -> int:
        return CustomerFilters(**filters).apply(visible).count()

    figures = selectors.panel_figures(user=manager)
    assert figures["customer_count"] == listed() == 3
    assert figures["stale"] == listed(stale=True) == 1
    assert figures["unverified"] == listed(unverified=True) >= 1
    assert figures["completeness"] == selectors.team_completeness(user=manager)["percent"]
    teams = {row["department"]: (row["count"], row["percent"]) for row in figures["departments"]}
    shanghai = [c.completeness for c in visible.filter(department=org.shanghai)]
    assert teams == {
        "上海组": (2, round(sum(shanghai) / 2)),
        "杭州组": (1, visible.get(department=org.hangzhou).completeness),
    }
