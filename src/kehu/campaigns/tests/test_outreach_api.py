"""The outreach API: templates with merge-field errors named, preview per member, sends with
skipped counts, per-recipient status masked as the viewer sees the person, list query bounds."""

from __future__ import annotations

from typing import Any

import pytest

from kehu.campaigns.models import ConsentStatus, MessageTemplate, Send
from kehu.campaigns.tests.outreach_support import (
    add_contact_member,
    make_campaign,
    make_template,
    smtp_sink,
)
from kehu.core.testing.factories import Organisation, api_client

pytestmark = pytest.mark.django_db

TEMPLATE = {
    "name": "研讨会邀请",
    "channel": "email",
    "subject": "{{ 称呼 }}，诚邀您参加{{ campaign }}",
    "body": "{{ salutation }}您好，\n{{ company }}……\n{{ owner_name }} {{ owner_phone }}",
}


def test_template_crud_and_unknown_field_named(org: Organisation) -> None:
    client = api_client(org.marketing)
    bad = client.post(
        "/api/v1/templates",
        {**TEMPLATE, "body": "{{ salutaton }}"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    (message,) = bad.json()["errors"]["body"]
    assert "{{ salutaton }}" in message
    assert not MessageTemplate.objects.exists()
    made = client.post("/api/v1/templates", TEMPLATE, content_type="application/json")
    assert made.status_code == 201
    body = made.json()
    assert body["merge_fields"] == [
        "称呼",
        "campaign",
        "salutation",
        "company",
        "owner_name",
        "owner_phone",
    ]
    stale = client.patch(
        f"/api/v1/templates/{body['id']}",
        {"version": body["version"] + 5, "name": "x"},
        content_type="application/json",
    )
    assert stale.status_code == 409
    changed = client.patch(
        f"/api/v1/templates/{body['id']}",
        {"version": body["version"], "subject": "{{ nope }}"},
        content_type="application/json",
    )
    assert changed.status_code == 422
    assert "subject" in changed.json()["errors"]
    listed = client.get("/api/v1/templates?channel=email").json()
    assert listed["count"] == 1
    assert client.delete(f"/api/v1/templates/{body['id']}").status_code == 204


def test_email_needs_a_subject_and_reps_do_not_write(org: Organisation) -> None:
    answer = api_client(org.marketing).post(
        "/api/v1/templates", {**TEMPLATE, "subject": ""}, content_type="application/json"
    )
    assert answer.status_code == 422
    assert "subject" in answer.json()["errors"]
    refused = api_client(org.rep).post(
        "/api/v1/templates", TEMPLATE, content_type="application/json"
    )
    assert refused.status_code == 403


def test_preview_per_member(org: Organisation) -> None:
    org.rep.mobile = "13912345678"
    org.rep.save()
    campaign = make_campaign(org.marketing, name="秋季新品发布会")
    add_contact_member(campaign, org.rep, name="王伟", gender="m", email="w@example.cn")
    li = add_contact_member(campaign, org.rep, name="欧阳娜娜", gender="f", email="o@example.cn")
    template = make_template(org.marketing)
    client = api_client(org.marketing)
    answer = client.post(
        f"/api/v1/templates/{template.pk}/preview",
        {"campaign_id": campaign.pk, "member_id": li.pk},
        content_type="application/json",
    )
    assert answer.status_code == 200
    assert answer.json()["subject"] == "欧阳女士，邀请您参加秋季新品发布会"
    assert "13912345678" in answer.json()["text"]
    first = client.post(
        f"/api/v1/templates/{template.pk}/preview",
        {"campaign_id": campaign.pk},
        content_type="application/json",
    ).json()
    assert first["subject"].startswith("王先生")


def test_send_reports_skipped_and_statuses_masked_for_marketing(
    org: Organisation, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = make_campaign(org.marketing)
    add_contact_member(campaign, org.rep, name="王伟", email="wang.wei@example.cn")
    add_contact_member(
        campaign, org.rep, name="李雷", email="li@example.cn", consent=ConsentStatus.WITHDRAWN
    )
    template = make_template(org.marketing)
    with smtp_sink(settings) as sink, django_capture_on_commit_callbacks(execute=True):
        answer = api_client(org.marketing).post(
            f"/api/v1/campaigns/{campaign.pk}/sends",
            {"template_id": template.pk},
            content_type="application/json",
        )
    assert answer.status_code == 201
    # The request only creates the send; the job (run when the request commits) prepares it
    created = answer.json()
    assert (created["status"], created["preparing"]) == ("queued", True)
    assert (created["total"], created["queued"], created["skipped"]) == (0, 0, {})
    assert len(sink.messages) == 1
    send_id = created["id"]
    progress = api_client(org.marketing).get(f"/api/v1/sends/{send_id}").json()
    assert (progress["status"], progress["sent"], progress["queued"]) == ("done", 1, 0)
    assert (progress["preparing"], progress["total"]) == (False, 1)
    assert progress["skipped"] == {"unsubscribed": 1}
    rows = api_client(org.marketing).get(f"/api/v1/sends/{send_id}/messages").json()["items"]
    assert rows[0]["status"] == "sent"
    assert rows[0]["masked"] is True
    assert rows[0]["address"] != "wang.wei@example.cn"
    assert rows[0]["name"] == "王伟"
    owner_view = api_client(org.admin).get(f"/api/v1/sends/{send_id}/messages").json()["items"]
    assert owner_view[0]["address"] == "wang.wei@example.cn"


def test_zero_reachable_send_is_422_with_reasons(org: Organisation) -> None:
    campaign = make_campaign(org.marketing)
    add_contact_member(campaign, org.rep, email="a@example.cn", consent=None)
    template = make_template(org.marketing)
    answer = api_client(org.marketing).post(
        f"/api/v1/campaigns/{campaign.pk}/sends",
        {"template_id": template.pk},
        content_type="application/json",
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "no_recipients"
    assert answer.json()["skipped"] == {"no_consent": 1}
    assert not Send.objects.exists()


def test_message_list_is_a_fixed_number_of_queries(
    org: Organisation, django_assert_max_num_queries: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from kehu.campaigns.services import sends

    campaign = make_campaign(org.marketing)
    for n in range(25):
        add_contact_member(campaign, org.rep, name=f"郑{n}", email=f"z{n}@example.cn")
    template = make_template(org.marketing)
    with django_capture_on_commit_callbacks(execute=True):  # the job writes the messages
        send = sends.send_create(
            actor=org.marketing, campaign_id=campaign.pk, template_id=template.pk
        )
    client = api_client(org.marketing)
    with django_assert_max_num_queries(8):
        answer = client.get(f"/api/v1/sends/{send.pk}/messages?limit=100")
    assert len(answer.json()["items"]) == 25
