"""Stored search texts rewritten after a custom field's definition changed.

Customers keep their searchable custom values in ``search_text`` and contacts in
``custom_text``; each write of a record's values sets them by the definitions of its time
(``custom_fields.stored_searchable``). A definition that changes whether the text holds the
field (made sensitive, hidden from some roles, deleted, restored) leaves the texts of the
records already holding a value stale: ``custom_search_refresh`` writes them anew, in batches
of their own transactions, from a job after the definition's commit.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import transaction

from kehu.core import custom_fields
from kehu.customers.models import Contact, Customer
from kehu.customers.normalize import contact_custom_text
from kehu.customers.services.customers import refresh_search

BATCH = 500
KINDS = ("customer", "contact")  # the custom-field kinds with a stored search text


def custom_search_refresh(*, kind: str, key: str) -> int:
    """Rewrite the stored search texts of the ``kind`` records holding a value of field
    ``key``; answers how many changed. Idempotent: a second run changes nothing."""
    if kind not in KINDS:
        raise ValueError(f"no stored search text for {kind!r}")
    custom_fields.forget()  # the definition changed a moment ago, maybe in another process
    model: Any = Customer if kind == "customer" else Contact
    rewrite = _rewrite_customers if kind == "customer" else _rewrite_contacts
    holders = model.objects.filter(custom__has_key=key).order_by("pk").values_list("pk", flat=True)
    changed, last = 0, 0
    while ids := list(holders.filter(pk__gt=last)[:BATCH]):
        last = ids[-1]
        with transaction.atomic():
            changed += rewrite(ids)
    return changed


def _rewrite_customers(ids: list[int]) -> int:
    customers = list(Customer.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    contacts: dict[int, list[Contact]] = defaultdict(list)
    for contact in Contact.objects.filter(customer_id__in=ids):
        contacts[contact.customer_id].append(contact)
    changed = []
    for customer in customers:
        before = customer.search_text
        refresh_search(customer, contacts[customer.pk])
        if customer.search_text != before:
            changed.append(customer)
    Customer.objects.bulk_update(changed, ["search_text"])
    return len(changed)


def _rewrite_contacts(ids: list[int]) -> int:
    changed = []
    for contact in Contact.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
        text = contact_custom_text(contact.custom)
        if text != contact.custom_text:
            contact.custom_text = text
            changed.append(contact)
    Contact.objects.bulk_update(changed, ["custom_text"])
    return len(changed)
