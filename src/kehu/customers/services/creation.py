"""New customers: one customer from a form or the API (``customer_create``), or a batch of
cleaned rows (``customers_create_bulk``, the import).

Both paths go through the same rules, in the same order: the owner rule (``OwnerRule``), the
defaults a new customer gets and its region from the credit code (``_new_values``), its
number (``_number``), its search keys and grade (``_apply_derived``), a history row and a
status-change row (``_status_change``), and the "customers changed" report that plans its
follow-up (``kehu.customers.hooks``). The single path cleans raw input and checks for
duplicates first; the bulk path takes rows its caller cleaned and deduplicated, and writes them
with a fixed number of statements per batch, whatever its size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Role, User
from kehu.core import config, custom_fields, events
from kehu.core.access import is_admin, managed_department_ids
from kehu.core.bulk_insert import InstanceBuilder, RowInserter
from kehu.core.context import current_request_id
from kehu.core.errors import Forbidden, InvalidInput
from kehu.core.history import bulk_stamp, stamp
from kehu.core.services import validate, validate_values
from kehu.customers import grading, hooks, numbering
from kehu.customers.credit_code import region_code_from_credit_code
from kehu.customers.models import (
    Contact,
    Customer,
    CustomerStatus,
    Industry,
    Region,
    StatusChange,
    Tag,
)
from kehu.customers.normalize import contact_custom_text
from kehu.customers.services._cleaning import (
    EDITABLE_FIELDS,
    _assign,
    _clean_contact_data,
    _field_error,
    _fix_primary,
    _resolve_industry,
    _resolve_region,
    _resolve_user,
    _tags_from_names,
    _validate_customer,
    check_contact_rules,
    check_customer_rules,
    take_markers,
)
from kehu.customers.services.customers import refresh_search
from kehu.customers.services.dedup import _check_duplicates

# --- The rules both paths share ---------------------------------------------------------------


def customer_may_create(user: User) -> bool:
    """Marketing reads every customer, masked and read-only, for its segments and campaigns:
    it brings customers in as leads, not as customers of its own."""
    return is_admin(user) or user.role != Role.MARKETING


def _require_may_create(actor: User) -> None:
    if not customer_may_create(actor):
        raise Forbidden(_("Your role may not create customers."))


class OwnerRule:
    """Whom a new customer may be given to: the actor themself; anyone, by an administrator;
    a user of a department they manage, by a manager. Departments are looked up once per
    owner, so a batch of rows costs a query per distinct owner, not per row."""

    def __init__(self, actor: User) -> None:
        self.actor = actor
        self._departments: dict[int, int | None] = {actor.pk: actor.department_id}
        self._managed: set[int] | None = None

    def know(self, user: User) -> None:
        self._departments[user.pk] = user.department_id

    def department_of(self, owner_id: int) -> int | None:
        if owner_id not in self._departments:
            self._departments[owner_id] = (
                User.objects.filter(pk=owner_id).values_list("department_id", flat=True).first()
            )
        return self._departments[owner_id]

    def refusal(self, owner_id: int) -> str | None:
        """Why the actor may not give a customer to ``owner_id``; None when they may."""
        actor = self.actor
        if owner_id == actor.pk or is_admin(actor):
            return None
        if actor.role != Role.MANAGER:
            return _("Only managers and CRM administrators may create for someone else.")
        if self._managed is None:
            self._managed = set(managed_department_ids(actor))
        if self.department_of(owner_id) not in self._managed:
            return _("The owner must be in your department.")
        return None

    def allows(self, owner_id: int) -> bool:
        return self.refusal(owner_id) is None


def _region_of(region_id: str | None, credit_code: str | None) -> str | None:
    if region_id is None and credit_code:
        # Digits 3–8 of a 统一社会信用代码 are the registering GB/T 2260 division.

        return region_code_from_credit_code(credit_code)
    return region_id


def _new_values(
    values: Mapping[str, Any],
    *,
    actor_id: int,
    owner_id: int,
    department_id: int | None,
    now: datetime,
) -> dict[str, Any]:
    """``values`` (Customer attnames) with what every new customer gets besides its input:
    owner and the owner's department, the creator, the default status, its timestamps, the
    region its credit code names. A dict, so that a batch builds each instance once."""
    return {
        **values,
        "owner_id": owner_id,
        "department_id": department_id,
        "created_by_id": actor_id,
        "status": values.get("status") or CustomerStatus.POTENTIAL,
        "created_at": now,
        "updated_at": now,
        "contact_info_updated_at": now,
        "region_id": _region_of(values.get("region_id"), values.get("credit_code")),
    }


class _Prefixes:
    """Number prefixes per (pattern, industry, region, kind, day): ``prefix_for`` once each."""

    def __init__(self, industries: Mapping[str, Industry], regions: Mapping[str, Region]) -> None:
        self.industries = industries
        self.regions = regions
        self._known: dict[tuple[Any, ...], tuple[str, str]] = {}

    def of(self, pattern: str, customer: Customer, today: date) -> tuple[str, str]:
        key = (pattern, customer.industry_id, customer.region_id, customer.kind, today)
        if key not in self._known:
            self._known[key] = numbering.prefix_for(
                pattern,
                industry=self.industries.get(customer.industry_id or ""),
                region=self.regions.get(customer.region_id or ""),
                kind=customer.kind,
                on=today,
            )
        return self._known[key]


def _number(customers: Sequence[Customer], prefixes: _Prefixes) -> None:
    """Number the customers: one reservation per prefix (a batch's few, or a single one)."""
    pattern = config.get("customers.number_pattern")
    today = timezone.localdate()
    members: dict[str, list[Customer]] = defaultdict(list)
    formats: dict[str, str] = {}
    for customer in customers:
        prefix, seq_format = prefixes.of(pattern, customer, today)
        formats[prefix] = seq_format
        members[prefix].append(customer)
    if len(members) == 1:
        ((prefix, group),) = members.items()
        firsts = {prefix: numbering.reserve(prefix, len(group))}
    else:
        firsts = numbering.reserve_many({prefix: len(group) for prefix, group in members.items()})
    for prefix, group in members.items():
        for offset, customer in enumerate(group):
            customer.number = prefix + formats[prefix].format(seq=firsts[prefix] + offset)


def _apply_derived(
    customer: Customer,
    contacts: Sequence[Contact],
    *,
    pinyin: tuple[str, str] | None = None,
    name_key: str | None = None,
    grade_rules: list[dict[str, Any]] | None = None,
    grades: dict[Any, str] | None = None,
) -> None:
    """Search keys (name key, search text, completeness) and the grade of a numbered new
    customer: its budget is its only grading input yet (``grades``: a batch's grade per
    budget, as most of a batch's budgets repeat); its contacts' custom search text."""
    refresh_search(customer, contacts, pinyin=pinyin, name_key=name_key)
    for contact in contacts:
        if contact.custom:
            contact.custom_text = contact_custom_text(contact.custom)
    budget = customer.annual_budget or 0
    grade = grades.get(budget) if grades is not None else None
    if grade is None:
        grade = grading.grade_for(grading.budget_input(budget), grade_rules)
        if grades is not None:
            grades[budget] = grade
    customer.grade = grade


def _status_change(
    customer: Customer, *, actor: User, now: datetime, reason: str
) -> dict[str, Any]:
    """The status-change row of a new customer: from nothing to its first status."""
    return {
        "customer_id": customer.pk,
        "old_status": "",
        "new_status": customer.status,
        "changed_by_id": actor.pk,
        "changed_at": now,
        "reason": reason[:500],
    }


# --- One customer -----------------------------------------------------------------------------


class Lookups:
    """What a batch of new customers resolves once (``customers_prepare``): industries,
    regions and owners by the value a record gave. A value that does not resolve raises the
    same field error as a single create, for every record that gives it."""

    def __init__(self) -> None:
        self._industries: dict[Any, Industry | InvalidInput | None] = {}
        self._regions: dict[Any, Region | InvalidInput | None] = {}
        self._users: dict[Any, User | InvalidInput] = {}

    @staticmethod
    def _memo(known: dict[Any, Any], value: Any, resolve: Any) -> Any:
        key = value if isinstance(value, int | str | None) else repr(value)
        if key not in known:
            try:
                known[key] = resolve(value)
            except InvalidInput as error:
                known[key] = error
        found = known[key]
        if isinstance(found, InvalidInput):
            raise found
        return found

    def resolve(self, data: dict[str, Any]) -> None:
        """Replace ``industry`` / ``region`` / ``owner`` in ``data`` by their rows."""
        if data.get("industry") not in (None, ""):
            data["industry"] = self._memo(self._industries, data["industry"], _resolve_industry)
        if data.get("region") not in (None, ""):
            data["region"] = self._memo(self._regions, data["region"], _resolve_region)
        if data.get("owner") is not None and not isinstance(data["owner"], User):
            data["owner"] = self._memo(
                self._users, data["owner"], lambda value: _resolve_user("owner", value)
            )


@dataclass
class PreparedCustomer:
    """A new customer checked by every rule of ``customer_create`` but the duplicate check:
    the unsaved customer, its cleaned contacts (Contact attnames) and tag names."""

    customer: Customer
    owner: User
    contacts: list[dict[str, Any]]
    tags: list[str]

    def as_new_customer(self) -> NewCustomer:
        """The row ``customers_create_bulk`` writes (one contact at most)."""
        if len(self.contacts) > 1:
            raise ValueError("customers_create_bulk writes one contact per customer")
        customer = self.customer
        values = {name: getattr(customer, name) for name in _customer_attnames()}
        contact = None
        if self.contacts:
            contact = {k: v for k, v in self.contacts[0].items() if k != "is_primary"}
        return NewCustomer(
            values=values, owner_id=self.owner.pk, contact=contact, tags=list(self.tags)
        )


@cache
def _customer_attnames() -> tuple[str, ...]:
    return tuple(f.attname for f in Customer._meta.concrete_fields if not f.primary_key)


@cache
def _customer_builder() -> InstanceBuilder:
    """New customers as ``Customer(...)`` builds them (each field's default, callable ones
    called per instance), for a third of its cost: a batch prepares a thousand."""
    return InstanceBuilder(Customer)


def _clean_new_contact(actor: User, index: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """One contact sent with a new customer: its fields and its custom values (errors of the
    latter name ``contacts[<index>].custom.<key>``, apart from the customer's own)."""
    data = dict(data)
    try:
        custom = custom_fields.take("contact", data, user=actor, creating=True)
    except InvalidInput as error:
        raise InvalidInput(
            error.detail,
            errors={f"contacts[{index}].{name}": m for name, m in error.errors.items()},
        ) from error
    cleaned = _clean_contact_data(data, partial=False)
    if custom:
        cleaned["custom"] = custom
    return cleaned


def customer_prepare(
    *,
    actor: User,
    data: dict[str, Any],
    contacts: Sequence[dict[str, Any]] = (),
    tags: Sequence[str] = (),
    owners: OwnerRule | None = None,
    lookups: Lookups | None = None,
) -> PreparedCustomer:
    """``customer_create``'s checks of its input, without writing: the role and owner rules,
    status, the fields' values, the entry rules, the contacts' values and rules, the tags.

    With ``lookups`` (a batch: ``kehu.integrations``' upsert) reference values are resolved
    once per batch, and the two checks that would cost a query per record are left to the
    caller: the credit code's uniqueness and the existence of the industry and region rows
    (just read by ``lookups``). The caller checks duplicates (``find_duplicates`` or
    ``duplicate_suspects``), which also finds a credit code in use."""
    _require_may_create(actor)
    data = dict(data)
    if lookups is not None:
        lookups.resolve(data)
    owner = _resolve_user("owner", data.pop("owner", None) or actor)
    owners = owners or OwnerRule(actor)
    owners.know(owner)
    refusal = owners.refusal(owner.pk)
    if refusal is not None:
        raise Forbidden(refusal)
    status = data.pop("status", None) or CustomerStatus.POTENTIAL
    if status not in CustomerStatus.values:
        raise _field_error("status", _("Unknown status %(status)s.") % {"status": str(status)})
    customer = cast(Customer, _customer_builder().build({"department_id": owner.department_id}))
    customer.owner = owner
    customer.created_by = actor
    customer.status = status
    custom = data.pop("custom", None)
    take_markers(data)
    assigned = _assign(customer, data, EDITABLE_FIELDS)
    customer.custom = custom_fields.clean("customer", custom, user=actor, creating=True)
    if not customer.name:
        raise _field_error("name", _("Enter the customer's full name."))
    customer.region_id = _region_of(customer.region_id, customer.credit_code)
    if lookups is None:
        _validate_customer(customer)
    else:
        # the fields left at their defaults pass by construction: check the ones set here
        _validate_customer(customer, batch=True, only=assigned | {"status", "custom"})
    cleaned_contacts = [_clean_new_contact(actor, index, c) for index, c in enumerate(contacts)]
    for cleaned in cleaned_contacts:
        check_contact_rules(cleaned)
    check_customer_rules(customer, cleaned_contacts)
    tag_names = [str(raw).strip() for raw in tags if str(raw).strip()]
    if any(len(name) > 50 for name in tag_names):
        raise _field_error("tags", _("A tag has at most 50 characters."))
    if lookups is not None:
        # _fix_primary's choice, and full_clean's checks of the values set (no instance)
        flagged = [c for c in cleaned_contacts if c.get("is_primary")]
        chosen = next(iter(flagged or cleaned_contacts), None)
        for cleaned in cleaned_contacts:
            cleaned["is_primary"] = cleaned is chosen
            validate_values(Contact, cleaned)
    return PreparedCustomer(customer, owner, cleaned_contacts, tag_names)


@transaction.atomic
def customer_create(
    *,
    actor: User,
    data: dict[str, Any],
    contacts: Sequence[dict[str, Any]] = (),
    tags: Sequence[str] = (),
    force: bool = False,
) -> Customer:
    """Validate, dedup, number and save a customer (with contacts and tags) in one transaction."""
    prepared = customer_prepare(actor=actor, data=data, contacts=contacts, tags=tags)
    customer, owner, cleaned_contacts = prepared.customer, prepared.owner, prepared.contacts
    _check_duplicates(
        actor=actor,
        customer=customer,
        phones=[c[f] for c in cleaned_contacts for f in ("mobile", "work_phone") if c.get(f)],
        emails=[c["email"] for c in cleaned_contacts if c.get("email")],
        force=force,
    )
    now = timezone.now()
    current = {"status": customer.status, "region_id": customer.region_id}
    new_values = _new_values(
        current, actor_id=actor.pk, owner_id=owner.pk, department_id=owner.department_id, now=now
    )
    for attname, value in new_values.items():
        setattr(customer, attname, value)
    industry, region = customer.industry, customer.region  # resolved by _assign, or one query
    _number(
        [customer],
        _Prefixes(
            {industry.code: industry} if industry else {}, {region.code: region} if region else {}
        ),
    )
    contact_rows = [Contact(customer=customer, **c) for c in cleaned_contacts]
    _fix_primary(contact_rows)
    _apply_derived(customer, contact_rows)
    reason = _("Customer created")
    stamp(customer, actor=actor, reason=reason)
    _insert_customer(customer)
    for contact in contact_rows:
        contact.customer = customer
        validate(contact, exclude=["customer"])
    _insert_contacts_of_one(contact_rows, actor=actor, reason=reason, now=now)
    if prepared.tags:
        customer.tags.add(*_tags_from_names(prepared.tags))
    StatusChange.objects.create(**_status_change(customer, actor=actor, now=now, reason=reason))
    hooks.customers_changed([customer.pk])
    events.emit("customer.created", customer.pk, actor=actor)
    return customer


def _insert_customer(customer: Customer) -> None:
    """Save the new customer (and its history row). Of its input only the credit code is
    unique, so only a customer with one is saved in a savepoint, whose two statements turn
    a clash into a field error without spoiling an enclosing transaction."""
    if not customer.credit_code:
        customer.save()
        return
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError as error:
        raise _field_error(
            "credit_code", _("Another customer already has this credit code.")
        ) from error


def _insert_contacts_of_one(
    contacts: Sequence[Contact], *, actor: User, reason: str, now: datetime
) -> None:
    """The new customer's contacts and their history rows: two INSERTs for any number of
    contacts, where a save each wrote two per contact. ``bulk_create`` sends no signals, so
    the history rows get the request id here, as ``core.history`` stamps a saved one."""
    if not contacts:
        return
    Contact.objects.bulk_create(contacts)
    Contact.history.bulk_history_create(
        contacts,
        default_user=actor,
        default_change_reason=reason,
        default_date=now,
        custom_historical_attrs={"request_id": current_request_id()},
    )


# --- A batch of cleaned rows ------------------------------------------------------------------


@dataclass
class NewCustomer:
    """One row for ``customers_create_bulk``, already cleaned and checked for duplicates.

    ``values`` holds Customer attnames (``industry_id`` / ``region_id`` as codes); ``contact``
    Contact attnames of its one contact, if any; ``pinyin`` the name's (full, initials) and
    ``name_key`` its ``company_key`` when the caller computed them already (the import does,
    in its reading process).
    """

    values: dict[str, Any]
    owner_id: int | None = None  # None: the actor
    contact: dict[str, Any] | None = None
    tags: Sequence[str] = ()
    pinyin: tuple[str, str] | None = None
    name_key: str | None = None


class BulkCreation:
    """What ``customers_create_bulk`` reads once and reuses for every batch of one caller (an
    import): the owner rule and owners' departments, reference data, tags, number prefixes,
    prepared INSERTs. The caller may ask ``owners`` before the first batch (the import checks
    each row's owner while it plans); the rest is read with the first batch."""

    def __init__(self, actor: User) -> None:
        self.actor = actor
        self.owners = OwnerRule(actor)
        self._prefixes: _Prefixes | None = None
        self.tags: dict[str, int] = {}
        self.customers = InstanceBuilder(Customer)
        self.contacts = InstanceBuilder(Contact)
        self.tables = {
            "customer": RowInserter(Customer),
            "customer_history": RowInserter(Customer.history.model),
            "contact": RowInserter(Contact),
            "contact_history": RowInserter(Contact.history.model),
            "status_change": RowInserter(StatusChange),
        }

    @property
    def prefixes(self) -> _Prefixes:
        if self._prefixes is None:
            industries = {i.code: i for i in Industry.objects.all()}
            regions = {r.code: r for r in Region.objects.select_related("parent")}
            self._prefixes = _Prefixes(industries, regions)
            self.tags = dict(Tag.objects.values_list("name", "pk"))
        return self._prefixes


@transaction.atomic
def customers_create_bulk(
    *,
    actor: User,
    rows: Sequence[NewCustomer],
    reason: str = "",
    creation: BulkCreation | None = None,
) -> list[Customer]:
    """Create a batch of new customers, in the rows' order, with ``customer_create``'s rules.

    A fixed number of statements per call: one numbering round, then multi-row INSERTs (see
    ``kehu.core.bulk_insert``) of the customers, their history rows, contacts, contact history
    rows, status-change rows and tag links. The rows must be cleaned and deduplicated by the
    caller; an owner the actor may not give customers to fails the whole batch (403).
    ``creation`` carries what one caller's batches share; ``reason`` goes into the history and
    status-change rows (default: "Customer created").
    """
    if not rows:
        return []
    _require_may_create(actor)
    creation = creation or BulkCreation(actor)
    if creation.actor.pk != actor.pk:
        raise ValueError("a BulkCreation serves the actor it was made for")
    reason = reason or _("Customer created")
    now = timezone.now()
    grade_rules = config.get("customers.grade_rules")
    built: list[tuple[NewCustomer, Customer, Contact | None]] = []
    actor_id = actor.pk
    for row in rows:
        owner_id = row.owner_id or actor_id
        refusal = creation.owners.refusal(owner_id)
        if refusal is not None:
            raise Forbidden(refusal)
        department_id = creation.owners.department_of(owner_id)
        values = _new_values(
            row.values, actor_id=actor_id, owner_id=owner_id, department_id=department_id, now=now
        )
        customer = cast(Customer, creation.customers.build(values))
        contact = None
        if row.contact is not None:
            contact_values = {**row.contact, "is_primary": True, "created_at": now}
            contact = cast(Contact, creation.contacts.build({**contact_values, "updated_at": now}))
        built.append((row, customer, contact))
    customers = [customer for _row, customer, _contact in built]
    _number(customers, creation.prefixes)
    grades: dict[Any, str] = {}
    for row, customer, contact in built:
        _apply_derived(
            customer,
            [contact] if contact else [],
            pinyin=row.pinyin,
            name_key=row.name_key,
            grade_rules=grade_rules,
            grades=grades,
        )
    history = bulk_stamp(actor=actor, date=now, action="+", reason=reason)
    _insert_customers(creation, customers, now=now, history=history, reason=reason)
    contacts: list[Contact] = []
    links: list[tuple[int, str]] = []
    for row, customer, contact in built:
        if contact is not None:
            contact.customer_id = customer.pk
            contacts.append(contact)
        links.extend((customer.pk, name) for name in row.tags)
    _insert_contacts(creation, contacts, history=history)
    _link_tags(creation, links)
    hooks.customers_changed(customer.pk for customer in customers)
    events.emit_many("customer.created", [customer.pk for customer in customers], actor=actor)
    return customers


def _insert_customers(
    creation: BulkCreation,
    customers: list[Customer],
    *,
    now: datetime,
    history: dict[str, Any],
    reason: str,
) -> None:
    table = creation.tables["customer"]
    columns, values = table.object_rows(customers)
    ids = table.insert_returning(values, key="number", columns=columns)
    for customer in customers:
        customer.pk = ids[customer.number]
        customer._state.adding = False
    history_table = creation.tables["customer_history"]
    history_columns, history_rows = history_table.object_rows(customers, history)
    history_table.insert(history_rows, history_columns)
    events = creation.tables["status_change"]
    actor = creation.actor
    events.insert(
        events.row(_status_change(customer, actor=actor, now=now, reason=reason))
        for customer in customers
    )


def _insert_contacts(
    creation: BulkCreation, contacts: list[Contact], *, history: dict[str, Any]
) -> None:
    if not contacts:
        return
    table = creation.tables["contact"]
    columns, values = table.object_rows(contacts)
    ids = table.insert_returning(values, key="customer_id", columns=columns)  # one per customer
    for contact in contacts:
        contact.pk = ids[contact.customer_id]
        contact._state.adding = False
    history_table = creation.tables["contact_history"]
    history_columns, history_rows = history_table.object_rows(contacts, history)
    history_table.insert(history_rows, history_columns)


def _link_tags(creation: BulkCreation, links: list[tuple[int, str]]) -> None:
    if not links:
        return
    missing = {name for _pk, name in links if name not in creation.tags}
    if missing:
        Tag.objects.bulk_create([Tag(name=name) for name in missing], ignore_conflicts=True)
        creation.tags.update(Tag.objects.filter(name__in=missing).values_list("name", "pk"))
    through = Customer.tags.through
    through.objects.bulk_create(
        [through(customer_id=pk, tag_id=creation.tags[name]) for pk, name in links],
        batch_size=2000,
        ignore_conflicts=True,
    )
