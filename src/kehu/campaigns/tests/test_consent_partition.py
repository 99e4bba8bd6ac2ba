"""partition(): who a send reaches and why the others are skipped; the unsubscribe link and
headers; the public unsubscribe page (forged, altered, another contact's, one-click)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import signing
from django.test import Client

from kehu.campaigns.models import (
    CampaignMember,
    Channel,
    Consent,
    ConsentChange,
    ConsentSource,
    ConsentStatus,
    MessageTemplate,
    Send,
    Touch,
    TouchKind,
)
from kehu.campaigns.services import unsubscribe
from kehu.campaigns.services.consent import consent_record, partition
from kehu.campaigns.tests.consent_support import add_member, make_campaign, make_contact, make_lead
from kehu.core import config
from kehu.core.testing.factories import Organisation

GRANT = {"status": ConsentStatus.GRANTED, "source": ConsentSource.STAFF}


def _grant(org: Organisation, person: Any, channel: str = Channel.EMAIL) -> None:
    key = (
        "contact"
        if hasattr(person, "customer_id") and not hasattr(person, "contact_name")
        else "lead"
    )
    consent_record(org.marketing, channel=channel, **{key: person}, **GRANT)


def _send(org: Organisation, campaign: Any) -> Send:
    template = MessageTemplate.objects.create(
        name="春季邀请", channel=Channel.EMAIL, subject="邀请", body="您好", owner=org.marketing
    )
    return Send.objects.create(campaign=campaign, template=template, channel=Channel.EMAIL)


def test_partition_counts_every_reason(org: Organisation) -> None:
    campaign = make_campaign(org)
    reachable = make_contact(org)
    no_consent = make_contact(org)
    unsubscribed = make_contact(org)
    no_email = make_contact(org, email="")
    left = make_contact(org)
    lead = make_lead(org)
    for person in (reachable, unsubscribed, no_email, left, lead):
        _grant(org, person)
    consent_record(
        org.marketing,
        contact=unsubscribed,
        channel=Channel.EMAIL,
        status=ConsentStatus.WITHDRAWN,
        source=ConsentSource.REPLY,
    )
    type(left).objects.filter(pk=left.pk).update(is_active=False)
    members = {
        person.pk: add_member(campaign, person)
        for person in (reachable, no_consent, unsubscribed, no_email, left)
    }
    lead_member = add_member(campaign, lead)

    result = partition(Channel.EMAIL, CampaignMember.objects.filter(campaign=campaign))

    assert result.recipients == [
        (members[reachable.pk], reachable.email),
        (lead_member, lead.email),
    ]
    assert result.skipped == {
        "no_consent": 1,
        "unsubscribed": 1,
        "no_address": 1,
        "left_company": 1,
    }
    assert result.skipped_total == 4


def test_partition_per_channel_and_addresses(org: Organisation) -> None:
    campaign = make_campaign(org)
    contact = make_contact(org)
    lead = make_lead(org)
    _grant(org, contact, Channel.SMS)
    _grant(org, contact, Channel.WECOM)
    _grant(org, lead, Channel.WECOM)
    member = add_member(campaign, contact)
    add_member(campaign, lead)
    members = CampaignMember.objects.filter(campaign=campaign)

    assert partition(Channel.SMS, members).recipients == [(member, contact.mobile)]
    assert partition(Channel.SMS, members).skipped == {"no_consent": 1}
    wecom = partition(Channel.WECOM, members)
    assert wecom.recipients == [(member, contact.wechat)]
    assert wecom.skipped == {"no_address": 1}  # leads have no WeCom id
    email = partition(Channel.EMAIL, members)
    assert email.recipients == []
    assert email.skipped == {"no_consent": 2}


def test_an_address_that_withdrew_is_not_reached_as_another_person(org: Organisation) -> None:
    campaign = make_campaign(org)
    contact = make_contact(org)
    lead = make_lead(org, email=contact.email.upper())
    _grant(org, lead)
    _grant(org, contact)
    consent_record(
        None,
        contact=contact,
        channel=Channel.EMAIL,
        status=ConsentStatus.WITHDRAWN,
        source=ConsentSource.UNSUBSCRIBE_LINK,
    )
    add_member(campaign, lead)
    result = partition(Channel.EMAIL, CampaignMember.objects.filter(campaign=campaign))
    assert result.recipients == []
    assert result.skipped == {"unsubscribed": 1}


def test_partition_skips_a_second_member_with_the_same_address(org: Organisation) -> None:
    campaign = make_campaign(org)
    contact = make_contact(org)
    lead = make_lead(org, email=contact.email)
    _grant(org, contact)
    _grant(org, lead)
    first = add_member(campaign, contact)
    add_member(campaign, lead)
    result = partition(Channel.EMAIL, CampaignMember.objects.filter(campaign=campaign))
    assert result.recipients == [(first, contact.email)]
    assert result.skipped == {"duplicate_address": 1}


def test_partition_rejects_an_unknown_channel(org: Organisation) -> None:
    from kehu.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        partition("fax", CampaignMember.objects.none())
    assert "channel" in refused.value.errors


def test_partition_queries_do_not_grow_with_members(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    from kehu.customers.models import Contact

    campaign = make_campaign(org)
    customer = make_contact(org).customer
    contacts = Contact.objects.bulk_create(
        Contact(customer=customer, name=f"客户{i}", email=f"p{i}@example.cn") for i in range(600)
    )
    Consent.objects.bulk_create(
        Consent(contact=c, channel=Channel.EMAIL, status=ConsentStatus.GRANTED, source="import")
        for c in contacts[::2]
    )
    CampaignMember.objects.bulk_create(
        CampaignMember(campaign=campaign, contact=c, customer=customer) for c in contacts
    )
    with django_assert_max_num_queries(3):
        result = partition(Channel.EMAIL, CampaignMember.objects.filter(campaign=campaign))
    assert len(result.recipients) == 300
    assert result.skipped == {"no_consent": 300}


# --- Links and headers --------------------------------------------------------------------------


@pytest.fixture
def base_url(settings: Any) -> str:
    settings.BASE_URL = "https://crm.example.cn"
    return "https://crm.example.cn"


def test_link_is_absolute_and_signed(org: Organisation, base_url: str) -> None:
    campaign = make_campaign(org)
    member = add_member(campaign, make_contact(org))
    link = unsubscribe.link_for(member, Channel.EMAIL)
    assert link.startswith(base_url + "/marketing/u/")
    token = link.removeprefix(base_url + "/marketing/u/").rstrip("/")
    assert signing.loads(token, salt=unsubscribe.SALT) == [
        "c",
        member.contact_id,
        "email",
        campaign.pk,
        0,
    ]


def test_headers_for_one_click(org: Organisation, base_url: str) -> None:
    campaign = make_campaign(org)
    member = add_member(campaign, make_contact(org))
    send = _send(org, campaign)
    headers = unsubscribe.headers_for(member, send)
    assert headers["List-Unsubscribe"] == f"<{unsubscribe.link_for(member, 'email', send)}>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    config.put(unsubscribe.UNSUBSCRIBE_MAILTO.key, "unsubscribe@example.cn", actor=org.admin)
    headers = unsubscribe.headers_for(member, send)
    link, mailto = headers["List-Unsubscribe"].split(", ")
    assert link.startswith("<https://crm.example.cn/marketing/u/")
    assert mailto == f"<mailto:unsubscribe@example.cn?subject=unsubscribe%20{send.pk}-{member.pk}>"


# --- The public page ----------------------------------------------------------------------------


def _path(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1] if "://" in link else link


def test_get_shows_a_confirm_button_and_changes_nothing(org: Organisation) -> None:
    campaign = make_campaign(org)
    contact = make_contact(org)
    _grant(org, contact)
    member = add_member(campaign, contact)
    answer = Client().get(_path(unsubscribe.link_for(member, Channel.EMAIL)))
    assert answer.status_code == 200
    assert b'id="unsubscribe-confirm"' in answer.content
    assert Consent.objects.get(contact=contact, channel="email").status == "granted"


def test_post_withdraws_records_the_touch_and_is_honoured(org: Organisation) -> None:
    campaign = make_campaign(org)
    contact = make_contact(org)
    _grant(org, contact)
    _grant(org, contact, Channel.SMS)
    member = add_member(campaign, contact)
    send = _send(org, campaign)
    client = Client(enforce_csrf_checks=True)
    path = _path(unsubscribe.link_for(member, Channel.EMAIL, send))

    answer = client.post(path)
    assert answer.status_code == 200
    assert b'id="unsubscribe-done"' in answer.content

    consent = Consent.objects.get(contact=contact, channel="email")
    assert (consent.status, consent.source) == ("withdrawn", "unsubscribe_link")
    change = ConsentChange.objects.filter(consent=consent).first()
    assert change is not None
    assert change.send_id == send.pk
    assert change.changed_by is None
    touch = Touch.objects.get(campaign=campaign, kind=TouchKind.UNSUBSCRIBED)
    assert (touch.contact_id, touch.customer_id) == (contact.pk, contact.customer_id)
    # Other channels keep their consent; the next send skips the contact
    assert Consent.objects.get(contact=contact, channel="sms").status == "granted"
    result = partition(Channel.EMAIL, CampaignMember.objects.filter(campaign=campaign))
    assert result.recipients == []
    assert result.skipped == {"unsubscribed": 1}
    # A second use changes nothing more
    assert client.post(path).status_code == 200
    assert ConsentChange.objects.filter(consent=consent).count() == 2
    assert Touch.objects.filter(kind=TouchKind.UNSUBSCRIBED).count() == 1


def test_one_click_post_from_a_mail_client(org: Organisation, base_url: str) -> None:
    campaign = make_campaign(org)
    lead = make_lead(org)
    _grant(org, lead)
    member = add_member(campaign, lead)
    send = _send(org, campaign)
    url = unsubscribe.headers_for(member, send)["List-Unsubscribe"].strip("<>")
    answer = Client(enforce_csrf_checks=True).post(
        _path(url),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200
    assert Consent.objects.get(lead=lead, channel="email").status == "withdrawn"


def _snapshot() -> tuple[list[Any], int, int]:
    return (
        list(Consent.objects.order_by("id").values_list("id", "status")),
        ConsentChange.objects.count(),
        Touch.objects.count(),
    )


@pytest.mark.parametrize(
    "forge",
    [
        "garbage",
        "truncated",
        "another_contact",
        "another_channel",
        "resigned_with_other_salt",
        "wrong_shape",
    ],
)
def test_forged_or_altered_tokens_are_refused(org: Organisation, forge: str) -> None:
    campaign = make_campaign(org)
    mine, other = make_contact(org), make_contact(org)
    for person in (mine, other):
        _grant(org, person)
        _grant(org, person, Channel.SMS)
    member = add_member(campaign, mine)
    token = unsubscribe.token_for(member, Channel.EMAIL)
    _payload, _sep, signature = token.rpartition(":")
    if forge == "garbage":
        forged = "not-a-token"
    elif forge == "truncated":
        forged = token[:-3]
    elif forge == "another_contact":
        value = signing.loads(token, salt=unsubscribe.SALT)
        value[1] = other.pk
        forged = signing.dumps(value, salt=unsubscribe.SALT).rpartition(":")[0] + ":" + signature
    elif forge == "another_channel":
        value = signing.loads(token, salt=unsubscribe.SALT)
        value[2] = "sms"
        forged = signing.dumps(value, salt=unsubscribe.SALT).rpartition(":")[0] + ":" + signature
    elif forge == "resigned_with_other_salt":
        value = signing.loads(token, salt=unsubscribe.SALT)
        value[1] = other.pk
        forged = signing.dumps(value, salt="kehu.service.survey")
    else:
        forged = signing.dumps({"contact": other.pk}, salt=unsubscribe.SALT)
    before = _snapshot()
    client = Client()
    for method in (client.get, client.post):
        answer = method(f"/marketing/u/{forged}/")
        assert answer.status_code == 400
        assert b'id="unsubscribe-error"' in answer.content
    assert _snapshot() == before


def test_a_link_for_a_deleted_contact_is_refused(org: Organisation) -> None:
    campaign = make_campaign(org)
    contact = make_contact(org)
    member = add_member(campaign, contact)
    token = unsubscribe.token_for(member, Channel.EMAIL)
    contact.delete()
    assert Client().post(f"/marketing/u/{token}/").status_code == 400
