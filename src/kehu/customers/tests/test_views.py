from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from kehu.core import config
from kehu.core.testing.factories import Organisation
from kehu.customers import services
from kehu.customers.models import Contact, Customer, CustomerAttachment, SavedFilter
from kehu.customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_list_search_by_pinyin_and_htmx_partial(org: Organisation) -> None:
    make_customer(org.rep, name="上海科技发展有限公司")
    make_customer(org.rep, name="北京贸易有限公司")
    client = client_for(org.rep)
    page = client.get("/customers/")
    assert page.status_code == 200
    assert "上海科技发展有限公司" in page.content.decode()
    partial = client.get(
        "/customers/", {"q": "shkj"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="customer-results"
    )
    body = partial.content.decode()
    assert "<html" not in body
    assert "上海科技发展有限公司" in body
    assert "北京贸易有限公司" not in body
    bad = client.get("/customers/", {"status": "nonsense"})
    assert bad.status_code == 200
    assert "北京贸易有限公司" in bad.content.decode()


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"created_from": "2024-13-45"}, "创建日期从"),
        ({"owner": "abc"}, "负责人"),
        ({"stale": "maybe", "tags": "x"}, "联系信息久未更新"),
        ({"sort": "salary"}, "排序"),
    ],
)
def test_list_names_refused_filters_by_their_labels(
    org: Organisation, query: dict[str, str], named: str
) -> None:
    make_customer(org.rep, name="北京贸易有限公司")
    client = client_for(org.rep)
    body = client.get("/customers/", query, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "部分筛选条件无效，已忽略" in body, body
    assert named in body
    assert "Input should be" not in body  # Pydantic's untranslated words
    assert "北京贸易有限公司" in body


def test_list_page_is_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    client = client_for(org.rep)
    make_customer(org.rep, tags=["甲"], contacts=[{"name": "王伟"}])
    client.get("/customers/")
    with django_assert_max_num_queries(30) as few:
        client.get("/customers/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="customer-results")
    for index in range(20):
        make_customer(org.rep, tags=["甲", f"乙{index}"], contacts=[{"name": f"王{index}"}])
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/customers/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="customer-results")


def test_create_with_contact_and_inline_errors(org: Organisation) -> None:
    client = client_for(org.rep)
    base = {"name": "杭州博创软件有限公司", "kind": "company", "status": "potential"}
    response = client.post(
        "/customers/new/", {**base, "contact_name": "王伟", "contact_mobile": "12"}
    )
    assert response.status_code == 200
    assert "不是有效的电话号码" in response.content.decode()
    assert not Customer.objects.exists()
    response = client.post(
        "/customers/new/",
        {
            **base,
            "industry": "I",
            "region": "330100",
            "contact_name": "王伟",
            "contact_mobile": "13812345678",
            "tags": "高意向客户，制造业",
        },
    )
    assert response.status_code == 302
    customer = Customer.objects.get()
    assert customer.contacts.get().mobile == "+8613812345678"
    assert sorted(customer.tags.values_list("name", flat=True)) == ["制造业", "高意向客户"]
    assert customer.industry_id == "I"


def test_unknown_codes_are_form_errors(org: Organisation) -> None:
    client = client_for(org.rep)
    response = client.post(
        "/customers/new/",
        {"name": "某公司", "kind": "company", "status": "potential", "industry": "ZZ"},
    )
    assert response.status_code == 200
    assert "ZZ" in response.content.decode()
    assert not Customer.objects.exists()


def test_duplicate_warning_links_only_what_the_user_may_open(org: Organisation) -> None:
    mine = make_customer(org.rep, name="苏州精工机械有限公司")
    make_customer(
        org.south_rep,
        name="广州精工机械有限公司",
        contacts=[{"name": "李", "mobile": "13900001111"}],
    )
    client = client_for(org.rep)
    response = client.post(
        "/customers/new/",
        {"name": "苏州精工机械有限公司", "kind": "company", "status": "potential"},
    )
    body = response.content.decode()
    assert f"/customers/{mine.pk}/" in body
    assert Customer.objects.count() == 2
    live = client.post(
        "/customers/check-duplicates/", {"name": "某某", "contact_mobile": "139 0000 1111"}
    ).content.decode()
    assert "您无权查看" in live
    assert str(org.south_rep) in live
    assert "广州精工机械" not in live
    forced = client.post(
        "/customers/new/",
        {"name": "苏州精工机械有限公司", "kind": "company", "status": "potential", "force": "on"},
    )
    assert forced.status_code == 302


def test_script_in_name_is_escaped(org: Organisation) -> None:
    customer = make_customer(org.rep, name="<script>alert('x')</script>公司")
    client = client_for(org.rep)
    for url in ("/customers/", f"/customers/{customer.pk}/"):
        body = client.get(url).content.decode()
        assert "<script>alert" not in body
        assert "&lt;script&gt;alert" in body


def test_edit_with_stale_version_changes_nothing(org: Organisation) -> None:
    customer = make_customer(org.rep, name="深圳腾飞电子有限公司")
    services.customer_update(actor=org.rep, customer=customer, changes={"address": "深圳"})
    client = client_for(org.rep)
    form = {
        "name": "深圳腾飞电子有限公司",
        "kind": "company",
        "status": "potential",
        "version": 1,
        "address": "别处",
    }
    response = client.post(f"/customers/{customer.pk}/edit/", form)
    assert response.status_code == 200
    assert 'id="form-errors"' in response.content.decode()
    customer.refresh_from_db()
    assert customer.address == "深圳"
    form["version"] = customer.version
    assert client.post(f"/customers/{customer.pk}/edit/", form).status_code == 302
    customer.refresh_from_db()
    assert customer.address == "别处"


def test_edit_with_an_invalid_tag_saves_nothing(org: Organisation) -> None:
    customer = make_customer(org.rep, name="深圳腾飞电子有限公司", tags=["老客户"])
    form = {
        "name": "深圳腾飞电子有限公司",
        "kind": "company",
        "status": "potential",
        "version": 1,
        "address": "别处",
        "tags": "新客户，" + "标" * 51,
    }
    response = client_for(org.rep).post(f"/customers/{customer.pk}/edit/", form)
    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.address, customer.version) == ("", 1)
    assert list(customer.tags.values_list("name", flat=True)) == ["老客户"]


def test_other_rep_gets_404_everywhere(org: Organisation, media: Path) -> None:
    customer = make_customer(org.rep, contacts=[{"name": "王伟"}])
    attachment = services.attachment_add(
        actor=org.rep, customer=customer, upload=SimpleUploadedFile("a.pdf", PDF)
    )
    contact = customer.contacts.get()
    client = client_for(org.colleague)
    for url in (
        f"/customers/{customer.pk}/",
        f"/customers/{customer.pk}/edit/",
        f"/customers/contacts/{contact.pk}/edit/",
        f"/customers/attachments/{attachment.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/customers/{customer.pk}/status/", {"status": "won"}).status_code == 404
    assert client.post(f"/customers/{customer.pk}/edit/", {"name": "x"}).status_code == 404
    customer.refresh_from_db()
    assert customer.status == "potential"


def test_sensitive_fields_are_hidden_in_the_ui(org: Organisation) -> None:
    customer = make_customer(org.rep, annual_budget="987654")
    services.customer_share(actor=org.rep, customer=customer, user=org.colleague, can_edit=True)
    assert "¥987,654" in client_for(org.rep).get(f"/customers/{customer.pk}/").content.decode()
    colleague = client_for(org.colleague)
    body = colleague.get(f"/customers/{customer.pk}/").content.decode()
    assert "987654" not in body
    assert "***" in body
    edit = colleague.get(f"/customers/{customer.pk}/edit/").content.decode()
    assert "annual_budget" not in edit


def test_detail_history_shows_customer_and_contact_changes(org: Organisation) -> None:
    customer = make_customer(org.rep, contacts=[{"name": "王伟"}])
    contact = customer.contacts.get()
    services.customer_update(actor=org.rep, customer=customer, changes={"address": "新地址123"})
    services.contact_update(actor=org.rep, contact=contact, changes={"title": "技术总监"})
    body = client_for(org.rep).get(f"/customers/{customer.pk}/?tab=history").content.decode()
    assert "新地址123" in body
    assert "技术总监" in body


def test_timeline_and_history_tabs_load_when_first_shown(org: Organisation) -> None:
    customer = make_customer(org.rep, annual_budget="987654")
    changes = {"address": "新地址123", "annual_budget": "123456"}
    services.customer_update(actor=org.rep, customer=customer, changes=changes)
    services.customer_share(actor=org.rep, customer=customer, user=org.colleague)
    rep, colleague = client_for(org.rep), client_for(org.colleague)
    page = rep.get(f"/customers/{customer.pk}/").content.decode()
    assert f'hx-get="/customers/{customer.pk}/tabs/history/"' in page
    assert f'hx-get="/customers/{customer.pk}/tabs/timeline/"' in page
    assert 'id="history"' not in page
    history = rep.get(f"/customers/{customer.pk}/tabs/history/")
    body = history.content.decode()
    assert history.status_code == 200
    assert "<html" not in body
    assert 'id="history"' in body
    assert "新地址123" in body
    assert "987654" in body  # the owner sees the budget's change
    shared = colleague.get(f"/customers/{customer.pk}/tabs/history/").content.decode()
    assert "新地址123" in shared
    assert "987654" not in shared
    timeline = rep.get(f"/customers/{customer.pk}/tabs/timeline/").content.decode()
    assert 'id="timeline"' in timeline
    other = make_customer(org.east_manager)
    assert rep.get(f"/customers/{other.pk}/tabs/history/").status_code == 404
    assert rep.get(f"/customers/{customer.pk}/tabs/attachments/").status_code == 404


def test_actions_from_the_detail_page(org: Organisation) -> None:
    customer = make_customer(org.rep)
    rep = client_for(org.rep)
    rep.post(f"/customers/{customer.pk}/status/", {"status": "intent", "reason": "有预算"})
    rep.post(f"/customers/{customer.pk}/verify/", {"via": "phone"})
    rep.post(f"/customers/{customer.pk}/grade/", {"grade": "A", "reason": "战略"})
    rep.post(f"/customers/{customer.pk}/contacts/", {"name": "赵敏", "mobile": "13811112222"})
    rep.post(f"/customers/{customer.pk}/share/", {"user": org.colleague.pk, "can_edit": "on"})
    customer.refresh_from_db()
    assert customer.status == "intent"
    assert customer.verified_via == "phone"
    assert customer.grade_override == "A"
    assert customer.contacts.get().mobile == "+8613811112222"
    assert customer.shares.get().can_edit
    contact = customer.contacts.get()
    rep.post(f"/customers/contacts/{contact.pk}/deactivate/")
    contact.refresh_from_db()
    assert not contact.is_active
    # reps cannot reassign; managers can
    rep.post(f"/customers/{customer.pk}/reassign/", {"owner": org.colleague.pk, "reason": "x"})
    customer.refresh_from_db()
    assert customer.owner == org.rep
    manager = client_for(org.east_manager)
    manager.post(
        f"/customers/{customer.pk}/reassign/", {"owner": org.colleague.pk, "reason": "调整"}
    )
    customer.refresh_from_db()
    assert customer.owner == org.colleague
    other = make_customer(org.hangzhou_rep)
    manager.post(
        f"/customers/{customer.pk}/merge/", {"merged_number": other.number, "reason": "重复"}
    )
    assert not Customer.objects.filter(pk=other.pk).exists()
    # only admins delete: the manager's refusal is the 403 page
    assert client_for(org.east_manager).post(f"/customers/{customer.pk}/delete/").status_code == 403
    assert Customer.objects.filter(pk=customer.pk).exists()
    client_for(org.admin).post(f"/customers/{customer.pk}/delete/")
    assert not Customer.objects.filter(pk=customer.pk).exists()


def test_attachments_types_size_and_download(org: Organisation, media: Path) -> None:
    customer = make_customer(org.rep)
    client = client_for(org.rep)
    url = f"/customers/{customer.pk}/attachments/"
    client.post(url, {"file": SimpleUploadedFile("意向书.pdf", PDF), "description": "意向书"})
    attachment = CustomerAttachment.objects.get()
    assert attachment.original_name == "意向书.pdf"
    assert attachment.size == len(PDF)
    assert attachment.content_type == "application/pdf"
    assert attachment.uploaded_by == org.rep
    client.post(url, {"file": SimpleUploadedFile("virus.exe", b"MZ\x90\x00")})
    client.post(url, {"file": SimpleUploadedFile("fake.pdf", b"MZ\x90\x00 not a pdf")})
    config.put("customers.attachment_max_mb", 1)
    client.post(url, {"file": SimpleUploadedFile("big.txt", b"x" * (1024 * 1024 + 1))})
    assert CustomerAttachment.objects.count() == 1
    download = client.get(f"/customers/attachments/{attachment.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF  # type: ignore[attr-defined]
    assert "attachment" in download["Content-Disposition"]
    services.customer_share(actor=org.rep, customer=customer, user=org.colleague)
    assert (
        client_for(org.colleague).get(f"/customers/attachments/{attachment.pk}/").status_code == 200
    )
    assert (
        client_for(org.south_rep).get(f"/customers/attachments/{attachment.pk}/").status_code == 404
    )
    client.post(f"/customers/attachments/{attachment.pk}/delete/")
    assert not CustomerAttachment.objects.exists()


def test_bulk_tag_and_reassign(org: Organisation) -> None:
    first = make_customer(org.rep)
    second = make_customer(org.rep)
    foreign = make_customer(org.south_rep)
    rep = client_for(org.rep)
    rep.post(
        "/customers/bulk/",
        {"action": "tag", "tags": "重点客户", "selected": [first.pk, second.pk, foreign.pk]},
    )
    assert first.tags.get().name == "重点客户"
    assert second.tags.get().name == "重点客户"
    assert not foreign.tags.exists()
    manager = client_for(org.east_manager)
    manager.post(
        "/customers/bulk/",
        {
            "action": "reassign",
            "owner": org.hangzhou_rep.pk,
            "reason": "区域调整",
            "selected": [first.pk, second.pk],
        },
    )
    assert set(Customer.objects.filter(owner=org.hangzhou_rep).values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
    }


def test_bulk_actions_change_all_selected_customers_or_none(org: Organisation) -> None:
    own = make_customer(org.rep)
    read_only = make_customer(org.colleague, name="只读共享客户")
    services.customer_share(actor=org.colleague, customer=read_only, user=org.rep)
    rep = client_for(org.rep)
    response = rep.post(
        "/customers/bulk/",
        {"action": "tag", "tags": "重点客户", "selected": [own.pk, read_only.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "只读共享客户：您无权修改该客户。所选客户均未更改。" in page
    assert not own.tags.exists()
    assert not read_only.tags.exists()

    manager = client_for(org.east_manager)
    response = manager.post(
        "/customers/bulk/",
        {"action": "reassign", "owner": org.hangzhou_rep.pk, "reason": "", "selected": [own.pk]},
        follow=True,
    )
    assert "请填写转移原因。所选客户均未更改。" in response.content.decode()
    assert Customer.objects.get(pk=own.pk).owner == org.rep


def test_saved_filters(org: Organisation) -> None:
    client = client_for(org.rep)
    client.post("/customers/filters/", {"name": "我的意向客户", "query": "status=intent"})
    saved = SavedFilter.objects.get(user=org.rep)
    assert saved.query == "status=intent"
    assert "我的意向客户" in client.get("/customers/").content.decode()
    assert "我的意向客户" not in client_for(org.colleague).get("/customers/").content.decode()
    client_for(org.colleague).post(f"/customers/filters/{saved.pk}/delete/")
    assert SavedFilter.objects.filter(pk=saved.pk).exists()
    client.post(f"/customers/filters/{saved.pk}/delete/")
    assert not SavedFilter.objects.exists()


def test_dashboard_panel_and_grade_job(org: Organisation) -> None:
    make_customer(org.rep, annual_budget="600000")
    Customer.objects.update(grade="")
    from kehu.customers.tasks import recompute_customer_grades

    recompute_customer_grades.call_local()
    assert Customer.objects.get().grade == "A"
    body = client_for(org.rep).get("/").content.decode()
    assert "customers-panel" in body


def test_customer_picker_offers_only_customers_the_user_may_edit(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    from kehu.customers.models import CustomerShare
    from kehu.customers.selectors import PICK_LIMIT

    mine = make_customer(org.rep, name="上海瑞德电子有限公司")
    shared_read = make_customer(org.colleague, name="上海瑞德物流有限公司")
    CustomerShare.objects.create(customer=shared_read, user=org.rep, can_edit=False)
    shared_edit = make_customer(org.colleague, name="苏州瑞德机械有限公司")
    CustomerShare.objects.create(customer=shared_edit, user=org.rep, can_edit=True)
    make_customer(org.south_rep, name="深圳瑞德有限公司")
    client = client_for(org.rep)
    with django_assert_max_num_queries(8):
        options = client.get("/customers/pick/", {"q": "瑞德"}).content.decode()
    assert f'value="{mine.pk}"' in options
    assert f'value="{shared_edit.pk}"' in options
    assert f'value="{shared_read.pk}"' not in options
    assert "深圳" not in options
    assert options.index("苏州") < options.index("上海")  # the newest first
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    none = client.get("/customers/pick/", {"q": "不存在"}).content.decode()
    assert "No customer you may edit matches." in none
    for index in range(PICK_LIMIT + 3):
        make_customer(org.rep, name=f"杭州客户{index:02d}有限公司")
    newest = client.get("/customers/pick/").content.decode()
    assert newest.count("<option") == PICK_LIMIT
    assert f"杭州客户{PICK_LIMIT + 2:02d}" in newest


@pytest.mark.parametrize("version", [None, "", "abc", "-1", "1.0", "１", "9" * 40])
def test_contact_edit_without_a_valid_version_writes_nothing(
    org: Organisation, version: str | None
) -> None:
    customer = make_customer(org.rep)
    contact = Contact.objects.create(customer=customer, name="张经理", title="经理")
    body = {"name": "张经理", "title": "总监"}
    if version is not None:
        body["version"] = version
    answer = client_for(org.rep).post(f"/customers/contacts/{contact.pk}/edit/", body)
    assert answer.status_code == 409
    assert "reload" in answer.content.decode().lower() or "重新" in answer.content.decode()
    contact.refresh_from_db()
    assert (contact.title, contact.version) == ("经理", 1)
    # with the version it was read at, the edit goes through
    body["version"] = str(contact.version)
    assert (
        client_for(org.rep).post(f"/customers/contacts/{contact.pk}/edit/", body).status_code == 302
    )
    contact.refresh_from_db()
    assert contact.title == "总监"
