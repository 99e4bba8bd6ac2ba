"""Mailbox and ticket-form settings over the API and the pages: admin only, password write-only,
host checked, test connection against the real dovecot, bad input changes nothing."""

from __future__ import annotations

import json
from email.message import EmailMessage
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from kehu.core.testing.factories import Organisation, api_client
from kehu.service.models import Mailbox, Ticket, TicketWebForm
from kehu.service.tests.conftest import ImapServer

pytestmark = pytest.mark.django_db

API_QUERIES = 3  # the token, the rows (department joined, e-mails counted)
PAGE_QUERIES = 6  # the session, the user, the rows, the form's departments
REFUSED = {"The server refused the user name or password.", "服务器拒绝了用户名或密码。"}


def post(client: Client, url: str, data: dict[str, Any], method: str = "post") -> Any:
    return getattr(client, method)(
        f"/api/v1{url}", json.dumps(data), content_type="application/json"
    )


def mailbox_data(**values: Any) -> dict[str, Any]:
    return {
        "name": "售后邮箱",
        "host": "imap.example.cn",
        "port": 993,
        "username": "support@example.cn",
        "password": "s3cret-pw",
        "address": "support@example.cn",
        **values,
    }


def test_mailbox_crud_never_returns_the_password(org: Organisation) -> None:
    admin = api_client(org.admin)
    created = post(admin, "/mailboxes", mailbox_data(department_id=org.east.pk))
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["has_password"] is True
    assert "s3cret-pw" not in created.content.decode()
    assert body["department_name"] == "华东区"
    mailbox_id = body["id"]

    listed = admin.get("/api/v1/mailboxes")
    assert "s3cret-pw" not in listed.content.decode()
    assert [row["id"] for row in listed.json()] == [mailbox_id]

    # An empty password keeps the stored one; moving the folder forgets the UID bookmark.
    Mailbox.objects.filter(pk=mailbox_id).update(last_uid=42, uid_validity=7)
    changed = post(
        admin, f"/mailboxes/{mailbox_id}", {"password": "", "folder": "Support"}, "patch"
    )
    assert changed.status_code == 200, changed.content
    row = Mailbox.objects.get(pk=mailbox_id)
    assert (row.password, row.folder, row.last_uid, row.uid_validity) == (
        "s3cret-pw", "Support", 0, None,
    )  # fmt: skip
    post(admin, f"/mailboxes/{mailbox_id}", {"password": "new-pw"}, "patch")
    assert Mailbox.objects.get(pk=mailbox_id).password == "new-pw"

    assert admin.delete(f"/api/v1/mailboxes/{mailbox_id}").status_code == 204
    assert not Mailbox.objects.exists()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"host": "imap://example.cn"}, "host"),
        ({"host": "example.cn:993"}, "host"),
        ({"host": "bad host"}, "host"),
        ({"host": "999.1.1.1"}, "host"),
        ({"address": "not-an-address"}, "address"),
        ({"password": ""}, "password"),
        ({"department_id": 999999}, "department"),
    ],
)
def test_bad_mailbox_input_is_refused(
    org: Organisation, values: dict[str, Any], field: str
) -> None:
    answer = post(api_client(org.admin), "/mailboxes", mailbox_data(**values))
    assert answer.status_code == 422, answer.content
    assert field in answer.json().get("errors", {}), answer.json()
    assert not Mailbox.objects.exists()


def test_ip_literal_hosts_are_accepted(org: Organisation) -> None:
    admin = api_client(org.admin)
    assert post(admin, "/mailboxes", mailbox_data(host="10.0.0.5")).status_code == 201
    assert post(admin, "/mailboxes", mailbox_data(host="::1")).status_code == 201


def test_port_out_of_range_is_refused(org: Organisation) -> None:
    answer = post(api_client(org.admin), "/mailboxes", mailbox_data(port=70000))
    assert answer.status_code == 422
    assert not Mailbox.objects.exists()


def test_only_admins_manage_mailboxes_and_forms(org: Organisation) -> None:
    for user in (org.east_manager, org.service, org.rep, org.marketing):
        client = api_client(user)
        assert client.get("/api/v1/mailboxes").status_code == 403
        assert post(client, "/mailboxes", mailbox_data()).status_code == 403
        assert client.get("/api/v1/ticket-forms").status_code == 403
        assert post(client, "/ticket-forms", {"name": "x", "slug": "x"}).status_code == 403
        page = Client()
        page.force_login(user)
        assert page.get(reverse("service:mailboxes")).status_code == 403
        assert page.get(reverse("service:ticket_forms")).status_code == 403
    assert not Mailbox.objects.exists()
    assert not TicketWebForm.objects.exists()


def test_test_connection_against_the_real_server(
    imap_server: ImapServer, org: Organisation
) -> None:
    admin = api_client(org.admin)
    data = mailbox_data(host=imap_server.host, port=imap_server.port, use_ssl=False)
    data.update(username=imap_server.username, password=imap_server.password)
    mailbox_id = post(admin, "/mailboxes", data).json()["id"]

    answer = post(admin, f"/mailboxes/{mailbox_id}/test", {})
    assert answer.status_code == 200
    assert answer.json()["ok"] is True

    post(admin, f"/mailboxes/{mailbox_id}", {"password": "wrong"}, "patch")
    answer = post(admin, f"/mailboxes/{mailbox_id}/test", {})
    assert answer.json()["ok"] is False
    assert answer.json()["detail"] in REFUSED

    polled = post(admin, f"/mailboxes/{mailbox_id}/poll", {})
    assert polled.status_code == 200
    assert polled.json()["error"] in REFUSED
    assert admin.get(f"/api/v1/mailboxes/{mailbox_id}").json()["last_error"] in REFUSED


def test_mailbox_pages(imap_inbox: ImapServer, org: Organisation) -> None:
    imap_server = imap_inbox
    page = Client(HTTP_ACCEPT_LANGUAGE="en")
    page.force_login(org.admin)
    listed = page.get(reverse("service:mailboxes"))
    assert listed.status_code == 200
    form = {
        "name": "售后邮箱", "host": imap_server.host, "port": imap_server.port,
        "username": imap_server.username, "password": imap_server.password, "folder": "INBOX",
        "address": "support@kehu.test", "is_active": "on",
    }  # fmt: skip
    bad = page.post(reverse("service:mailboxes"), {**form, "host": "http://x"})
    assert bad.status_code == 200
    assert "without a scheme" in bad.content.decode()
    assert not Mailbox.objects.exists()

    created = page.post(reverse("service:mailboxes"), form)
    assert created.status_code == 302
    mailbox = Mailbox.objects.get()
    detail = page.get(reverse("service:mailbox", args=[mailbox.pk]))
    assert imap_server.password not in detail.content.decode()

    tested = page.post(
        reverse("service:mailbox", args=[mailbox.pk]), {"action": "test"}, follow=True
    )
    assert "Connected; the folder INBOX holds" in tested.content.decode()
    message = EmailMessage()
    message["From"] = "someone@unknown.example"
    message["Subject"] = "网页打不开"
    message["Message-ID"] = "<page-test@unknown.example>"
    message.set_content("打不开")
    imap_server.append(message)
    polled = page.post(
        reverse("service:mailbox", args=[mailbox.pk]), {"action": "poll"}, follow=True
    )
    assert polled.status_code == 200
    number = Ticket.objects.get().number
    assert "1 read: 1 new tickets, 0 replies." in polled.content.decode()
    assert number in polled.content.decode()  # the e-mails read, with their tickets
    deleted = page.post(reverse("service:mailbox", args=[mailbox.pk]), {"action": "delete"})
    assert deleted.status_code == 302
    assert not Mailbox.objects.exists()


def test_ticket_form_crud(org: Organisation) -> None:
    admin = api_client(org.admin)
    created = post(
        admin,
        "/ticket-forms",
        {
            "name": "在线报修",
            "slug": "repair",
            "default_type": "support",
            "department_id": org.east.pk,
        },
    )
    assert created.status_code == 201, created.content
    form_id = created.json()["id"]
    assert created.json()["url"] == "/service/forms/repair/"

    duplicate = post(admin, "/ticket-forms", {"name": "again", "slug": "repair"})
    assert duplicate.status_code == 422
    assert "slug" in duplicate.json()["errors"]
    for bad in ({"slug": "Not A Slug!"}, {"default_type": "nonsense"}, {"name": ""}):
        answer = post(admin, f"/ticket-forms/{form_id}", bad, "patch")
        assert answer.status_code == 422, (bad, answer.content)
    assert TicketWebForm.objects.get().name == "在线报修"

    changed = post(admin, f"/ticket-forms/{form_id}", {"is_active": False}, "patch")
    assert changed.json()["is_active"] is False
    assert admin.delete(f"/api/v1/ticket-forms/{form_id}").status_code == 204
    assert not TicketWebForm.objects.exists()


def test_lists_take_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    for number in range(6):
        Mailbox.objects.create(
            name=f"邮箱{number}", host="imap.example.cn", username="u", password="p",
            address="s@example.cn", department=org.east,
        )  # fmt: skip
        TicketWebForm.objects.create(name=f"表单{number}", slug=f"f{number}", department=org.east)
    admin = api_client(org.admin)
    page = Client()
    page.force_login(org.admin)
    admin.get("/api/v1/mailboxes")  # warm the token and session caches
    page.get(reverse("service:mailboxes"))
    with django_assert_max_num_queries(API_QUERIES):
        assert len(admin.get("/api/v1/mailboxes").json()) == 6
    with django_assert_max_num_queries(API_QUERIES):
        assert len(admin.get("/api/v1/ticket-forms").json()) == 6
    with django_assert_max_num_queries(PAGE_QUERIES):
        assert page.get(reverse("service:mailboxes")).status_code == 200
    with django_assert_max_num_queries(PAGE_QUERIES):
        assert page.get(reverse("service:ticket_forms")).status_code == 200
