"""Duplicate customers: the lookup, its matches and the errors a create raises on them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.db import connection
from django.db.models import Q, Window
from django.db.models.functions import RowNumber, Substr
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
    unit=config.POINTS,
    minimum=50,
    maximum=100,
    help=gettext_lazy(
        "Two company names at least this similar (rapidfuzz score) are flagged as a possible "
        "duplicate on entry and import; lower finds more, with more false alarms."
    ),
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

    def __init__(
        self,
        matches: list[DuplicateMatch],
        *,
        actor: Any = None,
        visible: Collection[int] | None = None,
    ) -> None:
        self.matches = matches
        super().__init__(
            _("A customer with the same phone, email, credit code or name already exists."),
            extra={"matches": duplicate_payload(matches, actor, visible=visible)},
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


def duplicate_payload(
    matches: Sequence[DuplicateMatch], user: Any, *, visible: Collection[int] | None = None
) -> list[dict[str, Any]]:
    """Matches as the user may see them.

    Out-of-scope matches only say that a match exists and who holds it. ``visible``: the
    matched customers the user sees, when a batch read them for all its errors at once.
    """
    if user is None:
        visible = set()
    elif visible is None:
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
    for customer_id, mobile, work_phone, email in _contact_matches(phone_set, email_set):
        if mobile in phone_set or work_phone in phone_set:
            found[(customer_id, "phone")] = 100.0
        if email and email in email_set:
            found[(customer_id, "email")] = 100.0
    code = uscc.compact(credit_code) if credit_code else ""
    if code:
        by_code = Customer.objects.filter(credit_code=code).order_by()
        for customer_id in by_code.values_list("pk", flat=True):
            found[(customer_id, "credit_code")] = 100.0
    key = company_key(name) if name else ""
    if key:
        threshold = float(config.get("customers.duplicate_name_score"))
        for customer_id, other_key in _name_candidates(key):
            score = 100.0 if other_key == key else float(fuzz.ratio(key, other_key))
            if score >= threshold:
                found[(customer_id, "name")] = round(score, 1)
    if exclude_id is not None:
        found = {k: v for k, v in found.items() if k[0] != exclude_id}
    if not found:
        return []
    return _matches(found, _matched_rows({k[0] for k in found}))


def _matched_rows(ids: Collection[int]) -> dict[int, Customer]:
    matched = Customer.objects.filter(pk__in=ids).order_by()
    return {row.pk: row for row in matched.select_related("owner")}


def _matches(
    found: dict[tuple[int, str], float], rows: dict[int, Customer]
) -> list[DuplicateMatch]:
    """The matches of ``found`` ((customer id, reason): score) in ``find_duplicates``' order:
    credit code, phone, e-mail, name; the best score first; the oldest customer first."""
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


CONTACT_MATCHES = 50  # contacts read per check: a handful match a new customer's phones


def _contact_matches(
    phones: set[str], emails: set[str], cap: int | None = CONTACT_MATCHES
) -> list[tuple[int, str, str, str]]:
    """(customer id, mobile, work phone, e-mail) of the contacts with one of these phones or
    e-mails: one query, a UNION of one index lookup per column. ``cap=None`` reads them all
    (a batch of new customers: few rows match).

    ``mobile IN (…) OR work_phone IN (…)`` made SQLite scan the contact table (60–80 ms at
    size M): an OR is read through indexes only when each of its terms is, and ``ANALYZE``
    averages a mostly empty column (work phones) to "every row per value". ``NOT (column =
    '')`` lets SQLite use its indexes of the set values (migration 0015); no searched value
    is empty.
    """
    columns = ("customer_id", "mobile", "work_phone", "email")
    lookups = (("mobile", phones), ("work_phone", phones), ("email", emails))
    parts = [
        Contact.objects.filter(**{f"{column}__in": sorted(values)})
        .exclude(**{column: ""})
        .order_by()
        .values_list(*columns)
        for column, values in lookups
        if values
    ]
    if not parts:
        return []
    combined = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    return list(combined if cap is None else combined[:cap])


KEY_END = "\U0010ffff"  # the highest code point: sorts after every character of a key


def _key_prefix(prefix: str) -> Q:
    """``name_key`` starts with ``prefix``, in a form each database reads from an index.

    SQLite's ``LIKE`` is case-insensitive, so it cannot read a binary index and scanned the
    customer table (150–350 ms at size M); the range reads the index. PostgreSQL's ``LIKE
    'prefix%'`` reads ``customer_name_key_prefix`` (``varchar_pattern_ops``, migration
    0003), which a range would not: it compares by the database's collation.
    """
    if connection.vendor == "postgresql":
        return Q(name_key__startswith=prefix)
    return Q(name_key__gte=prefix, name_key__lt=prefix + KEY_END)


def _name_candidates(key: str) -> list[tuple[int, str]]:
    """(id, name key) of up to ``NAME_CANDIDATES`` customers whose key shares the first
    ``NAME_PREFIX`` characters of ``key``, and of every one with ``key`` itself: when the
    prefix has more rows than that, a second lookup adds the exact ones."""
    sharing = Customer.objects.filter(_key_prefix(key[:NAME_PREFIX])).order_by()
    candidates = list(sharing.values_list("pk", "name_key")[:NAME_CANDIDATES])
    if len(candidates) == NAME_CANDIDATES:
        seen = {pk for pk, _key in candidates}
        exact = Customer.objects.filter(name_key=key).order_by().values_list("pk", "name_key")
        candidates += [row for row in exact if row[0] not in seen]
    return candidates


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


@dataclass(frozen=True)
class DedupKeys:
    """What ``find_duplicates`` compares of one new customer: its name (companies only),
    phones, e-mails and credit code."""

    name: str = ""
    phones: Sequence[str] = ()
    emails: Sequence[str] = ()
    credit_code: str = ""
    # the name whatever the kind (a person's name has a name key too): what a later row of a
    # batch meets once this row is written (``duplicates_in_turn``); empty: ``name``
    written_name: str = ""


PREFIXES_PER_QUERY = 200  # OR terms per candidates query (SQLite's expression depth is 1,000)


def _batch_keys(
    rows: Sequence[DedupKeys],
) -> tuple[list[set[str]], list[set[str]], list[str], list[str]]:
    """Per row, as the single check compares them: its phones (E.164), e-mails, compact
    credit code and name key."""
    phones = [{p for p in (phone_e164(v) for v in row.phones if v) if p} for row in rows]
    emails = [{e for e in (email_address(v) for v in row.emails if v) if e} for row in rows]
    codes = [uscc.compact(row.credit_code) if row.credit_code else "" for row in rows]
    keys = [company_key(row.name) if row.name else "" for row in rows]
    return phones, emails, codes, keys


def duplicate_suspects(rows: Sequence[DedupKeys]) -> list[bool]:
    """Per row, whether it may duplicate an existing customer or an earlier row of the
    batch: a fixed number of queries for the whole batch (one per column of contact points,
    one for the credit codes, one per ``PREFIXES_PER_QUERY`` name prefixes and one for the
    exact names), where ``find_duplicates`` costs up to five per row.

    Never less than ``find_duplicates``: a row it would match is a suspect (its name is
    compared with up to ``NAME_CANDIDATES`` rows per prefix and every row of its exact key,
    as there). A batch writes the other rows together and sends each suspect through the
    single create, which answers the very error (or, for a match with an earlier row of the
    batch, finds it once that row is written)."""
    phones, emails, codes, keys = _batch_keys(rows)
    all_phones = set().union(*phones) if phones else set()
    all_emails = set().union(*emails) if emails else set()
    taken_points: set[str] = set()
    matches = _contact_matches(all_phones, all_emails, cap=None)
    for _customer_id, mobile, work_phone, email in matches:
        taken_points.update(value for value in (mobile, work_phone, email) if value)
    taken_codes = set(
        Customer.objects.filter(credit_code__in={code for code in codes if code})
        .order_by()
        .values_list("credit_code", flat=True)
    )
    existing_keys = _name_candidates_many({key for key in keys if key})
    threshold = float(config.get("customers.duplicate_name_score"))
    suspects: list[bool] = []
    seen_points: set[str] = set()
    seen_keys: dict[str, list[str]] = {}
    for index in range(len(rows)):
        points = phones[index] | emails[index]
        code, key = codes[index], keys[index]
        suspect = bool(points & (taken_points | seen_points)) or (
            bool(code) and (code in taken_codes or f"c:{code}" in seen_points)
        )
        if not suspect and key:
            prefix = key[:NAME_PREFIX]
            others = [*existing_keys.get(prefix, ()), *seen_keys.get(prefix, ())]
            suspect = any(other == key or fuzz.ratio(key, other) >= threshold for other in others)
        suspects.append(suspect)
        seen_points |= points
        if code:
            seen_points.add(f"c:{code}")
        # a person's row has no name to check, but once written its name meets later rows
        written = company_key(rows[index].written_name) if rows[index].written_name else key
        if written:
            seen_keys.setdefault(written[:NAME_PREFIX], []).append(written)
    return suspects


def _ranked_by_prefix(prefixes: Sequence[str], cap: int) -> Any:
    """(id, name key) of the first ``cap`` customers (by id) of each ``NAME_PREFIX``-long
    start of the keys beginning with one of ``prefixes``: one query, a window ranks them."""
    condition = Q()
    for prefix in prefixes:
        condition |= _key_prefix(prefix)
    return (
        Customer.objects.filter(condition)
        .annotate(
            rank=Window(
                RowNumber(), partition_by=[Substr("name_key", 1, NAME_PREFIX)], order_by="pk"
            )
        )
        .filter(rank__lte=cap)
        .order_by()
        .values_list("pk", "name_key")
    )


def _name_candidates_many(keys: set[str]) -> dict[str, list[str]]:
    """The name keys ``_name_candidates`` reads for each of ``keys``, by prefix: up to
    ``NAME_CANDIDATES`` rows per prefix (a window ranks them), plus the rows of the exact keys."""
    found: dict[str, list[str]] = {}
    prefixes = sorted({key[:NAME_PREFIX] for key in keys})
    for start in range(0, len(prefixes), PREFIXES_PER_QUERY):
        part = prefixes[start : start + PREFIXES_PER_QUERY]
        for _pk, other in _ranked_by_prefix(part, NAME_CANDIDATES):
            found.setdefault(other[:NAME_PREFIX], []).append(other)
    for other in (
        Customer.objects.filter(name_key__in=keys).order_by().values_list("name_key", flat=True)
    ):
        found.setdefault(other[:NAME_PREFIX], []).append(other)
    return found


@dataclass
class TurnAnswers:
    """``duplicates_in_turn``'s answers: ``rows[:decided]`` are answered, each either with
    the error ``customer_create`` raises (``duplicates``, by row) or clear (``clear``: no
    duplicates, the caller writes it); the rows from ``decided`` on are left to
    ``customer_create``."""

    duplicates: dict[int, DuplicateCustomer]
    clear: list[int]
    decided: int


def duplicates_in_turn(rows: Sequence[DedupKeys], *, actor: Any) -> TurnAnswers:
    """What ``customer_create`` (without ``force``) would answer ``rows``, new customers
    created one by one in this order, each written when it has no duplicates: the same
    matches, scores, order and masking (``DuplicateCustomer``) as ``find_duplicates``, for a
    fixed number of queries (one for the contact points, one for the credit codes, one per
    ``PREFIXES_PER_QUERY`` name prefixes, one for the matched customers, one for their
    visibility), where ``find_duplicates`` costs up to five per row.

    A row is answered only where the answer is the same for certain: its contact points
    match fewer contacts than ``find_duplicates`` reads (``CONTACT_MATCHES``), its name
    prefix has at most ``NAME_CANDIDATES`` rows (so the single check reads them all), its
    credit code is unused (the single create refuses a used one before the duplicate
    check) and it does not match an earlier clear row of ``rows`` (not written yet, so its
    id is unknown). The first row that is not stops the answers (``decided``): the rows
    from it on depend on what it writes. The caller writes the clear rows before any other
    customer of the call (nothing else is written between them in the one-by-one order)."""
    phones, emails, codes, keys = _batch_keys(rows)
    all_phones = set().union(*phones) if phones else set()
    all_emails = set().union(*emails) if emails else set()
    contacts = _contact_matches(all_phones, all_emails, cap=None)
    taken_codes = set(
        Customer.objects.filter(credit_code__in={code for code in codes if code})
        .order_by()
        .values_list("credit_code", flat=True)
    )
    candidates = _prefix_rows({key[:NAME_PREFIX] for key in keys if key})
    threshold = float(config.get("customers.duplicate_name_score"))
    found: dict[int, dict[tuple[int, str], float]] = {}
    clear: list[int] = []
    decided = len(rows)
    # what the clear rows before a row write: their contact points, credit codes, name keys
    written_points: set[str] = set()
    written_codes: set[str] = set()
    written_keys: list[str] = []
    for index, row in enumerate(rows):
        phone_set, email_set, code, key = phones[index], emails[index], codes[index], keys[index]
        if code and (code in taken_codes or code in written_codes):
            decided = index
            break
        if (phone_set | email_set) & written_points:
            decided = index
            break
        hits: dict[tuple[int, str], float] = {}
        matched_contacts = {
            contact
            for contact in contacts
            if contact[1] in phone_set or contact[2] in phone_set or contact[3] in email_set
        }
        if len(matched_contacts) >= CONTACT_MATCHES:
            decided = index
            break
        for customer_id, mobile, work_phone, email in matched_contacts:
            if mobile in phone_set or work_phone in phone_set:
                hits[(customer_id, "phone")] = 100.0
            if email and email in email_set:
                hits[(customer_id, "email")] = 100.0
        if key:
            prefix = key[:NAME_PREFIX]
            existing = candidates.get(prefix, [])
            earlier = [other for other in written_keys if other.startswith(prefix)]
            if len(existing) + len(earlier) > NAME_CANDIDATES or any(
                other == key or fuzz.ratio(key, other) >= threshold for other in earlier
            ):
                decided = index
                break
            for customer_id, other_key in existing:
                score = 100.0 if other_key == key else float(fuzz.ratio(key, other_key))
                if score >= threshold:
                    hits[(customer_id, "name")] = round(score, 1)
        if hits:
            found[index] = hits
            continue
        clear.append(index)
        written_points |= _written_points(row)
        if code:
            written_codes.add(code)
        written = company_key(row.written_name or row.name)
        if written:
            written_keys.append(written)
    matched = _matched_rows({pk for hits in found.values() for pk, _reason in hits})
    visible: set[int] = set()
    if actor is not None and matched:
        visible = set(
            Customer.objects.visible_to(actor).filter(pk__in=matched).values_list("pk", flat=True)
        )
    duplicates: dict[int, DuplicateCustomer] = {}
    for index, hits in found.items():
        matches = _matches(hits, matched)
        if not matches:  # its matches were deleted meanwhile: it would be written
            decided = min(decided, index)
            continue
        duplicates[index] = DuplicateCustomer(matches, actor=actor, visible=visible)
    return TurnAnswers(
        duplicates={i: e for i, e in duplicates.items() if i < decided},
        clear=[i for i in clear if i < decided],
        decided=decided,
    )


def _written_points(row: DedupKeys) -> set[str]:
    """The contact points a written row's contacts hold, as stored and as compared: a later
    row matching one of them matches the written row."""
    values = {v for v in (*row.phones, *row.emails) if v}
    values |= {p for p in (phone_e164(v) for v in row.phones if v) if p}
    values |= {e for e in (email_address(v) for v in row.emails if v) if e}
    return values


def _prefix_rows(prefixes: set[str]) -> dict[str, list[tuple[int, str]]]:
    """(id, name key) of the customers whose key starts with each of ``prefixes``: all of
    them where there are at most ``NAME_CANDIDATES`` (what ``_name_candidates`` reads then),
    more where there are more (the sign that the single check reads only some). The window
    ranks by the first ``NAME_PREFIX`` characters, so a shorter prefix (a short name key)
    collects the rows of every longer one it starts: all of them, or more than the cap."""
    found: dict[str, list[tuple[int, str]]] = {}
    ordered = sorted(prefixes)
    lengths = sorted({len(prefix) for prefix in prefixes})
    for start in range(0, len(ordered), PREFIXES_PER_QUERY):
        part = set(ordered[start : start + PREFIXES_PER_QUERY])
        for pk, other in _ranked_by_prefix(sorted(part), NAME_CANDIDATES + 1):
            for length in lengths:
                if other[:length] in part:
                    found.setdefault(other[:length], []).append((pk, other))
    return found
