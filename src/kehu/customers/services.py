"""Every write to customers and contacts: validation, numbering, dedup, history, merge.

Public functions (other apps call these; keyword-only, explicit acting user):
``customer_create``, ``customer_update``, ``customer_change_status``, ``customer_reassign``,
``customer_share``, ``customer_unshare``, ``customer_mark_verified``, ``customer_record_contact``,
``customer_set_grade``, ``customer_recompute_grades``, ``customer_merge``, ``customer_delete``,
``customer_set_tags``, ``contact_create``, ``contact_update``, ``contact_deactivate``,
``find_duplicates``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rapidfuzz import fuzz
from simple_history.utils import bulk_update_with_history
from stdnum.cn import uscc
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
)
from stdnum.exceptions import (
    ValidationError as StdnumValidationError,
)

from kehu.accounts.models import Role, User
from kehu.core import config
from kehu.core.access import is_admin, managed_department_ids, policy_of
from kehu.core.errors import Conflict, Forbidden, InvalidInput, KehuError
from kehu.core.history import stamp
from kehu.core.services import bump_version, check_version, validate
from kehu.customers import grading, numbering
from kehu.customers.models import (
    Contact,
    Customer,
    CustomerAttachment,
    CustomerKind,
    CustomerShare,
    CustomerStatus,
    Grade,
    Industry,
    Region,
    SavedFilter,
    StatusChange,
    Tag,
    VerificationChannel,
)
from kehu.customers.normalize import (
    company_key,
    completeness,
    digits,
    email_normalised,
    fold,
    phone_e164,
    search_text,
)

DUPLICATE_NAME_SCORE = config.define(
    "customers.duplicate_name_score",
    88,
    gettext_lazy("Similarity (0-100) from which two company names count as the same customer"),
)
NAME_CANDIDATES = 300  # at most this many rows are fuzzy-compared per check
NAME_PREFIX = 4  # candidates share the first characters of the normalised name

# Fields a user may set on create / update (status and owner have their own actions on update).
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "kind",
        "credit_code",
        "industry",
        "region",
        "employees_band",
        "revenue_band",
        "source",
        "source_detail",
        "initial_need",
        "address",
        "website",
        "social_accounts",
        "founded_on",
        "main_business",
        "notes",
        "competitors",
        "cooperation_history",
        "annual_budget",
        "priority",
        "to_verify",
    }
)
CREATE_FIELDS = EDITABLE_FIELDS | {"status", "owner"}
# Fields the 待核实 marker may be put on.
VERIFIABLE_FIELDS = frozenset(EDITABLE_FIELDS - {"to_verify", "kind", "priority"})
CONTACT_FIELDS = frozenset(
    {
        "name",
        "title",
        "work_phone",
        "mobile",
        "email",
        "wechat",
        "is_decision_maker",
        "is_primary",
        "notes",
    }
)
CONTACT_INFO_FIELDS = frozenset({"work_phone", "mobile", "email", "wechat", "name"})


# --- Duplicates -------------------------------------------------------------------------------


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
    email_set = {e.lower() for e in (email_normalised(v) for v in emails if v) if e}
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


# --- Validation helpers -----------------------------------------------------------------------


def _field_error(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors={field: [message]})


def clean_credit_code(value: Any) -> str | None:
    """统一社会信用代码 checked with stdnum.cn.uscc; a message that names the problem."""
    text = fold(str(value or "")).upper()
    if not text:
        return None
    try:
        return str(uscc.validate(text))
    except InvalidLength:
        message = _("The unified social credit code must have 18 characters.")
    except InvalidFormat:
        message = _(
            "The unified social credit code may contain only digits and the letters "
            "0-9 A-H J-N P-R T U W-Y."
        )
    except InvalidComponent:
        message = _("The unified social credit code contains an unknown registration part.")
    except InvalidChecksum:
        message = _("The check digit of the unified social credit code does not match.")
    except StdnumValidationError:
        message = _("This is not a valid unified social credit code.")
    raise _field_error("credit_code", message)


def _clean_phone(field: str, value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        return ""
    number = phone_e164(text)
    if number is None:
        raise _field_error(
            field,
            _("%(value)s is not a valid phone number; write e.g. 13812345678 or 021-12345678.")
            % {"value": text[:40]},
        )
    return number


def _clean_email(value: Any) -> str:
    text = str(value or "").strip()
    if not text:
        return ""
    address = email_normalised(text)
    if address is None:
        raise _field_error(
            "email", _("%(value)s is not a valid email address.") % {"value": text[:80]}
        )
    return address.lower()


def _resolve_industry(value: Any) -> Industry | None:
    if value in (None, ""):
        return None
    if isinstance(value, Industry):
        return value
    industry = Industry.objects.filter(code=str(value).strip().upper()).first()
    if industry is None:
        raise _field_error(
            "industry", _("Unknown industry code %(code)s.") % {"code": str(value)[:10]}
        )
    return industry


def _resolve_region(value: Any) -> Region | None:
    if value in (None, ""):
        return None
    if isinstance(value, Region):
        return value
    region = Region.objects.select_related("parent").filter(code=str(value).strip()).first()
    if region is None:
        raise _field_error("region", _("Unknown region code %(code)s.") % {"code": str(value)[:10]})
    return region


def _resolve_user(field: str, value: Any) -> User:
    if isinstance(value, User):
        user: User | None = value
    else:
        try:
            user = User.objects.filter(pk=int(value)).first()
        except (TypeError, ValueError):
            user = None
    if user is None or not user.is_active:
        raise _field_error(field, _("Choose an active user."))
    return user


def _clean_value(name: str, value: Any) -> Any:
    """Turn API/form input into model values; reference codes are checked here."""
    if name == "industry":
        return _resolve_industry(value)
    if name == "region":
        return _resolve_region(value)
    if name == "credit_code":
        return clean_credit_code(value)
    if name == "annual_budget":
        if value in (None, ""):
            return None
        try:
            amount = Decimal(str(value))
        except InvalidOperation as error:
            raise _field_error(name, _("Enter an amount in yuan.")) from error
        if amount < 0 or not amount.is_finite():
            raise _field_error(name, _("Enter an amount in yuan."))
        return amount
    if name == "founded_on":
        if value in (None, ""):
            return None
        if isinstance(value, date):
            return value
        parsed = parse_date(str(value))
        if parsed is None:
            raise _field_error(name, _("Enter a date as YYYY-MM-DD."))
        return parsed
    if name == "to_verify":
        items = list(value or [])
        unknown = [str(item) for item in items if item not in VERIFIABLE_FIELDS]
        if unknown:
            raise _field_error(
                name,
                _("These fields cannot be marked to be verified: %(fields)s.")
                % {"fields": ", ".join(unknown)[:200]},
            )
        return sorted(set(items))
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return value


def _assign(customer: Customer, data: dict[str, Any], allowed: frozenset[str]) -> set[str]:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(
            _("These fields cannot be set here: %(fields)s.") % {"fields": ", ".join(unknown)},
            errors={name: [_("This field cannot be set here.")] for name in unknown},
        )
    changed: set[str] = set()
    for name, raw in data.items():
        value = _clean_value(name, raw)
        attname = _attname(Customer, name)
        current = getattr(customer, name if name in ("industry", "region") else attname)
        if name in ("industry", "region"):
            current_pk = getattr(customer, attname)
            if (value.pk if value is not None else None) != current_pk:
                setattr(customer, name, value)
                changed.add(name)
        elif current != value:
            setattr(customer, name, value)
            changed.add(name)
    return changed


def _attname(model: type[models.Model], name: str) -> str:
    model_field = model._meta.get_field(name)
    assert isinstance(model_field, models.Field)
    return str(model_field.attname)


def _check_text_lengths(instance: models.Model) -> None:
    """TextFields' max_length is not a model validator in Django; enforce it here."""
    errors: dict[str, list[str]] = {}
    for model_field in instance._meta.concrete_fields:
        if isinstance(model_field, models.TextField) and model_field.max_length:
            value = getattr(instance, model_field.attname) or ""
            if len(value) > model_field.max_length:
                errors[model_field.name] = [
                    _("Ensure this value has at most %(limit)d characters (it has %(count)d).")
                    % {"limit": model_field.max_length, "count": len(value)}
                ]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)


def _validate_customer(customer: Customer) -> None:
    _check_text_lengths(customer)
    validate(
        customer,
        exclude=["number", "name_key", "search_text", "owner", "department", "created_by"],
    )


def _require_editable(actor: Any, customer: Customer) -> Customer:
    """Lock the row and check the actor may edit it (404 otherwise, like every scope miss)."""
    locked = (
        Customer.objects.select_for_update()
        .filter(pk=customer.pk)
        .filter(policy_of(Customer).edit_filter(actor))
        .first()
    )
    if locked is None:
        raise Http404(_("customer"))
    return locked


def _require_manager(actor: Any) -> None:
    if not (is_admin(actor) or getattr(actor, "role", "") == Role.MANAGER):
        raise Forbidden(_("Only managers and CRM administrators may do this."))


def _check_masked(actor: Any, customer: Customer, names: Iterable[str]) -> None:
    hidden = policy_of(Customer).masked_fields(actor, customer)
    blocked = sorted(hidden & set(names))
    if blocked:
        raise Forbidden(
            _("You may not change these sensitive fields: %(fields)s.")
            % {"fields": ", ".join(blocked)}
        )


def refresh_search(
    customer: Customer,
    contacts: Iterable[Contact] | None = None,
    *,
    pinyin: tuple[str, str] | None = None,
) -> None:
    """Recompute the denormalised keys (name_key, search_text) from the customer and contacts;
    ``pinyin`` is the name's (full, initials) when the caller computed it already."""
    if contacts is None:
        contacts = Contact.objects.filter(customer_id=customer.pk) if customer.pk else []
    extra: list[str] = []
    reachable = False
    for contact in contacts:
        if contact.is_active and (contact.mobile or contact.work_phone or contact.email):
            reachable = True
        extra.append(contact.name)
        for phone in (contact.mobile, contact.work_phone):
            if phone:
                extra.append(digits(phone))
        if contact.email:
            extra.append(contact.email)
    if customer.credit_code:
        extra.append(customer.credit_code)
    customer.name_key = company_key(customer.name)
    customer.search_text = search_text(
        name=customer.name, number=customer.number, extra=extra, pinyin=pinyin
    )
    customer.completeness = completeness(customer, reachable_contact=reachable)


def _save_search(customer: Customer) -> None:
    refresh_search(customer)
    Customer.objects.filter(pk=customer.pk).update(
        name_key=customer.name_key,
        search_text=customer.search_text,
        completeness=customer.completeness,
    )


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


# --- Customers --------------------------------------------------------------------------------


def _tags_from_names(names: Iterable[str]) -> list[Tag]:
    tags: list[Tag] = []
    for raw in names:
        name = str(raw).strip()
        if not name:
            continue
        if len(name) > 50:
            raise _field_error("tags", _("A tag has at most 50 characters."))
        tags.append(Tag.objects.get_or_create(name=name)[0])
    return tags


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
    data = dict(data)
    owner = _resolve_user("owner", data.pop("owner", None) or actor)
    if owner.pk != actor.pk and not (is_admin(actor) or actor.role == Role.MANAGER):
        raise Forbidden(_("Only managers and CRM administrators may create for someone else."))
    if (
        actor.role == Role.MANAGER
        and not is_admin(actor)
        and owner.pk != actor.pk
        and owner.department_id not in managed_department_ids(actor)
    ):
        raise Forbidden(_("The owner must be in your department."))
    status = data.pop("status", None) or CustomerStatus.POTENTIAL
    if status not in CustomerStatus.values:
        raise _field_error("status", _("Unknown status %(status)s.") % {"status": str(status)})
    customer = Customer(owner=owner, department_id=owner.department_id, created_by=actor)
    customer.status = status
    _assign(customer, data, EDITABLE_FIELDS)
    if not customer.name:
        raise _field_error("name", _("Enter the customer's full name."))
    if customer.region_id is None and customer.credit_code:
        # Digits 3–8 of a 统一社会信用代码 are the registering GB/T 2260 division.
        from kehu.customers.credit_code import region_code_from_credit_code

        customer.region_id = region_code_from_credit_code(customer.credit_code)
    _validate_customer(customer)
    cleaned_contacts = [_clean_contact_data(c, partial=False) for c in contacts]
    _check_duplicates(
        actor=actor,
        customer=customer,
        phones=[c[f] for c in cleaned_contacts for f in ("mobile", "work_phone") if c.get(f)],
        emails=[c["email"] for c in cleaned_contacts if c.get("email")],
        force=force,
    )
    customer.number = numbering.next_number(
        industry=customer.industry,
        region=customer.region,
        kind=customer.kind,
        on=timezone.localdate(),
    )
    now = timezone.now()
    customer.created_at = now
    customer.contact_info_updated_at = now
    contact_rows = [Contact(customer=customer, **c) for c in cleaned_contacts]
    _fix_primary(contact_rows)
    refresh_search(customer, contact_rows)
    _set_grade(customer)
    stamp(customer, actor=actor, reason=_("Customer created"))
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError as error:
        raise _field_error(
            "credit_code", _("Another customer already has this credit code.")
        ) from error
    for contact in contact_rows:
        contact.customer = customer
        validate(contact, exclude=["customer"])
        stamp(contact, actor=actor)
        contact.save()
    if tags:
        customer.tags.add(*_tags_from_names(tags))
    StatusChange.objects.create(
        customer=customer,
        old_status="",
        new_status=customer.status,
        changed_by=actor,
        changed_at=now,
        reason=_("Customer created"),
    )
    return customer


def _set_grade(customer: Customer) -> None:
    """Compute the grade before a save, so the history row carries it with the change."""
    if customer.pk is None:
        value = grading.GradeInput(Decimal(customer.annual_budget or 0), 0)
    else:
        value = grading.gather_inputs([customer])[customer.pk]
    customer.grade = grading.grade_for(value)


@transaction.atomic
def customer_update(
    *,
    actor: User,
    customer: Customer,
    changes: dict[str, Any],
    version: int | None = None,
    force: bool = False,
) -> Customer:
    """Change profile fields; ``version`` guards against overwriting someone else's edit."""
    locked = _require_editable(actor, customer)
    check_version(locked, version)
    changes = dict(changes)
    status = changes.pop("status", None)
    reason = str(changes.pop("reason", "") or "")
    _check_masked(actor, locked, changes)
    changed = _assign(locked, changes, EDITABLE_FIELDS)
    if status is not None and status not in CustomerStatus.values:
        raise _field_error("status", _("Unknown status %(status)s.") % {"status": str(status)})
    if not locked.name:
        raise _field_error("name", _("Enter the customer's full name."))
    if changed:
        _validate_customer(locked)
        if changed & {"name", "credit_code", "kind"}:
            _check_duplicates(actor=actor, customer=locked, force=force)
        refresh_search(locked)
        if "annual_budget" in changed:
            _set_grade(locked)
        bump_version(locked)
        stamp(locked, actor=actor, reason=reason)
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError as error:
            raise _field_error(
                "credit_code", _("Another customer already has this credit code.")
            ) from error
    if status is not None and status != locked.status:
        locked = customer_change_status(actor=actor, customer=locked, status=status, reason=reason)
    _copy_into(customer, locked)
    return customer


def _copy_into(target: Customer, source: Customer) -> None:
    if target is source:
        return
    for model_field in Customer._meta.concrete_fields:
        setattr(target, model_field.attname, getattr(source, model_field.attname))
    for name in ("industry", "region", "owner", "department"):
        if name in source._state.fields_cache:
            target._state.fields_cache[name] = source._state.fields_cache[name]
        else:
            target._state.fields_cache.pop(name, None)


@transaction.atomic
def customer_change_status(
    *, actor: User | None, customer: Customer, status: str, reason: str = ""
) -> Customer:
    """Move the lifecycle status (潜在→意向→成交→流失) and record who/when/why."""
    if status not in CustomerStatus.values:
        raise _field_error("status", _("Unknown status %(status)s.") % {"status": str(status)})
    if actor is None:
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
    else:
        locked = _require_editable(actor, customer)
    if locked.status == status:
        _copy_into(customer, locked)
        return customer
    if len(reason) > 500:
        raise _field_error("reason", _("Keep the reason under 500 characters."))
    old = locked.status
    locked.status = status
    bump_version(locked)
    stamp(locked, actor=actor, reason=reason)
    locked.save()
    StatusChange.objects.create(
        customer=locked, old_status=old, new_status=status, changed_by=actor, reason=reason
    )
    _copy_into(customer, locked)
    return customer


@transaction.atomic
def customer_reassign(*, actor: User, customer: Customer, owner: User, reason: str) -> Customer:
    """Give the customer to another owner (managers and admins); the department follows."""
    _require_manager(actor)
    locked = _require_editable(actor, customer)
    owner = _resolve_user("owner", owner)
    if not reason.strip():
        raise _field_error("reason", _("Give a reason for the reassignment."))
    if len(reason) > 300:
        raise _field_error("reason", _("Keep the reason under 300 characters."))
    if not is_admin(actor) and owner.department_id not in managed_department_ids(actor):
        raise Forbidden(_("The new owner must be in your department."))
    if locked.owner_id == owner.pk:
        _copy_into(customer, locked)
        return customer
    locked.owner = owner
    locked.department_id = owner.department_id
    bump_version(locked)
    stamp(locked, actor=actor, reason=reason.strip())
    locked.save()
    _copy_into(customer, locked)
    return customer


@transaction.atomic
def customer_share(
    *, actor: User, customer: Customer, user: User, can_edit: bool = False
) -> CustomerShare:
    """Share with a colleague read-only or read-write (owner, manager, admin)."""
    locked = _require_editable(actor, customer)
    if not policy_of(Customer).has_full_access(actor, locked):
        raise Forbidden(_("Only the owner, their manager or an administrator may share."))
    user = _resolve_user("user", user)
    if user.pk == locked.owner_id:
        raise _field_error("user", _("The owner already has access."))
    share, _created = CustomerShare.objects.update_or_create(
        customer=locked, user=user, defaults={"can_edit": can_edit, "shared_by": actor}
    )
    return share


@transaction.atomic
def customer_unshare(*, actor: User, customer: Customer, user: User) -> None:
    locked = _require_editable(actor, customer)
    if not policy_of(Customer).has_full_access(actor, locked):
        raise Forbidden(_("Only the owner, their manager or an administrator may share."))
    CustomerShare.objects.filter(customer=locked, user=user).delete()


@transaction.atomic
def customer_set_tags(*, actor: User, customer: Customer, tags: Sequence[str]) -> Customer:
    locked = _require_editable(actor, customer)
    wanted = _tags_from_names(tags)
    locked.tags.set(wanted)
    return customer


@transaction.atomic
def customer_add_tags(*, actor: User, customer: Customer, tags: Sequence[str]) -> Customer:
    locked = _require_editable(actor, customer)
    locked.tags.add(*_tags_from_names(tags))
    return customer


def customers_add_tags_bulk(
    *, actor: User, customers: Sequence[Customer], tags: Sequence[str]
) -> int:
    """The customer list's "add tags" to every selected customer, all or nothing."""
    names = [name.strip() for name in tags if name.strip()]
    if not names:
        raise _field_error("tags", _("Enter the tags to add."))
    return _all_or_nothing(
        customers, lambda customer: customer_add_tags(actor=actor, customer=customer, tags=names)
    )


def customers_reassign_bulk(
    *, actor: User, customers: Sequence[Customer], owner: User | None, reason: str
) -> int:
    """The customer list's "reassign" of every selected customer, all or nothing."""
    if owner is None:
        raise _field_error("owner", _("Choose the new owner."))
    return _all_or_nothing(
        customers,
        lambda customer: customer_reassign(
            actor=actor, customer=customer, owner=owner, reason=reason
        ),
    )


def _all_or_nothing(customers: Sequence[Customer], change: Callable[[Customer], object]) -> int:
    """Apply ``change`` to each customer in one transaction and return how many were changed.

    The first customer it fails for undoes the others: a half-applied reassignment leaves the
    user to find out which customers moved. The error names that customer.
    """
    with transaction.atomic():
        for customer in customers:
            try:
                change(customer)
            except (KehuError, Http404) as error:
                if isinstance(error, KehuError):
                    reason, code = error.detail, error.code
                else:
                    reason, code = _("You may not change this customer."), "not_found"
                message = _("%(customer)s: %(reason)s Nothing was changed.") % {
                    "customer": customer.name,
                    "reason": reason,
                }
                raise InvalidInput(message, code=code) from error
    return len(customers)


@transaction.atomic
def customer_mark_verified(
    *, actor: User, customer: Customer, via: str, when: datetime | None = None
) -> Customer:
    """信息已验证: record that the owner confirmed the data, how (phone, 官网, 天眼查…) and when."""
    if via not in VerificationChannel.values:
        raise _field_error(
            "via",
            _("Unknown verification channel %(via)s; use one of %(choices)s.")
            % {"via": str(via)[:20], "choices": ", ".join(VerificationChannel.values)},
        )
    locked = _require_editable(actor, customer)
    locked.verified_at = when or timezone.now()
    locked.verified_by = actor
    locked.verified_via = via
    bump_version(locked)
    stamp(locked, actor=actor, reason=_("Verified"))
    locked.save()
    _copy_into(customer, locked)
    return customer


@transaction.atomic
def customer_record_contact(*, customer: Customer, when: datetime) -> None:
    """A follow-up happened: first contact (if none yet) and the latest contact time."""
    locked = (
        Customer.objects.select_for_update()
        .only("pk", "first_contact_at", "last_contact_at")
        .get(pk=customer.pk)
    )
    first = locked.first_contact_at if locked.first_contact_at else when
    first = min(first, when)
    last = max(locked.last_contact_at, when) if locked.last_contact_at else when
    Customer.objects.filter(pk=locked.pk).update(first_contact_at=first, last_contact_at=last)
    customer.first_contact_at = first
    customer.last_contact_at = last


@transaction.atomic
def customer_set_grade(*, actor: User, customer: Customer, grade: str, reason: str) -> Customer:
    """Override the computed grade by hand (empty ``grade`` removes the override)."""
    locked = _require_editable(actor, customer)
    if grade and grade not in Grade.values:
        raise _field_error("grade", _("Unknown grade %(grade)s.") % {"grade": str(grade)[:5]})
    if grade and not reason.strip():
        raise _field_error("reason", _("Give a reason for the manual grade."))
    if len(reason) > 300:
        raise _field_error("reason", _("Keep the reason under 300 characters."))
    locked.grade_override = grade
    locked.grade_override_reason = reason.strip() if grade else ""
    bump_version(locked)
    stamp(locked, actor=actor, reason=reason.strip())
    locked.save()
    _copy_into(customer, locked)
    return customer


def customer_recompute_grades(*, batch: int = 2000) -> int:
    """Recompute every computed grade; only rows whose grade changes are written (with history)."""
    changed = 0
    last_id = 0
    reason = str(_("Grade recomputed"))
    while True:
        rows = list(Customer.objects.filter(pk__gt=last_id).order_by("pk")[:batch])
        if not rows:
            return changed
        last_id = rows[-1].pk
        inputs = grading.gather_inputs(rows)
        dirty: list[Customer] = []
        for row in rows:
            grade = grading.grade_for(inputs[row.pk])
            if grade != row.grade:
                row.grade = grade
                dirty.append(row)
        if dirty:
            with transaction.atomic():
                bulk_update_with_history(dirty, Customer, ["grade"], default_change_reason=reason)
            changed += len(dirty)


@transaction.atomic
def customer_delete(*, actor: User, customer: Customer, reason: str = "") -> None:
    """Delete a customer (CRM administrators only); contacts and shares go with it."""
    if not is_admin(actor):
        raise Forbidden(_("Only CRM administrators may delete customers."))
    locked = _require_editable(actor, customer)
    stamp(locked, actor=actor, reason=reason or _("Deleted"))
    try:
        with transaction.atomic():
            locked.delete()
    except models.ProtectedError as error:
        raise Conflict(
            _("Other records still point at this customer; merge it instead."),
            code="protected",
        ) from error


def _move_rows(
    model: type[models.Model],
    field_name: str,
    merged: Customer,
    survivor: Customer,
    *,
    actor: Any,
    reason: str,
) -> None:
    """Point every row of ``model`` at the survivor; a row that would break a unique rule
    (the survivor already has the same share, say) is a duplicate and is dropped."""
    manager = model._base_manager
    rows = manager.filter(**{field_name: merged.pk})
    unique_with_field = any(
        field_name in (constraint.fields or ())
        for constraint in model._meta.constraints
        if isinstance(constraint, models.UniqueConstraint)
    ) or any(field_name in group for group in model._meta.unique_together)
    field = model._meta.get_field(field_name)
    assert isinstance(field, models.Field)
    tracked = hasattr(model, "history")
    if not unique_with_field and not field.one_to_one and not tracked:
        rows.update(**{field_name: survivor.pk})
        return
    for row in list(rows):
        setattr(row, field.attname, survivor.pk)
        if tracked:
            stamp(row, actor=actor, reason=reason)
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            manager.filter(pk=row.pk).delete()


@transaction.atomic
def customer_merge(
    *, actor: User, survivor: Customer, merged: Customer, reason: str = ""
) -> Customer:
    """Merge ``merged`` into ``survivor`` (managers and admins).

    Every row of every model that points at the merged customer moves to the survivor —
    found through ``Customer._meta.related_objects``, so records of apps added later
    (follow-ups, opportunities, leads…) move too. Empty fields of the survivor are filled
    from the merged customer; then the merged customer is deleted. Both histories record it.
    """
    _require_manager(actor)
    if survivor.pk == merged.pk:
        raise _field_error("merged", _("A customer cannot be merged into itself."))
    first, second = sorted([survivor, merged], key=lambda c: c.pk)
    locked_first = _require_editable(actor, first)
    locked_second = _require_editable(actor, second)
    keep, gone = (
        (locked_first, locked_second)
        if locked_first.pk == survivor.pk
        else (locked_second, locked_first)
    )
    note = _("Merged %(merged)s (%(merged_number)s) into %(survivor)s (%(survivor_number)s)") % {
        "merged": gone.name,
        "merged_number": gone.number,
        "survivor": keep.name,
        "survivor_number": keep.number,
    }
    if reason.strip():
        note = f"{note}: {reason.strip()}"
    note = note[:100]  # simple-history keeps change reasons in a 100-character column
    for relation in Customer._meta.related_objects:
        if relation.many_to_many:
            through = relation.through  # type: ignore[attr-defined]
            link = next(
                f.name
                for f in through._meta.fields
                if f.is_relation and f.related_model is Customer
            )
            _move_rows(through, link, gone, keep, actor=actor, reason=note)
        else:
            _move_rows(
                relation.related_model, relation.field.name, gone, keep, actor=actor, reason=note
            )
    for m2m in Customer._meta.many_to_many:
        getattr(keep, m2m.name).add(*getattr(gone, m2m.name).all())
    # fill the survivor's gaps from the merged record
    for name in EDITABLE_FIELDS - {"to_verify", "credit_code"}:
        attname = _attname(Customer, name)
        mine, theirs = getattr(keep, attname), getattr(gone, attname)
        if mine in (None, "") and theirs not in (None, ""):
            setattr(keep, attname, theirs)
    moved_code = gone.credit_code if not keep.credit_code else None
    firsts = [v for v in (keep.first_contact_at, gone.first_contact_at) if v]
    keep.first_contact_at = min(firsts) if firsts else None
    lasts = [v for v in (keep.last_contact_at, gone.last_contact_at) if v]
    keep.last_contact_at = max(lasts) if lasts else None
    if not keep.verified_at and gone.verified_at:
        keep.verified_at, keep.verified_by_id, keep.verified_via = (
            gone.verified_at,
            gone.verified_by_id,
            gone.verified_via,
        )
    stamp(gone, actor=actor, reason=note)
    gone.delete()
    if moved_code:
        keep.credit_code = moved_code
    refresh_search(keep)
    _set_grade(keep)
    bump_version(keep)
    stamp(keep, actor=actor, reason=note)
    keep.save()
    _copy_into(survivor, keep)
    return survivor


# --- Contacts ---------------------------------------------------------------------------------


def _clean_contact_data(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    unknown = sorted(set(data) - CONTACT_FIELDS)
    if unknown:
        raise InvalidInput(
            _("These fields cannot be set here: %(fields)s.") % {"fields": ", ".join(unknown)},
            errors={name: [_("This field cannot be set here.")] for name in unknown},
        )
    cleaned: dict[str, Any] = {}
    for name, value in data.items():
        if name in ("mobile", "work_phone"):
            cleaned[name] = _clean_phone(name, value)
        elif name == "email":
            cleaned[name] = _clean_email(value)
        elif name in ("is_decision_maker", "is_primary"):
            cleaned[name] = bool(value)
        else:
            cleaned[name] = str(value or "").strip()
    if not partial and not cleaned.get("name"):
        raise _field_error("name", _("Enter the contact's name."))
    if "name" in cleaned and not cleaned["name"]:
        raise _field_error("name", _("Enter the contact's name."))
    return cleaned


def _fix_primary(contacts: list[Contact]) -> None:
    """Exactly one primary contact among new contacts: the first flagged one, else the first."""
    if not contacts:
        return
    flagged = [c for c in contacts if c.is_primary]
    chosen = flagged[0] if flagged else contacts[0]
    for contact in contacts:
        contact.is_primary = contact is chosen


def _contact_scope(actor: Any, contact: Contact) -> Contact:
    locked = (
        Contact.objects.select_for_update()
        .filter(pk=contact.pk, customer__in=Customer.objects.editable_by(actor).values("pk"))
        .select_related("customer")
        .first()
    )
    if locked is None:
        raise Http404(_("contact"))
    return locked


def _contact_info_touched(customer: Customer) -> None:
    now = timezone.now()
    Customer.objects.filter(pk=customer.pk).update(contact_info_updated_at=now)
    customer.contact_info_updated_at = now
    _save_search(customer)


@transaction.atomic
def contact_create(
    *, actor: User, customer: Customer, data: dict[str, Any], force: bool = False
) -> Contact:
    """Add a contact; its phone/email must not already belong to another customer (unless force)."""
    locked = _require_editable(actor, customer)
    cleaned = _clean_contact_data(data, partial=False)
    if not force:
        matches = find_duplicates(
            phones=[cleaned[f] for f in ("mobile", "work_phone") if cleaned.get(f)],
            emails=[cleaned["email"]] if cleaned.get("email") else [],
            exclude_id=locked.pk,
        )
        if matches:
            raise DuplicateCustomer(matches, actor=actor)
    contact = Contact(customer=locked, **cleaned)
    if not Contact.objects.filter(customer=locked, is_active=True, is_primary=True).exists():
        contact.is_primary = True
    validate(contact, exclude=["customer"])
    if contact.is_primary:
        _clear_primary(locked, actor, except_pk=None)
    stamp(contact, actor=actor)
    contact.save()
    _contact_info_touched(locked)
    return contact


def _clear_primary(customer: Customer, actor: Any, except_pk: int | None) -> None:
    others = Contact.objects.filter(customer=customer, is_primary=True)
    if except_pk is not None:
        others = others.exclude(pk=except_pk)
    for other in others:
        other.is_primary = False
        bump_version(other)
        stamp(other, actor=actor)
        other.save()


@transaction.atomic
def contact_update(
    *, actor: User, contact: Contact, changes: dict[str, Any], version: int | None = None
) -> Contact:
    locked = _contact_scope(actor, contact)
    check_version(locked, version)
    if not locked.is_active and changes:
        raise Conflict(_("This contact has left the customer; it is kept for history only."))
    cleaned = _clean_contact_data(changes, partial=True)
    changed = {name for name, value in cleaned.items() if getattr(locked, name) != value}
    if not changed:
        return locked
    for name in changed:
        setattr(locked, name, cleaned[name])
    validate(locked, exclude=["customer"])
    if "is_primary" in changed and locked.is_primary:
        _clear_primary(locked.customer, actor, except_pk=locked.pk)
    bump_version(locked)
    stamp(locked, actor=actor)
    locked.save()
    if changed & CONTACT_INFO_FIELDS:
        _contact_info_touched(locked.customer)
    return locked


@transaction.atomic
def contact_deactivate(*, actor: User, contact: Contact, reason: str = "") -> Contact:
    """A contact moved out (离职/调岗): kept with is_active=False and left_at, never deleted."""
    locked = _contact_scope(actor, contact)
    if not locked.is_active:
        return locked
    locked.is_active = False
    locked.left_at = timezone.now()
    was_primary = locked.is_primary
    locked.is_primary = False
    bump_version(locked)
    stamp(locked, actor=actor, reason=reason[:100])
    locked.save()
    if was_primary:
        successor = (
            Contact.objects.filter(customer=locked.customer, is_active=True)
            .order_by("-is_decision_maker", "pk")
            .first()
        )
        if successor is not None:
            successor.is_primary = True
            bump_version(successor)
            stamp(successor, actor=actor)
            successor.save()
    _contact_info_touched(locked.customer)
    return locked


# --- Attachments and saved filters ------------------------------------------------------------

ATTACHMENT_MAX_MB = config.define(
    "customers.attachment_max_mb", 20, gettext_lazy("Largest customer attachment, in megabytes")
)
# extension -> (content type, accepted leading bytes; empty: any)
ATTACHMENT_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "pdf": ("application/pdf", (b"%PDF",)),
    "png": ("image/png", (b"\x89PNG",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "gif": ("image/gif", (b"GIF8",)),
    "webp": ("image/webp", (b"RIFF",)),
    "doc": ("application/msword", (b"\xd0\xcf\x11\xe0",)),
    "xls": ("application/vnd.ms-excel", (b"\xd0\xcf\x11\xe0",)),
    "ppt": ("application/vnd.ms-powerpoint", (b"\xd0\xcf\x11\xe0",)),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (b"PK\x03\x04",),
    ),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        (b"PK\x03\x04",),
    ),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        (b"PK\x03\x04",),
    ),
    "txt": ("text/plain", ()),
}


@transaction.atomic
def attachment_add(
    *, actor: User, customer: Customer, upload: Any, description: str = ""
) -> CustomerAttachment:
    """Store an uploaded file on the customer: allowed types only, at most the size limit."""
    locked = _require_editable(actor, customer)
    name = str(getattr(upload, "name", "") or "").replace("\\", "/").split("/")[-1].strip()
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in ATTACHMENT_TYPES:
        raise _field_error(
            "file",
            _("Files of this type cannot be attached; allowed: %(types)s.")
            % {"types": ", ".join(sorted(ATTACHMENT_TYPES))},
        )
    limit_mb = int(config.get("customers.attachment_max_mb"))
    size = int(upload.size or 0)
    if size > limit_mb * 1024 * 1024:
        raise _field_error("file", _("The file is larger than %(limit)d MB.") % {"limit": limit_mb})
    if size == 0:
        raise _field_error("file", _("The file is empty."))
    content_type, signatures = ATTACHMENT_TYPES[extension]
    upload.seek(0)
    head = upload.read(8)
    upload.seek(0)
    if signatures and not any(head.startswith(sig) for sig in signatures):
        raise _field_error(
            "file", _("The file's content does not match its .%(ext)s name.") % {"ext": extension}
        )
    if len(name) > 255 or len(description) > 200:
        raise _field_error("file", _("The file name or description is too long."))
    attachment = CustomerAttachment(
        customer=locked,
        original_name=name,
        size=size,
        content_type=content_type,
        description=description.strip(),
        uploaded_by=actor,
    )
    attachment.file.save(name, upload, save=False)
    attachment.save()
    return attachment


@transaction.atomic
def attachment_delete(*, actor: User, attachment: CustomerAttachment) -> None:
    _require_editable(actor, attachment.customer)
    storage, path = attachment.file.storage, attachment.file.name
    attachment.delete()
    if path:
        transaction.on_commit(lambda: storage.delete(path))


@transaction.atomic
def saved_filter_save(*, user: User, name: str, query: str) -> SavedFilter:
    name = name.strip()
    if not name or len(name) > 60:
        raise _field_error("name", _("Give the filter a name of at most 60 characters."))
    if len(query) > 1000:
        raise _field_error("query", _("This filter is too long to save."))
    saved, _created = SavedFilter.objects.update_or_create(
        user=user, name=name, defaults={"query": query.lstrip("?")}
    )
    return saved


def saved_filter_delete(*, user: User, filter_id: int) -> None:
    SavedFilter.objects.filter(user=user, pk=filter_id).delete()
