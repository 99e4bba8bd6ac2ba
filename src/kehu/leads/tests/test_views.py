"""UI actions: edit with optimistic locking, invalid forms answer errors and change nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from kehu.core.testing.factories import Organisation
from kehu.leads.models import Lead, LeadStatus

pytestmark = pytest.mark.django_db


def _client(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client


def test_edit_sets_priority_by_hand_and_refuses_stale_versions(
    org: Organisation, assigned_lead: Lead
) -> None:
    client = _client(org.rep)
    url = reverse("leads:edit", args=[assigned_lead.pk])
    form = client.get(url)
    assert form.status_code == 200
    data = {
        "contact_name": assigned_lead.contact_name,
        "company_name": assigned_lead.company_name,
        "mobile": assigned_lead.mobile,
        "source": assigned_lead.source,
        "urgency": "medium",
        "priority": "S",
        "need": "要报价",
        "version": assigned_lead.version,
    }
    assert client.post(url, data).status_code == 302
    lead = Lead.objects.get(pk=assigned_lead.pk)
    assert lead.priority == "S"
    assert lead.priority_manual
    assert lead.need == "要报价"
    stale = client.post(url, {**data, "need": "覆盖"})
    assert stale.status_code == 200
    assert stale.context["form"].non_field_errors()
    assert Lead.objects.get(pk=assigned_lead.pk).need == "要报价"
    assert _client(org.colleague).get(url).status_code == 404


def test_invalidate_other_without_text_shows_the_error(
    org: Organisation, assigned_lead: Lead
) -> None:
    response = _client(org.rep).post(
        reverse("leads:invalidate", args=[assigned_lead.pk]), {"reason": "other", "note": ""}
    )
    assert response.status_code == 422
    assert response.context["invalidate_form"].errors
    assert Lead.objects.get(pk=assigned_lead.pk).status == LeadStatus.ASSIGNED
    ok = _client(org.rep).post(
        reverse("leads:invalidate", args=[assigned_lead.pk]), {"reason": "duplicate"}
    )
    assert ok.status_code == 302
    assert Lead.objects.get(pk=assigned_lead.pk).status == LeadStatus.PENDING_REVIEW


def test_assign_in_the_ui(org: Organisation, make_lead: object) -> None:
    lead = make_lead()  # type: ignore[operator]
    client = _client(org.east_manager)
    detail = client.get(reverse("leads:detail", args=[lead.pk]))
    choices = [str(u) for u in detail.context["assign_form"].fields["assignee"].queryset]
    assert "south_rep" not in choices
    refused = client.post(reverse("leads:assign", args=[lead.pk]), {"assignee": org.south_rep.pk})
    assert refused.status_code == 422
    assert Lead.objects.get(pk=lead.pk).assignee is None
    done = client.post(reverse("leads:assign", args=[lead.pk]), {"assignee": org.rep.pk})
    assert done.status_code == 302
    assert Lead.objects.get(pk=lead.pk).assignee == org.rep


def test_confirming_twice_is_a_clear_error(org: Organisation, confirmed_lead: Lead) -> None:
    response = _client(org.rep).post(reverse("leads:confirm", args=[confirmed_lead.pk]))
    assert response.status_code == 409
    assert Lead.objects.get(pk=confirmed_lead.pk).version == confirmed_lead.version


def test_convert_dialog_offers_linking_on_duplicates(
    org: Organisation, confirmed_lead: Lead
) -> None:
    from kehu.customers.services import customer_create

    existing = customer_create(actor=org.rep, data={"name": confirmed_lead.company_name})
    client = _client(org.rep)
    url = reverse("leads:convert", args=[confirmed_lead.pk])
    offered = client.post(url, {}, HTTP_HX_REQUEST="true")
    assert offered.status_code == 409
    assert offered.context["matches"][0]["id"] == existing.pk
    assert 'id="convert-force"' in offered.content.decode()
    linked = client.post(url, {"customer_id": existing.pk}, HTTP_HX_REQUEST="true")
    assert linked.status_code == 204
    assert Lead.objects.get(pk=confirmed_lead.pk).customer == existing
