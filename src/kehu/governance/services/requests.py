"""Personal-data requests (个人信息主体权利, PIPL arts. 44–47): a contact or a lead asks to see
a copy of what Kehu holds about them, to have it corrected, or to have it erased.

Administrators log each request with the day it arrived; the answer is due within
``governance.request_working_days`` (15) working days on the China business calendar
(``kehu.service.services.calendar``: holidays and 调休 workdays). A request is completed or
refused with a reason; every step is an audit entry naming ids only. Corrections go through
the contact's and the lead's own update services with the request named in the history row;
erasure goes through the destruction engine, one person at a time.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import User
from kehu.core import audit, config
from kehu.core.access import is_admin
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kehu.core.services import bump_version, check_version
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer
from kehu.governance.models import RequestKind, RequestStatus, SubjectRequest, SubjectType
from kehu.governance.services import destruction
from kehu.leads.models import Lead
from kehu.leads.services import lead_update
from kehu.service.services import calendar

WORKING_DAYS = config.define(
    "governance.request_working_days",
    15,
    gettext_lazy("Working days to answer a personal-data request"),
    group="governance",
    unit=gettext_lazy("working days"),
    minimum=1,
    maximum=30,
    help=gettext_lazy(
        "A request to see, correct or erase a person's data is due this many working days "
        "after it arrived, counted on the business calendar (public holidays and 调休)."
    ),
)

# What a correction may change: the person's own details, nothing about the sale.
CORRECTABLE = {
    SubjectType.CONTACT: (
        "name", "gender", "title", "work_phone", "mobile", "mobile_reason", "email", "wechat",
        "notes",
    ),
    SubjectType.LEAD: ("contact_name", "company_name", "mobile", "email"),
}  # fmt: skip


def requests_may_manage(user: Any) -> bool:
    return is_admin(user)


def _require_admin(actor: Any) -> None:
    if not requests_may_manage(actor):
        raise Forbidden(_("Only administrators handle personal-data requests."))


def deadline_for(received: date) -> date:
    """The N-th working day after ``received`` (N = the setting)."""
    wanted = int(config.get(WORKING_DAYS.key))
    hours = calendar.working_hours()
    day, counted = received, 0
    for _step in range(400):
        day += timedelta(days=1)
        if calendar.is_business_day(day, hours=hours):
            counted += 1
            if counted >= wanted:
                return day
    return day


def subject_of(*, user: Any, subject_type: str, subject_id: int) -> Contact | Lead:
    """The person, read through the access gate (an unknown or unseen id is ``NotFound``)."""
    if subject_type == SubjectType.CONTACT:
        contact = (
            Contact.objects.filter(pk=subject_id, customer__in=Customer.objects.visible_to(user))
            .select_related("customer")
            .first()
        )
        if contact is None:
            raise NotFound("contact")
        return contact
    if subject_type == SubjectType.LEAD:
        lead = Lead.objects.visible_to(user).filter(pk=subject_id).first()
        if lead is None:
            raise NotFound("lead")
        return lead
    raise InvalidInput(errors={"subject_type": [_("Choose a contact or a lead.")]})


def _record(action: str, actor: Any, request: SubjectRequest, **details: Any) -> None:
    details = {
        "kind": request.kind,
        "subject_type": request.subject_type,
        "subject_id": request.subject_id,
        **details,
    }
    audit.record(f"governance.request_{action}", actor=actor, target=request, details=details)


@transaction.atomic
def request_create(
    *,
    actor: User,
    kind: str,
    subject_type: str,
    subject_id: int,
    received_on: date | None = None,
    notes: str = "",
) -> SubjectRequest:
    _require_admin(actor)
    errors: dict[str, list[str]] = {}
    if kind not in RequestKind.values:
        errors["kind"] = [_("Choose access, correction or erasure.")]
    if subject_type not in SubjectType.values:
        errors["subject_type"] = [_("Choose a contact or a lead.")]
    today = timezone.localdate()
    received = received_on or today
    if received > today:
        errors["received_on"] = [_("A request cannot arrive in the future.")]
    elif received < today - timedelta(days=366):
        errors["received_on"] = [_("Give a day within the last year.")]
    notes = (notes or "").strip()
    if len(notes) > 2000:
        errors["notes"] = [_("At most %(limit)d characters.") % {"limit": 2000}]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)
    subject = subject_of(user=actor, subject_type=subject_type, subject_id=subject_id)
    request = SubjectRequest.objects.create(
        kind=kind,
        subject_type=subject_type,
        subject_id=subject.pk,
        contact=subject if isinstance(subject, Contact) else None,
        lead=subject if isinstance(subject, Lead) else None,
        received_on=received,
        deadline=deadline_for(received),
        notes=notes,
        created_by=actor,
    )
    _record("created", actor, request, deadline=request.deadline)
    return request


def request_get(*, user: Any, request_id: int) -> SubjectRequest:
    _require_admin(user)
    found = (
        SubjectRequest.objects.select_related(
            "contact", "contact__customer", "lead", "created_by", "handled_by"
        )
        .filter(pk=request_id)
        .first()
    )
    if found is None:
        raise NotFound("personal-data request")
    return found


def _lock_open(request: SubjectRequest, version: int | None) -> SubjectRequest:
    locked = SubjectRequest.objects.select_for_update().get(pk=request.pk)
    check_version(locked, version)
    if locked.status != RequestStatus.OPEN:
        raise Conflict(_("This request has already been answered."), code="request_closed")
    return locked


def history_reason(request: SubjectRequest) -> str:
    return _("Personal-data request #%(id)s (correction)") % {"id": request.pk}


def _subject_or_conflict(actor: User, request: SubjectRequest) -> Contact | Lead:
    try:
        return subject_of(
            user=actor, subject_type=request.subject_type, subject_id=request.subject_id
        )
    except NotFound:
        raise Conflict(
            _("Kehu no longer holds this person's record."), code="subject_gone"
        ) from None


def _correct(actor: User, request: SubjectRequest, changes: dict[str, Any] | None) -> list[str]:
    if not changes:
        raise InvalidInput(
            _("Give the corrected values."),
            errors={"changes": [_("Give at least one corrected value.")]},
        )
    allowed = CORRECTABLE[SubjectType(request.subject_type)]
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise InvalidInput(
            _("These fields cannot be corrected here: %(fields)s.")
            % {"fields": ", ".join(unknown)},
            errors={name: [_("This field cannot be corrected here.")] for name in unknown},
        )
    subject = _subject_or_conflict(actor, request)
    reason = history_reason(request)
    if isinstance(subject, Contact):
        customer_services.contact_update(
            actor=actor, contact=subject, changes=dict(changes), reason=reason
        )
    else:
        lead_update(actor=actor, lead=subject, changes=dict(changes), version=None, reason=reason)
    return sorted(changes)


def _erase(actor: User, request: SubjectRequest) -> None:
    subject = _subject_or_conflict(actor, request)
    reason = f"pipl_request:{request.pk}"
    if isinstance(subject, Contact):
        destruction.destroy_contact(subject, actor=actor, reason=reason)
    else:
        destruction.destroy_lead(subject, actor=actor, reason=reason)


@transaction.atomic
def request_complete(
    *,
    actor: User,
    request: SubjectRequest,
    version: int | None = None,
    changes: dict[str, Any] | None = None,
) -> SubjectRequest:
    """Answer the request: for a correction apply ``changes`` (field → corrected value)
    through the person's own update service; for an erasure destroy the person's data; for
    access the copy was given from the export. All or nothing."""
    _require_admin(actor)
    locked = _lock_open(request, version)
    details: dict[str, Any] = {}
    if locked.kind == RequestKind.CORRECTION:
        details["fields"] = _correct(actor, locked, changes)
    elif changes:
        raise InvalidInput(errors={"changes": [_("Only a correction takes corrected values.")]})
    if locked.kind == RequestKind.ERASURE:
        _erase(actor, locked)
        locked.contact, locked.lead = None, None  # the erasure emptied the links
    locked.status = RequestStatus.DONE
    locked.handled_by = actor
    locked.handled_at = timezone.now()
    bump_version(locked)
    locked.save()
    _record("completed", actor, locked, **details)
    return locked


@transaction.atomic
def request_refuse(
    *, actor: User, request: SubjectRequest, reason: str, version: int | None = None
) -> SubjectRequest:
    """Refuse with the reason told to the person (e.g. the identity could not be verified)."""
    _require_admin(actor)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(errors={"reason": [_("Say why the request is refused.")]})
    if len(reason) > 500:
        raise InvalidInput(errors={"reason": [_("At most %(limit)d characters.") % {"limit": 500}]})
    locked = _lock_open(request, version)
    locked.status = RequestStatus.REFUSED
    locked.refusal_reason = reason
    locked.handled_by = actor
    locked.handled_at = timezone.now()
    bump_version(locked)
    locked.save()
    _record("refused", actor, locked)
    return locked


def request_exported(*, actor: User, request: SubjectRequest, fmt: str) -> None:
    """Audit a copy of the person's data handed out (the export itself is a selector)."""
    _require_admin(actor)
    _record("exported", actor, request, format=fmt)
