"""Where a personal-data request starts: a card on the customer page listing its contacts
with a "new request" link and their requests, and a link on the lead page (administrators)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.access import is_admin
from kehu.customers.models import Contact
from kehu.customers.sections import Section
from kehu.governance.models import SubjectType
from kehu.governance.selectors.requests import requests_of
from kehu.leads.page_links import PageLink


def new_request_url(subject_type: str, subject_id: int) -> str:
    return f"{reverse('governance:request_new')}?{urlencode({subject_type: subject_id})}"


def customer_section(customer: Any, user: Any) -> dict[str, Any] | None:
    """Two queries: the customer's contacts and their requests."""
    if not is_admin(user):
        return None
    contacts = list(Contact.objects.filter(customer_id=customer.pk).order_by("name", "id"))
    if not contacts:
        return None
    requests: dict[int, list[Any]] = {}
    found = requests_of(
        user=user, subject_type=SubjectType.CONTACT, subject_ids=[c.pk for c in contacts]
    )
    for request in found:
        requests.setdefault(request.subject_id, []).append(request)
    rows = [
        {
            "contact": contact,
            "new_url": new_request_url(SubjectType.CONTACT, contact.pk),
            "requests": requests.get(contact.pk, []),
        }
        for contact in contacts
    ]
    return {"rows": rows}


REQUESTS_SECTION = Section(
    key="personal-data-requests",
    title=_("Personal-data requests"),
    template="governance/_requests_section.html",
    context=customer_section,
    shown=is_admin,
    order=95,
)


def lead_links(lead: Any, user: Any) -> list[PageLink]:
    if not is_admin(user):
        return []
    url = new_request_url(SubjectType.LEAD, lead.pk)
    return [PageLink(_("Personal-data request"), url, "person-lock")]


def register() -> None:
    from kehu.customers import sections
    from kehu.leads import page_links

    sections.register(REQUESTS_SECTION)
    page_links.register("governance.requests", lead_links)
