"""Segments: the condition engine (every field, nested groups, validation with paths), the
access gate on counts and previews, masking, static lists and their import, the API."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from kehu.analytics.models import CustomerScore
from kehu.campaigns.models import Segment, SegmentEntry
from kehu.campaigns.selectors import segments as selectors
from kehu.campaigns.services import segments as services
from kehu.core.errors import Forbidden, InvalidInput, NotFound, StaleVersion
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers.models import Contact, Customer, Tag
from kehu.customers.tests.factories import make_customer
from kehu.leads import services as lead_services
from kehu.service.models import Survey, Ticket

pytestmark = pytest.mark.django_db


def cond(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


def all_of(*items: Any) -> dict[str, Any]:
    return {"match": "all", "conditions": list(items)}


def any_of(*items: Any) -> dict[str, Any]:
    return {"match": "any", "conditions": list(items)}


def ids(rows: Any) -> set[int]:
    return set(rows.values_list("pk", flat=True))


@pytest.fixture
def book(org: Organisation) -> dict[str, Customer]:
    """Five customers of three owners with different industries, regions, tags, contacts."""
    Tag.objects.get_or_create(name="VIP")
    Tag.objects.get_or_create(name="展会")
    made = {
        "maker": make_customer(
            org.rep,
            name="上海精工制造",
            industry="13",  # 农副食品加工业, under C (制造业)
            region="310000",
            status="won",
            employees_band="50-300",
            source="trade_show",
            tags=["VIP", "展会"],
            contacts=[
                {
                    "name": "王伟",
                    "title": "采购总监",
                    "mobile": "13800138001",
                    "email": "wang@jinggong.cn",
                    "is_decision_maker": True,
                    "is_primary": True,
                },
                {"name": "李娜", "title": "助理", "work_phone": "021-55550001"},
            ],
        ),
        "trader": make_customer(
            org.rep,
            name="上海恒泰商贸",
            industry="F",
            region="310000",
            status="intent",
            employees_band="lt50",
            source="website",
            tags=["VIP"],
        ),
        "hangzhou": make_customer(
            org.hangzhou_rep,
            name="杭州博创科技",
            industry="C",
            region="330100",
            status="potential",
            source="referral",
        ),
        "south": make_customer(
            org.south_rep,
            name="深圳腾飞电子",
            industry="39",
            region="440300",
            status="won",
            source="trade_show",
            contacts=[{"name": "赵敏", "mobile": "13900139002", "email": "zhao@tengfei.cn"}],
        ),
        "churned": make_customer(org.rep, name="上海嘉和", status="churned", source="other"),
    }
    now = timezone.now()
    Customer.objects.filter(pk=made["maker"].pk).update(last_contact_at=now - timedelta(days=3))
    Customer.objects.filter(pk=made["trader"].pk).update(last_contact_at=now - timedelta(days=100))
    Customer.objects.filter(pk=made["south"].pk).update(
        last_contact_at=now - timedelta(days=20), created_at=now - timedelta(days=400)
    )
    return made


def count(org: Organisation, tree: dict[str, Any], target: str = "customers") -> set[int]:
    return ids(selectors.rows_for(target, tree, org.admin))


def test_choice_fields_and_groups(org: Organisation, book: dict[str, Customer]) -> None:
    pk = {name: row.pk for name, row in book.items()}
    assert count(org, all_of(cond("status", "in", ["won"]))) == {pk["maker"], pk["south"]}
    assert count(org, all_of(cond("status", "not_in", ["won", "churned"]))) == {
        pk["trader"],
        pk["hangzhou"],
    }
    # industry C includes its divisions 13 and 39
    assert count(org, all_of(cond("industry", "in", ["C"]))) == {
        pk["maker"],
        pk["hangzhou"],
        pk["south"],
    }
    # region 330000 (浙江) includes 杭州
    assert count(org, all_of(cond("region", "in", ["330000"]))) == {pk["hangzhou"]}
    assert count(org, all_of(cond("employees", "in", ["lt50"]))) == {pk["trader"]}
    # nested: (won AND trade show) OR (intent AND tag VIP)
    tree = any_of(
        all_of(cond("status", "in", ["won"]), cond("source", "in", ["trade_show"])),
        all_of(cond("status", "in", ["intent"]), cond("tags", "any_of", ["VIP"])),
    )
    assert count(org, tree) == {pk["maker"], pk["south"], pk["trader"]}
    assert count(org, all_of(cond("tags", "all_of", ["VIP", "展会"]))) == {pk["maker"]}
    assert pk["maker"] not in count(org, all_of(cond("tags", "none_of", ["展会"])))
    assert count(org, all_of(cond("owner", "in", [org.hangzhou_rep.pk]))) == {pk["hangzhou"]}
    # department 华东区 includes 上海组 and 杭州组
    east = count(org, all_of(cond("department", "in", [org.east.pk])))
    assert east == {pk["maker"], pk["trader"], pk["hangzhou"], pk["churned"]}
    assert count(org, all_of(cond("customer_name", "contains", "恒泰"))) == {pk["trader"]}
    assert count(org, {}) == set(pk.values())


def test_dates_satisfaction_and_churn(org: Organisation, book: dict[str, Customer]) -> None:
    pk = {name: row.pk for name, row in book.items()}
    assert count(org, all_of(cond("last_contact", "within_days", 30))) == {
        pk["maker"],
        pk["south"],
    }
    assert count(org, all_of(cond("last_contact", "older_than_days", 30))) == {
        pk["trader"],
        pk["hangzhou"],
        pk["churned"],
    }
    assert count(org, all_of(cond("last_contact", "never"))) == {pk["hangzhou"], pk["churned"]}
    today = timezone.localdate()
    span = [(today - timedelta(days=25)).isoformat(), (today - timedelta(days=1)).isoformat()]
    assert count(org, all_of(cond("last_contact", "between", span))) == {pk["maker"], pk["south"]}
    assert pk["south"] in count(org, all_of(cond("created", "before", today.isoformat())))
    assert pk["south"] not in count(org, all_of(cond("created", "within_days", 30)))

    ticket_of = {}
    for name in ("maker", "trader"):
        ticket_of[name] = Ticket.objects.create(
            number=f"T-{name}", customer=book[name], subject="问题", content="问题"
        )
    now = timezone.now()
    for name, scores in (("maker", [2, 5]), ("trader", [5, 1])):
        for offset, score in enumerate(scores):
            Survey.objects.create(
                ticket=ticket_of[name],
                customer=book[name],
                nonce=f"{name}{offset}",
                expires_at=now + timedelta(days=7),
                answered_at=now - timedelta(days=10 - offset),
                score=score,
            )
    assert count(org, all_of(cond("satisfaction", "latest_gte", 4))) == {pk["maker"]}
    assert count(org, all_of(cond("satisfaction", "latest_lte", 2))) == {pk["trader"]}
    assert count(org, all_of(cond("satisfaction", "average_gte", 3))) == {pk["maker"], pk["trader"]}
    assert count(org, all_of(cond("satisfaction", "average_lte", 3))) == {
        pk["trader"]
    }  # 3.0; maker 3.5

    CustomerScore.objects.create(customer=book["trader"], churn_score=80)
    CustomerScore.objects.create(customer=book["maker"], churn_score=10)
    assert count(org, all_of(cond("churn_score", "gte", 60))) == {pk["trader"]}
    assert count(org, all_of(cond("churn_score", "lte", 60))) == {pk["maker"]}


def test_contact_and_lead_targets(org: Organisation, book: dict[str, Customer]) -> None:
    wang = Contact.objects.get(name="王伟")
    li = Contact.objects.get(name="李娜")
    zhao = Contact.objects.get(name="赵敏")
    assert count(org, all_of(cond("decision_maker", "is", True)), "contacts") == {wang.pk}
    assert count(org, all_of(cond("has_email", "is", False)), "contacts") == {li.pk}
    assert count(org, all_of(cond("has_mobile", "is", True)), "contacts") == {wang.pk, zhao.pk}
    assert count(org, all_of(cond("title", "contains", "总监")), "contacts") == {wang.pk}
    # a customer field on a contacts segment: the contacts of won customers in 上海
    tree = all_of(cond("status", "in", ["won"]), cond("region", "in", ["310000"]))
    assert count(org, tree, "contacts") == {wang.pk, li.pk}
    assert count(org, all_of(cond("tags", "any_of", ["VIP"])), "contacts") == {wang.pk, li.pk}

    lead = lead_services.lead_capture(
        actor=None,
        data={"contact_name": "钱多", "mobile": "13700137000", "source": "website"},
    )
    lead_services.lead_capture(
        actor=None,
        data={"contact_name": "孙立", "email": "sun@x.cn", "source": "trade_show"},
    )
    leads = all_of(cond("source", "in", ["website"]), cond("has_mobile", "is", True))
    assert count(org, leads, "leads") == {lead.pk}
    assert count(org, all_of(cond("lead_status", "in", ["pool"])), "leads") >= {lead.pk}


@pytest.mark.parametrize(
    ("tree", "path", "word"),
    [
        (all_of(cond("colour", "in", ["red"])), "conditions.conditions[0].field", "colour"),
        (all_of(cond("status", "gte", 3)), "conditions.conditions[0].op", "gte"),
        (all_of(cond("status", "in", "won")), "conditions.conditions[0].value", "status"),
        (all_of(cond("status", "in", ["gold"])), "conditions.conditions[0].value", "gold"),
        (
            all_of(cond("status", "in", ["won"]), any_of(cond("last_contact", "within_days", "x"))),
            "conditions.conditions[1].conditions[0].value",
            "last_contact",
        ),
        (all_of(cond("industry", "in", ["ZZ"])), "conditions.conditions[0].value", "ZZ"),
        (all_of(cond("tags", "any_of", ["没有的标签"])), "conditions.conditions[0].value", "没有"),
        (all_of(cond("churn_score", "gte", 101)), "conditions.conditions[0].value", "churn"),
        (
            all_of(cond("created", "between", ["2026-02-01", "2026-01-01"])),
            "conditions.conditions[0].value",
            "created",
        ),
        (
            all_of(cond("decision_maker", "is", True)),
            "conditions.conditions[0].field",
            "decision_maker",
        ),
        ({"match": "some", "conditions": []}, "conditions.match", "all"),
        (all_of("status"), "conditions.conditions[0]", "field"),
    ],
)
def test_bad_conditions_name_the_path(
    org: Organisation, tree: dict[str, Any], path: str, word: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        selectors.rows_for("customers", tree, org.admin)
    assert list(caught.value.errors) == [path]
    assert word in caught.value.errors[path][0]
    before = Segment.objects.count()
    response = api_client(org.marketing).post(
        "/api/v1/segments",
        {"name": "坏的", "conditions": tree},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert path in response.json()["errors"]
    assert Segment.objects.count() == before


def test_deep_nesting_is_refused(org: Organisation) -> None:
    tree: dict[str, Any] = all_of(cond("status", "in", ["won"]))
    for _level in range(selectors.MAX_DEPTH):
        tree = all_of(tree)
    with pytest.raises(InvalidInput):
        selectors.validate("customers", tree)


def test_counts_follow_the_viewers_scope(org: Organisation, book: dict[str, Customer]) -> None:
    segment = services.segment_create(
        actor=org.marketing,
        data={"name": "成交客户", "conditions": all_of(cond("status", "in", ["won"]))},
    )
    assert selectors.segment_count(segment, org.marketing) == 2  # marketing reads every customer
    manager_segment = services.segment_create(
        actor=org.east_manager,
        data={"name": "华东成交", "conditions": all_of(cond("status", "in", ["won"]))},
    )
    assert manager_segment.department_id == org.east.pk
    assert selectors.segment_count(manager_segment, org.east_manager) == 1  # not 华南's
    assert selectors.segment_count(manager_segment, org.south_manager) == 1  # their own only
    contacts, leads = selectors.segment_people(segment, org.marketing)
    assert set(contacts.values_list("name", flat=True)) == {"王伟", "李娜", "赵敏"}
    assert not leads.exists()
    primary, _leads = selectors.segment_people(segment, org.marketing, primary_only=True)
    assert set(primary.values_list("name", flat=True)) == {"王伟", "赵敏"}  # 赵敏: the only one


def test_who_may_manage_segments(org: Organisation) -> None:
    with pytest.raises(Forbidden):
        services.segment_create(actor=org.rep, data={"name": "我的"})
    with pytest.raises(Forbidden):
        services.segment_create(actor=org.service, data={"name": "我的"})
    mine = services.segment_create(
        actor=org.marketing, data={"name": "全部", "department_id": org.east.pk}
    )
    assert selectors.segment_get(user=org.east_manager, segment_id=mine.pk) is not None
    assert selectors.segment_get(user=org.south_manager, segment_id=mine.pk) is None
    with pytest.raises(NotFound):
        services.segment_update(actor=org.south_manager, segment_id=mine.pk, data={}, version=None)
    with pytest.raises(InvalidInput):
        services.segment_create(
            actor=org.east_manager, data={"name": "别人的", "department_id": org.south.pk}
        )


def test_update_checks_the_version_and_keeps_target(org: Organisation) -> None:
    segment = services.segment_create(actor=org.marketing, data={"name": "A"})
    changed = services.segment_update(
        actor=org.marketing,
        segment_id=segment.pk,
        data={"name": "B", "conditions": all_of(cond("grade", "in", ["A"]))},
        version=segment.version,
    )
    assert changed.version == segment.version + 1
    with pytest.raises(StaleVersion):
        services.segment_update(
            actor=org.marketing, segment_id=segment.pk, data={"name": "C"}, version=segment.version
        )
    with pytest.raises(InvalidInput) as caught:
        services.segment_update(
            actor=org.marketing, segment_id=segment.pk, data={"target": "leads"}, version=None
        )
    assert "target" in caught.value.errors


def test_preview_masks_contacts_for_marketing(org: Organisation, book: dict[str, Customer]) -> None:
    segment = services.segment_create(
        actor=org.marketing,
        data={
            "name": "决策人",
            "target": "contacts",
            "conditions": all_of(cond("decision_maker", "is", True)),
        },
    )
    rows = selectors.preview(
        "contacts", selectors.segment_rows(segment, org.marketing), org.marketing
    )
    assert rows[0]["name"] == "王伟"
    assert rows[0]["mobile"] == "138****8001"
    assert "***" in rows[0]["email"]
    assert rows[0]["masked"]
    admin_rows = selectors.preview(
        "contacts", selectors.segment_rows(segment, org.admin), org.admin
    )
    assert admin_rows[0]["mobile"] == "+8613800138001"
    assert not admin_rows[0]["masked"]
    response = api_client(org.marketing).get(f"/api/v1/segments/{segment.pk}/preview")
    assert response.status_code == 200
    assert response.json()["items"][0]["mobile"] == "138****8001"
    assert response.json()["count"] == 1


def test_preview_is_a_fixed_number_of_queries(
    org: Organisation, book: dict[str, Customer], django_assert_max_num_queries: Any
) -> None:
    segment = services.segment_create(
        actor=org.marketing, data={"name": "全部联系人", "target": "contacts"}
    )
    for n in range(30):
        make_customer(org.rep, contacts=[{"name": f"人{n}", "mobile": f"1360013{n:04d}"}])
    with django_assert_max_num_queries(3):
        rows = selectors.preview(
            "contacts", selectors.segment_rows(segment, org.marketing), org.marketing
        )
    assert len(rows) == 33
    client = api_client(org.marketing)
    with django_assert_max_num_queries(10):
        assert client.get("/api/v1/segments?limit=100").status_code == 200


def test_static_list_pick_and_import(org: Organisation, book: dict[str, Customer]) -> None:
    segment = services.segment_create(actor=org.marketing, data={"name": "名单", "kind": "static"})
    result = services.entries_add(
        actor=org.marketing,
        segment_id=segment.pk,
        ids=[book["maker"].pk, book["maker"].pk, 99999999],
    )
    assert result == {"added": 1, "already": 0, "not_found": 1}
    csv = "客户编号\n{}\n13900139002\nWANG@jinggong.cn\nnot a thing!\n13000000000\n".format(
        book["trader"].number
    )
    imported = services.entries_import(
        actor=org.marketing, segment_id=segment.pk, name="list.csv", content=csv.encode()
    )
    assert imported.added == 2  # trader by number, south by phone; maker is in already
    assert imported.already == 1
    assert [error["row"] for error in imported.errors] == [5, 6]
    assert ids(selectors.segment_rows(segment, org.marketing)) == {
        book["maker"].pk,
        book["trader"].pk,
        book["south"].pk,
    }
    # the east manager sees only the list's rows in their departments
    assert selectors.segment_count(segment, org.admin) == 3

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["邮箱"])
    sheet.append(["zhao@tengfei.cn"])
    sheet.append(["nobody@nowhere.cn"])
    data = io.BytesIO()
    workbook.save(data)
    contacts = services.segment_create(
        actor=org.marketing, data={"name": "联系人名单", "kind": "static", "target": "contacts"}
    )
    upload = io.BytesIO(data.getvalue())
    upload.name = "list.xlsx"
    response = api_client(org.marketing).post(
        f"/api/v1/segments/{contacts.pk}/entries/import", {"file": upload}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["added"] == 1
    assert [(e["row"], e["value"]) for e in body["errors"]] == [(3, "nobody@nowhere.cn")]
    assert body["errors"][0]["error"]
    assert SegmentEntry.objects.filter(segment=contacts).count() == 1

    bad = io.BytesIO(b"\x00\x01garbage")
    bad.name = "list.xlsx"
    response = api_client(org.marketing).post(
        f"/api/v1/segments/{contacts.pk}/entries/import", {"file": bad}
    )
    assert response.status_code == 422
    assert "file" in response.json()["errors"]

    removed = services.entries_remove(
        actor=org.marketing, segment_id=segment.pk, ids=[book["maker"].pk]
    )
    assert removed == 1


def test_api_round_trip(org: Organisation, book: dict[str, Customer]) -> None:
    client = api_client(org.marketing)
    tree = all_of(cond("status", "in", ["won"]), any_of(cond("industry", "in", ["C"])))
    response = client.post(
        "/api/v1/segments",
        {"name": "制造业成交", "conditions": tree},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    segment = response.json()
    assert client.get(f"/api/v1/segments/{segment['id']}/count").json() == {"count": 2}
    draft = client.post(
        "/api/v1/segments/count",
        {"target": "customers", "conditions": all_of(cond("status", "in", ["intent"]))},
        content_type="application/json",
    )
    assert draft.json() == {"count": 1}
    stale = client.patch(
        f"/api/v1/segments/{segment['id']}",
        {"version": segment["version"] + 5, "name": "x"},
        content_type="application/json",
    )
    assert stale.status_code == 409
    patched = client.patch(
        f"/api/v1/segments/{segment['id']}",
        {"version": segment["version"], "name": "改名"},
        content_type="application/json",
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "改名"
    listed = client.get("/api/v1/segments").json()
    assert listed["count"] == 1
    assert listed["items"][0]["last_count"] == 2
    fields = client.get("/api/v1/segments/fields?target=contacts").json()
    assert {"decision_maker", "tags", "satisfaction"} <= {row["name"] for row in fields}
    assert client.get("/api/v1/segments/fields?target=planets").status_code == 422
    assert api_client(org.rep).get(f"/api/v1/segments/{segment['id']}").status_code == 404
    assert client.delete(f"/api/v1/segments/{segment['id']}").status_code == 204
    assert not Segment.objects.filter(pk=segment["id"]).exists()


def test_pages_build_count_and_preview(org: Organisation, book: dict[str, Customer]) -> None:
    client = Client()
    client.force_login(org.marketing)
    assert client.get(reverse("campaigns:segments")).status_code == 200
    page = client.get(reverse("campaigns:segment_create"))
    assert page.status_code == 200
    assert b"segment-catalogue" in page.content
    tree = json.dumps(all_of(cond("decision_maker", "is", True)))
    live = client.post(
        reverse("campaigns:segment_count"), {"target": "contacts", "conditions": tree}
    )
    assert live.status_code == 200
    assert "1" in live.content.decode()
    wrong = client.post(
        reverse("campaigns:segment_count"),
        {"target": "customers", "conditions": json.dumps(all_of(cond("colour", "in", ["x"])))},
    )
    assert "conditions.conditions[0].field" in wrong.content.decode()
    refused = client.post(
        reverse("campaigns:segment_create"),
        {"name": "坏", "target": "customers", "kind": "dynamic", "conditions": "{not json"},
    )
    assert refused.status_code == 200
    assert not Segment.objects.filter(name="坏").exists()
    saved = client.post(
        reverse("campaigns:segment_create"),
        {"name": "决策人", "target": "contacts", "kind": "dynamic", "conditions": tree},
    )
    assert saved.status_code == 302
    segment = Segment.objects.get(name="决策人")
    detail = client.get(reverse("campaigns:segment_detail", args=[segment.pk]))
    text = detail.content.decode()
    assert "王伟" in text
    assert "138****8001" in text
    assert "13800138001" not in text
    rep = Client()
    rep.force_login(org.rep)
    assert rep.get(reverse("campaigns:segments")).status_code == 403
    assert rep.get(reverse("campaigns:segment_detail", args=[segment.pk])).status_code == 404


def test_pick_rows_into_a_static_list(org: Organisation, book: dict[str, Customer]) -> None:
    client = Client()
    client.force_login(org.marketing)
    picked = [book["maker"].pk, book["south"].pk]
    form = client.get(reverse("campaigns:segment_pick"), {"target": "customers", "ids": picked})
    assert form.status_code == 200
    empty = client.post(reverse("campaigns:segment_pick"), {"target": "customers", "name": "x"})
    assert "pick-error" in empty.content.decode()
    assert not Segment.objects.filter(name="x").exists()
    made = client.post(
        reverse("campaigns:segment_pick"),
        {"target": "customers", "ids": picked, "name": "展会跟进"},
    )
    assert made.status_code == 302
    segment = Segment.objects.get(name="展会跟进")
    assert segment.kind == "static"
    assert ids(selectors.segment_rows(segment, org.marketing)) == set(picked)
    again = client.post(
        reverse("campaigns:segment_pick"),
        {"target": "customers", "ids": [book["trader"].pk], "segment": segment.pk},
    )
    assert again.status_code == 302
    assert selectors.segment_count(segment, org.marketing) == 3
