"""External ids and upsert: another system (an ERP) names Kehu's customers, contacts and
opportunities by its own ids and creates or updates them idempotently.

Every write goes through the record's own services, as the UI's do: ``customer_create`` /
``customer_update`` / ``customer_reassign`` (dedup, numbering, entry rules, history, the
customers-changed report), ``contact_create`` / ``contact_update``, ``opportunity_create`` /
``opportunity_update``. This module adds only the mapping (``ExternalId``) and the
idempotence around them:

- an external id not known yet creates the record (or, with ``kehu_id``, attaches the id to an
  existing record the caller may edit) and the mapping, in one transaction;
- a known external id updates its record; a record outside the caller's scope is 404 and
  nothing changes; the same input as last time on a record nobody changed since
  (``fingerprint`` and ``seen_version``) is "unchanged" without running the services;
- ``upsert_many`` answers per record: one bad record answers its errors and the others are
  written; a failed record leaves nothing behind. New customers go through one batch
  (``customer_prepare``'s checks per record, ``duplicate_suspects`` and
  ``customers_create_bulk`` for all: a fixed number of statements), every other record
  through its own savepoint and the single path.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import BaseModel, ValidationError

from kehu.accounts.models import User
from kehu.core import custom_fields
from kehu.core.bulk_insert import RowInserter, RowUpdater
from kehu.core.collections_gc import few_collections
from kehu.core.errors import Conflict, InvalidInput, KehuError, NotFound
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer, CustomerKind
from kehu.integrations.models import ExternalId, ExternalKind
from kehu.opportunities import services as deal_services
from kehu.opportunities.models import Opportunity

MAX_RECORDS = 1000
# a batch's new mappings in one INSERT (COPY), those it remembers in one UPDATE
# (``kehu.core.bulk_insert``)
_MAPPINGS = RowInserter(ExternalId)
_REMEMBER = RowUpdater(ExternalId, ("fingerprint", "seen_version", "updated_at"))
SYSTEM_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
MAX_EXTERNAL_ID = 100


class Result:
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ERROR = "error"


RESULTS = (Result.CREATED, Result.UPDATED, Result.UNCHANGED, Result.ERROR)


@dataclass
class Outcome:
    """What one record's upsert did: ``result`` and the Kehu id of its record, or the error
    that left it unwritten."""

    result: str
    object_id: int | None = None
    error: KehuError | None = None
    system: str = ""
    external_id: str = ""

    def payload(self, index: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "index": index,
            "system": self.system,
            "id": self.external_id,
            "result": self.result,
            "object_id": self.object_id,
            "detail": None,
            "code": None,
            "errors": None,
        }
        if self.error is not None:
            body.update(detail=self.error.detail, code=self.error.code)
            body["errors"] = self.error.errors or None
        return body


# --- The reference ------------------------------------------------------------------------------


def clean_reference(system: Any, external_id: Any) -> tuple[str, str]:
    """The system (lower case: ``kingdee``) and the external id (trimmed) of a reference, or
    422 naming ``system`` / ``id``."""
    errors: dict[str, list[str]] = {}
    system_text = str(system or "").strip().lower()
    if not SYSTEM_PATTERN.match(system_text):
        errors["system"] = [
            _(
                "Name the system in 1 to 40 letters, digits, dots, dashes or underscores "
                "(e.g. kingdee)."
            )
        ]
    id_text = str(external_id or "").strip()
    if not id_text or len(id_text) > MAX_EXTERNAL_ID or not id_text.isprintable():
        errors["id"] = [
            _("Give the external id in 1 to %(count)s printable characters.")
            % {"count": MAX_EXTERNAL_ID}
        ]
    if errors:
        raise InvalidInput(errors=errors)
    return system_text, id_text


def fingerprint(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _mapping(kind: str, system: str, external_id: str) -> ExternalId | None:
    return (
        ExternalId.objects.select_for_update()
        .filter(kind=kind, system=system, external_id=external_id)
        .first()
    )


def _attach(*, actor: User, kind: str, system: str, external_id: str, object_id: int) -> ExternalId:
    """The mapping of a record that has none in ``system`` yet; a clash (the record has
    another id in this system, or a concurrent call took this id) is a 409."""
    if ExternalId.objects.filter(kind=kind, object_id=object_id, system=system).exists():
        raise Conflict(
            _("This record already has another external id in %(system)s.") % {"system": system},
            code="external_id_conflict",
        )
    try:
        with transaction.atomic():
            return ExternalId.objects.create(
                kind=kind,
                object_id=object_id,
                system=system,
                external_id=external_id,
                created_by=actor,
            )
    except IntegrityError as error:
        raise Conflict(
            _("Another request created this external id at the same time; send it again."),
            code="external_id_conflict",
        ) from error


def _remember(mapping: ExternalId, data: Mapping[str, Any], version: int) -> None:
    mapping.fingerprint = fingerprint(data)
    mapping.seen_version = version
    mapping.save(update_fields=["fingerprint", "seen_version", "updated_at"])


def move_customer_ids(survivor_id: int, merged_id: int) -> None:
    """A merge (``customers.hooks.on_customers_merged``, in its transaction): the merged
    customer's external ids name the survivor. In a system where the survivor has an id of
    its own already (a record has one id per system), the merged customer's id is dropped:
    that system then has two records for one customer, and its next upsert of the dropped id
    creates a customer again unless it names the survivor (``kehu_id``) or the system merges
    its records too (docs/integration.md)."""
    merged = ExternalId.objects.filter(kind=ExternalKind.CUSTOMER, object_id=merged_id)
    taken = ExternalId.objects.filter(kind=ExternalKind.CUSTOMER, object_id=survivor_id)
    merged.filter(system__in=taken.values("system")).delete()
    # the survivor's version changes with the merge: the next upsert runs the services again
    merged.update(object_id=survivor_id, seen_version=None)


# --- The kinds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """How one kind of record is found in the caller's scope, created and updated."""

    kind: str
    model: type[Any]
    visible: Callable[[User], Any]  # the caller's visible rows of the model
    create: Callable[[User, str, dict[str, Any]], Any]  # (actor, system, data) -> record
    update: Callable[[User, str, Any, dict[str, Any]], Any]  # (actor, system, record, data)
    not_found: str = "record"
    extra: dict[str, Any] = field(default_factory=dict)


def _customer_data(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str] | None, bool]:
    skip = {"tags", "force", "owner_id", "kehu_id", "contacts"}
    fields = {k: v for k, v in data.items() if k not in skip}
    return fields, data.get("tags"), bool(data.get("force"))


def _create_customer(actor: User, system: str, data: dict[str, Any]) -> Customer:
    fields, tags, force = _customer_data(data)
    if data.get("owner_id") is not None:
        fields["owner"] = data["owner_id"]
    return customer_services.customer_create(
        actor=actor,
        data=fields,
        contacts=[dict(contact) for contact in data.get("contacts") or ()],
        tags=tags or (),
        force=force,
    )


def _update_customer(actor: User, system: str, customer: Customer, data: dict[str, Any]) -> Any:
    fields, tags, force = _customer_data(data)
    if fields.get("status") is None:
        fields.pop("status", None)
    owner_id = data.get("owner_id")
    if owner_id is not None and owner_id != customer.owner_id:
        owner = User.objects.filter(pk=owner_id, is_active=True).first()
        if owner is None:
            raise InvalidInput(errors={"owner_id": [_("Choose an active user.")]})
        customer_services.customer_reassign(
            actor=actor,
            customer=customer,
            owner=owner,
            reason=_("Synchronised from %(system)s") % {"system": system},
        )
    if tags is not None:
        current = set(customer.tags.values_list("name", flat=True))
        if current == {name.strip() for name in tags if name.strip()}:
            tags = None
    return customer_services.customer_update(
        actor=actor, customer=customer, changes=fields, tags=tags, force=force
    )


def _customer_of(actor: User, system: str, data: dict[str, Any]) -> Customer:
    """The customer a new contact or deal belongs to: ``customer_id``, or the customer's
    external id in the same system (``customer_external_id``); 422 naming the field when
    neither is given, 404 when it is not the caller's."""
    external = data.pop("customer_external_id", None)
    customer_id = data.pop("customer_id", None)
    if external:
        mapping = ExternalId.objects.filter(
            kind=ExternalKind.CUSTOMER, system=system, external_id=str(external).strip()
        ).first()
        if mapping is None:
            raise InvalidInput(
                errors={"customer_external_id": [_("No customer has this external id.")]}
            )
        customer_id = mapping.object_id
    if customer_id is None:
        raise InvalidInput(
            errors={"customer_id": [_("Name the customer: customer_id or customer_external_id.")]}
        )
    customer = Customer.objects.visible_to(actor).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound("customer")
    return customer


def _check_same_customer(actor: User, system: str, record: Any, data: dict[str, Any]) -> None:
    if data.get("customer_id") is None and not data.get("customer_external_id"):
        return
    customer = _customer_of(actor, system, data)
    if customer.pk != record.customer_id:
        raise InvalidInput(errors={"customer_id": [_("A record cannot move to another customer.")]})


def _contact_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    skip = {"force", "kehu_id", "customer_id", "customer_external_id"}
    return {k: v for k, v in data.items() if k not in skip}


def _create_contact(actor: User, system: str, data: dict[str, Any]) -> Contact:
    data = dict(data)
    customer = _customer_of(actor, system, data)
    return customer_services.contact_create(
        actor=actor, customer=customer, data=_contact_fields(data), force=bool(data.get("force"))
    )


def _update_contact(actor: User, system: str, contact: Contact, data: dict[str, Any]) -> Any:
    data = dict(data)
    _check_same_customer(actor, system, contact, data)
    return customer_services.contact_update(
        actor=actor, contact=contact, changes=_contact_fields(data)
    )


def _deal_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    skip = {"kehu_id", "customer_id", "customer_external_id", "owner_id"}
    fields = {k: v for k, v in data.items() if k not in skip}
    if data.get("owner_id") is not None:
        fields["owner"] = data["owner_id"]
    return fields


def _create_deal(actor: User, system: str, data: dict[str, Any]) -> Opportunity:
    data = dict(data)
    customer = _customer_of(actor, system, data)
    return deal_services.opportunity_create(actor=actor, customer=customer, data=_deal_fields(data))


def _update_deal(actor: User, system: str, deal: Opportunity, data: dict[str, Any]) -> Any:
    data = dict(data)
    _check_same_customer(actor, system, deal, data)
    fields = _deal_fields(data)
    stage = fields.pop("stage", None)
    if stage is not None and stage != deal.stage.code:
        raise InvalidInput(
            errors={"stage": [_("Move an existing deal with the stage action, not an upsert.")]}
        )
    return deal_services.opportunity_update(actor=actor, opportunity=deal, data=fields)


def _visible_contacts(actor: User) -> Any:
    return Contact.objects.filter(customer__in=Customer.objects.visible_to(actor))


KINDS: dict[str, Kind] = {
    ExternalKind.CUSTOMER: Kind(
        ExternalKind.CUSTOMER,
        Customer,
        lambda actor: Customer.objects.visible_to(actor),
        _create_customer,
        _update_customer,
        "customer",
    ),
    ExternalKind.CONTACT: Kind(
        ExternalKind.CONTACT,
        Contact,
        _visible_contacts,
        _create_contact,
        _update_contact,
        "contact",
    ),
    ExternalKind.OPPORTUNITY: Kind(
        ExternalKind.OPPORTUNITY,
        Opportunity,
        lambda actor: Opportunity.objects.visible_to(actor),
        _create_deal,
        _update_deal,
        "opportunity",
    ),
}


# --- One record ---------------------------------------------------------------------------------


@transaction.atomic
def external_upsert(
    *, actor: User, kind: str, system: str, external_id: str, data: Mapping[str, Any]
) -> Outcome:
    """Create or update the ``kind`` record that ``system`` calls ``external_id`` with
    ``data`` (the fields of the record's API input, plus ``kehu_id`` to attach the id to an
    existing record). Raises the services' errors; writes nothing then."""
    spec = KINDS[kind]
    system, external_id = clean_reference(system, external_id)
    data = dict(data)
    mapping = _mapping(kind, system, external_id)
    record = None
    if mapping is not None:
        record = spec.visible(actor).filter(pk=mapping.object_id).first()
        if record is None:
            if spec.model.objects.filter(pk=mapping.object_id).exists():
                raise NotFound(spec.not_found)
            mapping.delete()  # the record was deleted (or merged away): the id is free again
            mapping = None
    if mapping is None:
        kehu_id = data.get("kehu_id")
        if kehu_id is None:
            created = spec.create(actor, system, data)
            mapping = _attach(
                actor=actor, kind=kind, system=system, external_id=external_id, object_id=created.pk
            )
            _remember(mapping, data, created.version)
            return Outcome(Result.CREATED, created.pk, system=system, external_id=external_id)
        record = spec.visible(actor).filter(pk=kehu_id).first()
        if record is None:
            raise NotFound(spec.not_found)
        mapping = _attach(
            actor=actor, kind=kind, system=system, external_id=external_id, object_id=record.pk
        )
    elif record is not None and data.get("kehu_id") not in (None, record.pk):
        raise InvalidInput(errors={"kehu_id": [_("This external id belongs to another record.")]})
    assert record is not None
    if mapping.fingerprint == fingerprint(data) and mapping.seen_version == record.version:
        return Outcome(Result.UNCHANGED, record.pk, system=system, external_id=external_id)
    before = record.version
    tags_before = _tag_names(record) if kind == ExternalKind.CUSTOMER else None
    saved = spec.update(actor, system, record, data)
    changed = saved.version != before or (
        tags_before is not None and tags_before != _tag_names(saved)
    )
    _remember(mapping, data, saved.version)
    result = Result.UPDATED if changed else Result.UNCHANGED
    return Outcome(result, saved.pk, system=system, external_id=external_id)


def _tag_names(customer: Customer) -> set[str]:
    return set(
        Customer.tags.through.objects.filter(customer_id=customer.pk).values_list(
            "tag__name", flat=True
        )
    )


# --- Many records -------------------------------------------------------------------------------


def upsert_many(
    *,
    actor: User,
    kind: str,
    records: Sequence[Any],
    schema: type[BaseModel],
) -> list[Outcome]:
    """Upsert up to ``MAX_RECORDS`` records, each ``{"system", "id", "data": {...}}`` with
    ``data`` checked against ``schema`` (the API's input of one record); the outcomes in the
    records' order. New customers are written first, together (``_create_customers``); every
    other record, in the records' order, in its own savepoint through the single path.

    A nightly sync sends mostly records that did not change: their mappings and their
    records' versions are read for the whole call in two queries, and a record whose input
    and version match the last upsert is "unchanged" without a savepoint or a service call."""
    if len(records) > MAX_RECORDS:
        raise InvalidInput(
            errors={
                "records": [_("Send at most %(count)s records a call.") % {"count": MAX_RECORDS}]
            }
        )
    with few_collections():
        return _upsert_many(actor=actor, kind=kind, records=records, schema=schema)


def _upsert_many(
    *,
    actor: User,
    kind: str,
    records: Sequence[Any],
    schema: type[BaseModel],
) -> list[Outcome]:
    parsed = [_parsed(record, schema) for record in records]
    outcomes: list[Outcome | None] = [
        item if isinstance(item, Outcome) else None for item in parsed
    ]
    with transaction.atomic(), custom_fields.pinned():
        # the call's mappings, read once for the unchanged shortcut and both batches
        mappings = _mappings_of(kind, [item for item in parsed if not isinstance(item, Outcome)])
        known = _known(actor, kind, mappings)
        for index, item in enumerate(parsed):
            if isinstance(item, Outcome):
                continue
            system, external_id, data = item
            hit = known.pop((system, external_id), None)
            if hit is not None and hit[0] == fingerprint(data):
                outcomes[index] = Outcome(
                    Result.UNCHANGED, hit[1], system=system, external_id=external_id
                )
        if kind == ExternalKind.CUSTOMER:
            lookalikes = _create_customers(actor, parsed, outcomes, set(mappings))
            _update_customers(actor, parsed, outcomes, mappings)
            _create_lookalikes(actor, outcomes, lookalikes)
        for index, item in enumerate(parsed):
            if outcomes[index] is None:
                assert not isinstance(item, Outcome)
                outcomes[index] = _write(actor, kind, *item)
    return [outcome for outcome in outcomes if outcome is not None]


Ready = tuple[int, str, str, dict[str, Any], customer_services.PreparedCustomer]


def _create_customers(
    actor: User,
    parsed: Sequence[Parsed | Outcome],
    outcomes: list[Outcome | None],
    mapped: set[tuple[str, str]],
) -> list[Ready]:
    """The call's new customers, written together (``customers_create_bulk``: a fixed
    number of statements for the batch) through ``customer_create``'s rules: each record is
    checked as ``customer_prepare`` checks a single create (its errors are its outcome), the
    batch's duplicates are looked up at once (``duplicate_suspects``), and the mappings are
    inserted together. A record is left to the single path (``_write``, after the batch, in
    order) when anything makes it special: an external id already mapped or repeated in the
    call, ``kehu_id``, ``force``, more than one contact. Fills ``outcomes`` of the records it
    wrote or refused, and returns the possible duplicates (look-alikes) for
    ``_create_lookalikes``. ``mapped``: the call's references that had a mapping when the
    call began."""
    seen: set[tuple[str, str]] = set()
    chosen: list[tuple[int, str, str, dict[str, Any]]] = []
    for index, item in enumerate(parsed):
        if isinstance(item, Outcome):
            continue
        system, external_id, data = item
        ref = (system, external_id)
        first = ref not in seen
        seen.add(ref)
        if (
            outcomes[index] is None
            and first
            and ref not in mapped
            and data.get("kehu_id") is None
            and not data.get("force")
            and len(data.get("contacts") or ()) <= 1
        ):
            chosen.append((index, system, external_id, data))
    if not chosen:
        return []
    owners = customer_services.OwnerRule(actor)
    lookups = customer_services.Lookups()
    ready: list[Ready] = []
    for index, system, external_id, data in chosen:
        fields, tags, _force = _customer_data(data)
        if data.get("owner_id") is not None:
            fields["owner"] = data["owner_id"]
        try:
            prepared = customer_services.customer_prepare(
                actor=actor,
                data=fields,
                contacts=[dict(contact) for contact in data.get("contacts") or ()],
                tags=tags or (),
                owners=owners,
                lookups=lookups,
            )
        except KehuError as error:
            outcomes[index] = Outcome(
                Result.ERROR, None, error, system=system, external_id=external_id
            )
            continue
        ready.append((index, system, external_id, data, prepared))
    suspects = customer_services.duplicate_suspects(
        [_dedup_keys(prepared) for *_head, prepared in ready]
    )
    batch = [entry for entry, suspect in zip(ready, suspects, strict=True) if not suspect]
    _write_new(actor, batch, outcomes)
    return [entry for entry, suspect in zip(ready, suspects, strict=True) if suspect]


def _create_lookalikes(
    actor: User, outcomes: list[Outcome | None], lookalikes: list[Ready]
) -> None:
    """The look-alikes of the create batch, answered as the single path would answer them
    after the batches (``customer_create``: a ``409 duplicate`` with the matches, or the
    customer when the suspicion was false), for the whole call at once
    (``duplicates_in_turn``): the errors are their outcomes, the clear ones are written
    together. Only the look-alikes before the first record left to the single path: what
    that one writes may change the answers of the records after it. The rest, and any
    ``duplicates_in_turn`` leaves undecided, go through the single path as before."""
    if not lookalikes:
        return
    waiting = {entry[0] for entry in lookalikes}
    first = next(
        (
            index
            for index, outcome in enumerate(outcomes)
            if outcome is None and index not in waiting
        ),
        len(outcomes),
    )
    turn = [entry for entry in lookalikes if entry[0] < first]
    if not turn:
        return
    answers = customer_services.duplicates_in_turn(
        [_dedup_keys(prepared) for *_head, prepared in turn], actor=actor
    )
    for position, error in answers.duplicates.items():
        index, system, external_id, _data, _prepared = turn[position]
        outcomes[index] = Outcome(Result.ERROR, None, error, system=system, external_id=external_id)
    _write_new(actor, [turn[position] for position in answers.clear], outcomes)


def _write_new(actor: User, batch: list[Ready], outcomes: list[Outcome | None]) -> None:
    """Write checked new customers and their mappings together, and fill their outcomes;
    on a clash with a concurrent writer, none (they go one by one then)."""
    if not batch:
        return
    try:
        with transaction.atomic():
            customers = customer_services.customers_create_bulk(
                actor=actor, rows=[prepared.as_new_customer() for *_head, prepared in batch]
            )
            now = timezone.now()
            _MAPPINGS.insert(
                _MAPPINGS.row(
                    {
                        "kind": ExternalKind.CUSTOMER,
                        "object_id": customer.pk,
                        "system": system,
                        "external_id": external_id,
                        "fingerprint": fingerprint(data),
                        "seen_version": customer.version,
                        "created_at": now,
                        "updated_at": now,
                        "created_by_id": actor.pk,
                    }
                )
                for (_index, system, external_id, data, _prepared), customer in zip(
                    batch, customers, strict=True
                )
            )
    except IntegrityError:
        return  # a concurrent writer took a credit code or an external id: one by one, then
    for (index, system, external_id, _data, _prepared), customer in zip(
        batch, customers, strict=True
    ):
        outcomes[index] = Outcome(
            Result.CREATED, customer.pk, system=system, external_id=external_id
        )


def _update_customers(
    actor: User,
    parsed: Sequence[Parsed | Outcome],
    outcomes: list[Outcome | None],
    mappings: dict[tuple[str, str], ExternalId],
) -> None:
    """The call's changed customers, updated together (``customers_update_batch``: each by
    ``customer_update``'s rules, a fixed number of queries for the batch), and their mappings
    remembered in one UPDATE. A record is left to the single path when its external id is
    repeated in the call, it carries ``kehu_id`` or ``force``, it changes the owner or the
    tags, or the batch answers ``SINGLE`` (not editable, a change that needs a duplicate
    check or a grade, a status change). Fills ``outcomes`` of the records it answered.
    ``mappings``: the call's mappings when it began (a reference first mapped by the create
    batch has its outcome already, or is repeated in the call: neither is chosen here)."""
    counts = Counter((item[0], item[1]) for item in parsed if not isinstance(item, Outcome))
    chosen: dict[int, tuple[int, ExternalId, dict[str, Any]]] = {}  # customer id: ...
    for index, item in enumerate(parsed):
        if isinstance(item, Outcome) or outcomes[index] is not None:
            continue
        system, external_id, data = item
        mapping = mappings.get((system, external_id))
        if (
            mapping is None
            or counts[(system, external_id)] > 1
            or mapping.object_id in chosen
            or data.get("kehu_id") is not None
            or data.get("force")
        ):
            continue
        chosen[mapping.object_id] = (index, mapping, data)
    if not chosen:
        return
    owners = dict(
        Customer.objects.visible_to(actor).filter(pk__in=chosen).values_list("pk", "owner_id")
    )
    tags: dict[int, set[str]] = {}
    if any(data.get("tags") is not None for _i, _m, data in chosen.values()):
        links = Customer.tags.through.objects.filter(customer_id__in=chosen)
        for customer_id, name in links.values_list("customer_id", "tag__name"):
            tags.setdefault(customer_id, set()).add(name)
    changes: dict[int, dict[str, Any]] = {}
    for customer_id, (_index, _mapping, data) in chosen.items():
        owner_id = data.get("owner_id")
        if owner_id is not None and owner_id != owners.get(customer_id):
            continue
        wanted = data.get("tags")
        if wanted is not None and tags.get(customer_id, set()) != {
            name.strip() for name in wanted if name.strip()
        }:
            continue
        fields, _tags, _force = _customer_data(data)
        if fields.get("status") is None:
            fields.pop("status", None)
        changes[customer_id] = fields
    if not changes:
        return
    batch = customer_services.customers_update_batch(actor=actor, changes=changes)
    remembered: list[ExternalId] = []
    now = timezone.now()
    for customer_id, answer in batch.answers.items():
        index, mapping, data = chosen[customer_id]
        system, external_id = mapping.system, mapping.external_id
        if answer is None:
            continue
        if isinstance(answer, KehuError):
            outcomes[index] = Outcome(
                Result.ERROR, None, answer, system=system, external_id=external_id
            )
            continue
        changed = customer_id in batch.changed
        mapping.fingerprint = fingerprint(data)
        mapping.seen_version = answer.version
        mapping.updated_at = now
        remembered.append(mapping)
        outcomes[index] = Outcome(
            Result.UPDATED if changed else Result.UNCHANGED,
            customer_id,
            system=system,
            external_id=external_id,
        )
    _REMEMBER.update_objects(remembered)


def _mappings_of(kind: str, items: Sequence[Parsed]) -> dict[tuple[str, str], ExternalId]:
    """The mappings of the call's references, by reference: one query."""
    refs = {(system, external_id) for system, external_id, _data in items}
    if not refs:
        return {}
    rows = ExternalId.objects.filter(
        kind=kind,
        system__in={system for system, _id in refs},
        external_id__in={external_id for _system, external_id in refs},
    )
    return {
        (row.system, row.external_id): row for row in rows if (row.system, row.external_id) in refs
    }


def _dedup_keys(prepared: customer_services.PreparedCustomer) -> customer_services.DedupKeys:
    customer, contacts = prepared.customer, prepared.contacts
    return customer_services.DedupKeys(
        name=customer.name if customer.kind == CustomerKind.COMPANY else "",
        phones=[c[f] for c in contacts for f in ("mobile", "work_phone") if c.get(f)],
        emails=[c["email"] for c in contacts if c.get("email")],
        credit_code=customer.credit_code or "",
        written_name=customer.name,
    )


Parsed = tuple[str, str, dict[str, Any]]


def _parsed(record: Any, schema: type[BaseModel]) -> Parsed | Outcome:
    system = external_id = ""
    try:
        if not isinstance(record, Mapping):
            raise InvalidInput(errors={"record": [_("Each record is an object.")]})
        system, external_id = clean_reference(record.get("system"), record.get("id"))
        return system, external_id, parse(schema, record.get("data") or {})
    except KehuError as error:
        return Outcome(Result.ERROR, None, error, system=system, external_id=external_id)


def _known(
    actor: User, kind: str, mapped: dict[tuple[str, str], ExternalId]
) -> dict[tuple[str, str], tuple[str, int]]:
    """(fingerprint, record id) of the call's references whose record the actor sees at the
    version of its last upsert (``mapped``: the call's mappings): one query for the call."""
    mappings = [row for row in mapped.values() if row.fingerprint]
    if not mappings:
        return {}
    versions = dict(
        KINDS[kind]
        .visible(actor)
        .filter(pk__in=[row.object_id for row in mappings])
        .values_list("pk", "version")
    )
    return {
        (row.system, row.external_id): (row.fingerprint, row.object_id)
        for row in mappings
        if row.seen_version is not None and versions.get(row.object_id) == row.seen_version
    }


def _write(actor: User, kind: str, system: str, external_id: str, data: dict[str, Any]) -> Outcome:
    try:
        with transaction.atomic():
            return external_upsert(
                actor=actor, kind=kind, system=system, external_id=external_id, data=data
            )
    except KehuError as error:
        return Outcome(Result.ERROR, None, error, system=system, external_id=external_id)


def parse(schema: type[BaseModel], data: Any) -> dict[str, Any]:
    """``data`` checked against ``schema``: the fields it set, or 422 naming each wrong field."""
    if not isinstance(data, Mapping):
        raise InvalidInput(errors={"data": [_("The record's data is an object.")]})
    try:
        parsed = schema.model_validate(dict(data))
    except ValidationError as problem:
        errors: dict[str, list[str]] = {}
        for item in problem.errors():
            name = ".".join(str(part) for part in item["loc"]) or "data"
            errors.setdefault(name, []).append(str(item["msg"]))
        raise InvalidInput(errors=errors) from problem
    return parsed.model_dump(exclude_unset=True)
