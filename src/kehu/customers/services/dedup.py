"""Duplicate customers: the lookup, its matches and the errors a create raises on them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rapidfuzz import fuzz
from stdnum.cn import uscc

from kehu.core import config
from kehu.core.access import is_admin
from kehu.core.contact_points import email_address, phone_e164
from kehu.core.errors import Conflict
from kehu.customers.models import (
    Contact,
    Customer,
    CustomerKind,
)
from kehu.customers.normalize import company_key

DUPLICATE_NAME_SCORE = config.define(
    "customers.duplicate_name_score",
    88,
    gettext_lazy("Similarity (0-100) from which two company names count as the same customer"),
)
NAME_CANDIDATES = 300  # at most this many rows are fuzzy-compared per check
NAME_PREFIX = 4  # candidates share the first characters of the normalised name


@dataclass(frozen=True)
class DuplicateMatch:
    customer_id: int
    number: str
    name: str
    owner_id: int | None
    owner_name: str
    reason: str  # "phone", "email", "name" or "credit_code"
    score: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class DuplicateCustomer(Conflict):
    """A create/update would duplicate existing customers; ``force`` overrides it."""

    code = "duplicate"

    def __init__(self, matches: list[DuplicateMatch], *, actor: Any = None) -> None:
        self.matches = matches
        super().__init__(
            _("A customer with the same phone, email, credit code or name already exists."),
            extra={"matches": duplicate_payload(matches, actor)},
        )


EXACT_NAME_SCORE = 100.0


class CustomerHeldByOther(DuplicateCustomer):
    """撞单: the customer is already held by another rep; only an admin may create it anyway."""

    code = "held_by_other"

    def __init__(self, matches: list[DuplicateMatch], *, actor: Any = None) -> None:
        super().__init__(matches, actor=actor)
        owners = "、".join(sorted({match.owner_name for match in matches}))
        self.detail = _(
            "This customer is already held by %(owners)s; ask them or an administrator "
            "to share or transfer it."
        ) % {"owners": owners}


def duplicate_payload(matches: Sequence[DuplicateMatch], user: Any) -> list[dict[str, Any]]:
    """Matches as the user may see them.

    Out-of-scope matches only say that a match exists and who holds it.
    """
    visible: set[int] = set()
    if user is not None:
        visible = set(
            Customer.objects.visible_to(user)
            .filter(pk__in=[m.customer_id for m in matches])
            .values_list("pk", flat=True)
        )
    payload: list[dict[str, Any]] = []
    for match in matches:
        item: dict[str, Any] = {
            "reason": match.reason,
            "score": match.score,
            "owner_id": match.owner_id,
            "owner_name": match.owner_name,
            "visible": match.customer_id in visible,
        }
        if match.customer_id in visible:
            item.update(id=match.customer_id, number=match.number, name=match.name)
        payload.append(item)
    return payload


def find_duplicates(
    *,
    name: str = "",
    phones: Sequence[str] = (),
    emails: Sequence[str] = (),
    credit_code: str = "",
    exclude_id: int | None = None,
) -> list[DuplicateMatch]:
    """Existing customers that look like the same one; indexed lookups only, then rapidfuzz.

    Phones and emails are compared in their normalised forms (E.164, lower case); names by
    ``company_key`` (exact) and, among at most ``NAME_CANDIDATES`` rows sharing the key's
    first characters, by rapidfuzz similarity.
    """
    found: dict[tuple[int, str], float] = {}
    phone_set = {p for p in (phone_e164(v) for v in phones if v) if p}
    email_set = {e for e in (email_address(v) for v in emails if v) if e}
    contacts = Contact.objects.none()
    if phone_set:
        contacts = contacts | Contact.objects.filter(
            Q(mobile__in=phone_set) | Q(work_phone__in=phone_set)
        )
    if email_set:
        contacts = contacts | Contact.objects.filter(email__in=email_set)
    if phone_set or email_set:
        for customer_id, mobile, work_phone, email in contacts.values_list(
            "customer_id", "mobile", "work_phone", "email"
        )[:50]:
            if mobile in phone_set or work_phone in phone_set:
                found[(customer_id, "phone")] = 100.0
            if email and email in email_set:
                found[(customer_id, "email")] = 100.0
    code = uscc.compact(credit_code) if credit_code else ""
    if code:
        for customer_id in Customer.objects.filter(credit_code=code).values_list("pk", flat=True):
            found[(customer_id, "credit_code")] = 100.0
    key = company_key(name) if name else ""
    if key:
        threshold = float(config.get("customers.duplicate_name_score"))
        candidates = Customer.objects.filter(
            Q(name_key=key) | Q(name_key__startswith=key[:NAME_PREFIX])
        ).values_list("pk", "name_key")[:NAME_CANDIDATES]
        for customer_id, other_key in candidates:
            score = 100.0 if other_key == key else float(fuzz.ratio(key, other_key))
            if score >= threshold:
                found[(customer_id, "name")] = round(score, 1)
    if exclude_id is not None:
        found = {k: v for k, v in found.items() if k[0] != exclude_id}
    if not found:
        return []
    rows = {
        row.pk: row
        for row in Customer.objects.filter(pk__in={k[0] for k in found}).select_related("owner")
    }
    matches = [
        DuplicateMatch(
            customer_id=customer_id,
            number=rows[customer_id].number,
            name=rows[customer_id].name,
            owner_id=rows[customer_id].owner_id,
            owner_name=str(rows[customer_id].owner) if rows[customer_id].owner else "",
            reason=reason,
            score=score,
        )
        for (customer_id, reason), score in found.items()
        if customer_id in rows
    ]
    order = {"credit_code": 0, "phone": 1, "email": 2, "name": 3}
    matches.sort(key=lambda m: (order[m.reason], -m.score, m.customer_id))
    return matches


def _check_duplicates(
    *,
    actor: Any,
    customer: Customer,
    phones: Sequence[str] = (),
    emails: Sequence[str] = (),
    force: bool,
) -> None:
    if force and (actor is None or is_admin(actor)):
        return
    matches = find_duplicates(
        name=customer.name if customer.kind == CustomerKind.COMPANY else "",
        phones=phones,
        emails=emails,
        credit_code=customer.credit_code or "",
        exclude_id=customer.pk,
    )
    if not matches:
        return
    if not force:
        raise DuplicateCustomer(matches, actor=actor)
    # `force` overrides look-alike names, never a customer another rep already holds (撞单):
    # the same credit code, phone, email or normalised name.
    held = [
        m
        for m in matches
        if m.owner_id is not None
        and m.owner_id != actor.pk
        and (m.reason != "name" or m.score >= EXACT_NAME_SCORE)
    ]
    if held:
        raise CustomerHeldByOther(held, actor=actor)
