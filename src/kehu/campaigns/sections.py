"""The consent card of the customer page (``kehu.customers.sections``): each contact's
marketing consent per channel, and a form to record a change (staff, with a note)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from kehu.campaigns.models import Channel, Consent, ConsentStatus
from kehu.customers.models import Contact
from kehu.customers.sections import Section


def customer_consent(customer: Any, user: Any) -> dict[str, Any] | None:
    """Two queries: the customer's contacts and their consents."""
    contacts = list(Contact.objects.filter(customer=customer).order_by("-is_active", "name", "id"))
    consents: dict[tuple[int, str], Consent] = {
        (row.contact_id, row.channel): row  # type: ignore[misc]
        for row in Consent.objects.filter(contact__in=[c.pk for c in contacts])
    }
    rows = [
        {
            "contact": contact,
            "channels": [
                {"channel": channel, "consent": consents.get((contact.pk, channel.value))}
                for channel in Channel
            ],
        }
        for contact in contacts
    ]
    return {
        "rows": rows,
        "channels": Channel.choices,
        "statuses": ConsentStatus.choices,
        "granted": ConsentStatus.GRANTED,
    }


CONSENT_SECTION = Section(
    key="consent",
    title=_("Marketing consent"),
    template="campaigns/consent/_customer_section.html",
    context=customer_consent,
    order=60,
)
