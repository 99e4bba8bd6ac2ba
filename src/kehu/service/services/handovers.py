"""Every write of the handovers (服务交接单) and of the routing rules.

A won deal drafts a handover for its owner (``draft_for_won_deal``, registered with
``kehu.opportunities.hooks.on_deal_won``); the owner completes it and submits it, which appoints
a service specialist by the routing rules or by hand; the specialist confirms receipt, and only
then is the handover complete and the customer within the specialist's scope
(``kehu.service.access.handed_customer_ids``). A handover left unconfirmed past
``service.handover_confirm_hours`` is escalated once to the specialist's service managers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import Role, User
from kehu.accounts.selectors import department_supervisors
from kehu.core import audit, config, uploads
from kehu.core.access import is_admin, lock_editable
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kehu.core.history import stamp
from kehu.core.services import bump_version, check_version, validate
from kehu.customers.models import Customer
from kehu.notifications.services import notify
from kehu.opportunities.models import Opportunity
from kehu.service.models import (
    Handover,
    HandoverAttachment,
    HandoverStatus,
    RoutingRule,
    RoutingStrategy,
    RoutingTarget,
    TicketType,
)
from kehu.service.services import routing

CONFIRM_HOURS = config.define(
    "service.handover_confirm_hours",
    24,
    gettext_lazy("Hours a service specialist has to confirm a handover before it is escalated"),
    unit=config.HOURS,
    minimum=1,
    maximum=720,
    help=gettext_lazy(
        "The appointed service specialist confirms a handover (服务交接单) within this time; "
        "later, the manager is told."
    ),
)

EDITABLE_FIELDS = (
    "needs",
    "service_content",
    "response_hours",
    "resolution_hours",
    "contract_terms",
    "special_notes",
    "product",
)
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
WRITER_ROLES = frozenset({Role.SALES, Role.MANAGER, Role.ADMIN})
SPECIALIST_ROLES = frozenset({Role.SERVICE})
RULE_MEMBER_ROLES = frozenset({Role.SERVICE, Role.MANAGER})
RULE_ADMIN_ROLES = frozenset({Role.MANAGER, Role.ADMIN})


def _url(handover: Handover) -> str:
    return reverse("service:handover_detail", args=[handover.pk])


def _is_writer(user: User) -> bool:
    return is_admin(user) or user.role in WRITER_ROLES


def _locked(actor: User, handover: Handover | int, version: int | None = None) -> Handover:
    pk = handover if isinstance(handover, int) else handover.pk
    locked = lock_editable(Handover.objects.all(), actor, pk=pk)
    check_version(locked, version)
    return locked


def _locked_for_writer(actor: User, handover: Handover | int, version: int | None) -> Handover:
    """The handover locked for its sales side: owner, their managers, admins. A specialist who
    sees it (and may confirm it) may not change what sales promised."""
    locked = _locked(actor, handover, version)
    if not _is_writer(actor):
        raise Forbidden(_("Only the sales owner, their managers and administrators may do this."))
    return locked


def handover_may_edit(user: User, handover: Handover) -> bool:
    return _is_writer(user) and handover.status == HandoverStatus.DRAFT


def handover_may_confirm(user: User, handover: Handover) -> bool:
    return handover.status == HandoverStatus.PENDING and handover.specialist_id == user.pk


def handover_may_reassign(user: User, handover: Handover) -> bool:
    return handover.status == HandoverStatus.PENDING and (
        is_admin(user) or user.role == Role.MANAGER
    )


def handover_may_cancel(user: User, handover: Handover) -> bool:
    return _is_writer(user) and handover.status in (HandoverStatus.DRAFT, HandoverStatus.PENDING)


# --- drafting ---------------------------------------------------------------------------------


def _clean(handover: Handover, data: dict[str, Any]) -> bool:
    """Set the editable fields of ``data`` on ``handover``; True if anything changed."""
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    if unknown:
        raise InvalidInput(
            errors={name: [_("This field cannot be changed here.")] for name in unknown}
        )
    changed = False
    errors: dict[str, list[str]] = {}
    for name, value in data.items():
        if name in ("response_hours", "resolution_hours"):
            if value in ("", None):
                value = None
            elif isinstance(value, bool) or not isinstance(value, int | str):
                errors[name] = [_("Enter a whole number of hours.")]
                continue
            else:
                try:
                    value = int(str(value).strip())
                except ValueError:
                    errors[name] = [_("Enter a whole number of hours.")]
                    continue
                if not 1 <= value <= 24 * 365:
                    errors[name] = [_("Enter between 1 and 8760 hours.")]
                    continue
        else:
            if value is None:
                value = ""
            if not isinstance(value, str):
                errors[name] = [_("Enter text.")]
                continue
            value = value.strip()
        if getattr(handover, name) != value:
            setattr(handover, name, value)
            changed = True
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)
    validate(handover)
    return changed


def _notify_owner_of_draft(handover: Handover, actor: User | None) -> None:
    notify(
        recipients=[handover.owner],
        kind="handover_draft",
        title=_("Complete the service handover of %(customer)s") % {"customer": handover.customer},
        body=_(
            "The deal was won: hand the customer to service "
            "(needs, service content, promised times)."
        ),
        url=_url(handover),
        actor=actor,
        dedupe_key=f"handover-draft:{handover.pk}",
    )


def draft_for_won_deal(opportunity: Opportunity, actor: User) -> None:
    handover_draft_for_deal(opportunity, actor)


def handover_draft_for_deal(opportunity: Opportunity, actor: User) -> Handover:
    """The ``on_deal_won`` callback: one draft handover per deal, for the deal's owner.

    Runs inside the winning transaction (the deal's row is locked), so two wins of one deal
    cannot both draft; a deal that already has a handover keeps it.
    """
    existing = Handover.objects.filter(opportunity_id=opportunity.pk).first()
    if existing is not None:
        return existing
    owner = opportunity.owner
    handover = Handover(
        customer_id=opportunity.customer_id,
        opportunity=opportunity,
        owner=owner,
        department_id=opportunity.department_id or owner.department_id,
        needs=(opportunity.needs or "")[:5000],
        status=HandoverStatus.DRAFT,
    )
    stamp(handover, actor=actor, reason=_("Drafted when the deal was won"))
    handover.save()
    _notify_owner_of_draft(handover, actor)
    return handover


@transaction.atomic
def handover_create(
    *,
    actor: User,
    customer: Customer,
    data: dict[str, Any],
    opportunity: Opportunity | None = None,
) -> Handover:
    """A handover drafted by hand for a customer the actor may edit (the win drafts most)."""
    if not _is_writer(actor):
        raise Forbidden(_("Only sales, managers and administrators write handovers."))
    locked_customer = lock_editable(Customer.objects.all(), actor, pk=customer.pk)
    if opportunity is not None:
        deal = Opportunity.objects.select_for_update().filter(pk=opportunity.pk).first()
        if deal is None or deal.customer_id != locked_customer.pk:
            raise InvalidInput(errors={"opportunity_id": [_("Choose a deal of this customer.")]})
        if Handover.objects.filter(opportunity_id=deal.pk).exists():
            raise Conflict(_("This deal already has a handover."), code="handover_exists")
    handover = Handover(
        customer=locked_customer,
        opportunity=opportunity,
        owner=actor,
        department_id=actor.department_id,
        status=HandoverStatus.DRAFT,
    )
    if opportunity is not None and "needs" not in data:
        handover.needs = (opportunity.needs or "")[:5000]
    _clean(handover, data)
    stamp(handover, actor=actor)
    handover.save()
    return handover


@transaction.atomic
def handover_update(
    *, actor: User, handover: Handover, data: dict[str, Any], version: int | None = None
) -> Handover:
    locked = _locked_for_writer(actor, handover, version)
    if locked.status != HandoverStatus.DRAFT:
        raise Conflict(_("Only a draft handover can be edited."), code="handover_not_draft")
    if not _clean(locked, data):
        return locked
    stamp(locked, actor=actor)
    bump_version(locked)
    locked.save()
    return locked


# --- submission and confirmation --------------------------------------------------------------


def submit_problems(handover: Handover) -> dict[str, list[str]]:
    """What a handover lacks before it can go to service (per field)."""
    problems: dict[str, list[str]] = {}
    if not handover.needs.strip():
        problems["needs"] = [_("Describe the customer's needs.")]
    if not handover.service_content.strip():
        problems["service_content"] = [_("Describe the service content agreed in the contract.")]
    if handover.response_hours is None:
        problems["response_hours"] = [_("Give the promised response time.")]
    if handover.resolution_hours is None:
        problems["resolution_hours"] = [_("Give the promised resolution time.")]
    if (
        handover.response_hours is not None
        and handover.resolution_hours is not None
        and handover.resolution_hours < handover.response_hours
    ):
        problems["resolution_hours"] = [
            _("The promised resolution time cannot be shorter than the response time.")
        ]
    return problems


def _specialist(value: User | int | None, field: str = "specialist") -> User:
    pk = value.pk if isinstance(value, User) else value
    if isinstance(pk, bool) or not isinstance(pk, int):
        raise InvalidInput(errors={field: [_("Choose a service specialist.")]})
    user = User.objects.filter(pk=pk, is_active=True, role__in=SPECIALIST_ROLES).first()
    if user is None:
        raise InvalidInput(
            errors={field: [_("The specialist must be an active user of the service role.")]}
        )
    return user


def _notify_specialist(handover: Handover, actor: User | None) -> None:
    notify(
        recipients=[handover.specialist] if handover.specialist else [],
        kind="handover_pending",
        title=_("Confirm the handover of %(customer)s") % {"customer": handover.customer},
        body=_("%(owner)s hands you this customer; read it and confirm receipt.")
        % {"owner": handover.owner},
        url=_url(handover),
        actor=actor,
        dedupe_key=f"handover-pending:{handover.pk}:{handover.specialist_id}:{handover.version}",
    )


@transaction.atomic
def handover_submit(
    *,
    actor: User,
    handover: Handover,
    specialist: User | int | None = None,
    version: int | None = None,
) -> Handover:
    """Hand over to service: complete fields required; a specialist by hand or by rule."""
    locked = _locked_for_writer(actor, handover, version)
    if locked.status != HandoverStatus.DRAFT:
        raise Conflict(_("Only a draft handover can be submitted."), code="handover_not_draft")
    problems = submit_problems(locked)
    chosen: User | None = None
    rule: RoutingRule | None = None
    if specialist is not None:
        try:
            chosen = _specialist(specialist)
        except InvalidInput as error:
            problems.update(error.errors or {})
    if problems:
        raise InvalidInput(
            _("Complete the handover before submitting it."),
            code="handover_incomplete",
            errors=problems,
        )
    if chosen is None:
        customer = locked.customer
        appointment = routing.appoint(
            RoutingTarget.HANDOVER,
            region_code=customer.region_id or "",
            industry_code=customer.industry_id or "",
            product=locked.product,
        )
        if appointment.user is None:
            raise InvalidInput(
                _("No routing rule appoints a specialist: choose one."),
                code="no_specialist",
                errors={"specialist": [_("No routing rule appoints a specialist: choose one.")]},
            )
        chosen, rule = appointment.user, appointment.rule
    now = timezone.now()
    locked.specialist = chosen
    locked.appointed_by_rule = rule
    locked.status = HandoverStatus.PENDING
    locked.submitted_at = now
    locked.escalated_at = None
    stamp(locked, actor=actor, reason=_("Submitted to service"))
    bump_version(locked)
    locked.save()
    _notify_specialist(locked, actor)
    return locked


@transaction.atomic
def handover_confirm(*, actor: User, handover: Handover, version: int | None = None) -> Handover:
    """The appointed specialist confirms receipt: the customer enters their scope."""
    locked = _locked(actor, handover, version)
    if locked.specialist_id != actor.pk:
        raise Forbidden(_("Only the appointed specialist may confirm this handover."))
    if locked.status != HandoverStatus.PENDING:
        raise Conflict(
            _("Only a handover awaiting confirmation can be confirmed."),
            code="handover_not_pending",
        )
    locked.status = HandoverStatus.COMPLETED
    locked.confirmed_at = timezone.now()
    stamp(locked, actor=actor, reason=_("Receipt confirmed"))
    bump_version(locked)
    locked.save()
    notify(
        recipients=[locked.owner],
        kind="handover_confirmed",
        title=_("%(specialist)s confirmed the handover of %(customer)s")
        % {"specialist": actor, "customer": locked.customer},
        url=_url(locked),
        actor=actor,
        dedupe_key=f"handover-confirmed:{locked.pk}",
    )
    return locked


@transaction.atomic
def handover_cancel(
    *, actor: User, handover: Handover, reason: str = "", version: int | None = None
) -> Handover:
    locked = _locked_for_writer(actor, handover, version)
    if locked.status not in (HandoverStatus.DRAFT, HandoverStatus.PENDING):
        raise Conflict(
            _("A completed or cancelled handover cannot be cancelled."), code="handover_closed"
        )
    reason = (reason or "").strip()
    if len(reason) > 100:
        raise InvalidInput(errors={"reason": [_("Keep the reason under 100 characters.")]})
    locked.status = HandoverStatus.CANCELLED
    stamp(locked, actor=actor, reason=reason or _("Handover cancelled"))
    bump_version(locked)
    locked.save()
    return locked


@transaction.atomic
def handover_reassign_specialist(
    *,
    actor: User,
    handover: Handover,
    specialist: User | int | None,
    reason: str = "",
    version: int | None = None,
) -> Handover:
    """A manager appoints another specialist to a handover awaiting confirmation."""
    locked = _locked(actor, handover, version)
    if not (is_admin(actor) or actor.role == Role.MANAGER):
        raise Forbidden(_("Only managers and administrators may appoint another specialist."))
    if locked.status != HandoverStatus.PENDING:
        raise Conflict(
            _("Only a handover awaiting confirmation can get another specialist."),
            code="handover_not_pending",
        )
    chosen = _specialist(specialist)
    if chosen.pk == locked.specialist_id:
        return locked
    locked.specialist = chosen
    locked.appointed_by_rule = None
    locked.submitted_at = timezone.now()  # the new specialist's time to confirm starts now
    locked.escalated_at = None
    stamp(locked, actor=actor, reason=(reason or "").strip()[:100] or _("Specialist reassigned"))
    bump_version(locked)
    locked.save()
    _notify_specialist(locked, actor)
    return locked


@transaction.atomic
def handover_attachment_add(
    *, actor: User, handover: Handover, file: UploadedFile | None
) -> HandoverAttachment:
    locked = _locked_for_writer(actor, handover, None)
    if locked.status in (HandoverStatus.CANCELLED,):
        raise Conflict(_("This handover was cancelled."), code="handover_closed")
    if not file or not file.name:
        raise InvalidInput(errors={"file": [_("Choose a file.")]})
    if (file.size or 0) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(errors={"file": [_("The file is larger than 20 MB.")]})
    problem = uploads.content_problem(file, uploads.extension_of(file.name))
    if problem:
        raise InvalidInput(errors={"file": [problem]})
    name = file.name.rsplit("/", 1)[-1][:200]
    attachment = HandoverAttachment(
        handover=locked, name=name, size=file.size or 0, uploaded_by=actor
    )
    attachment.file.save(name, file, save=False)
    attachment.save()
    return attachment


# --- escalation -------------------------------------------------------------------------------


def _stamp(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def escalation_recipients(specialist: User | None) -> list[User]:
    """The service managers of the specialist's department (upwards); else the admins."""
    managers = department_supervisors(specialist.department_id) if specialist else []
    if managers:
        return managers
    return list(User.objects.filter(is_active=True, role=Role.ADMIN).order_by("pk"))


def handovers_escalate(*, now: datetime | None = None) -> int:
    """Escalate, once each, the handovers awaiting confirmation past the configured hours.
    Returns how many were escalated."""
    now = now or timezone.now()
    hours = int(config.get(CONFIRM_HOURS.key))
    due = Handover.objects.filter(
        status=HandoverStatus.PENDING,
        escalated_at__isnull=True,
        submitted_at__lte=now - timedelta(hours=hours),
    ).values_list("pk", flat=True)
    escalated = 0
    for pk in list(due[:500]):
        with transaction.atomic():
            handover = (
                Handover.objects.select_for_update(of=("self",))
                .filter(pk=pk, status=HandoverStatus.PENDING, escalated_at__isnull=True)
                .select_related("specialist", "customer", "owner")
                .first()
            )
            if handover is None:
                continue
            notify(
                recipients=escalation_recipients(handover.specialist),
                kind="handover_escalated",
                title=_("Handover of %(customer)s not confirmed for %(hours)s hours")
                % {"customer": handover.customer, "hours": hours},
                body=_("Appointed to %(specialist)s by %(owner)s.")
                % {"specialist": handover.specialist, "owner": handover.owner},
                url=_url(handover),
                dedupe_key=f"handover-escalated:{handover.pk}:{_stamp(handover.submitted_at)}",
            )
            Handover.objects.filter(pk=pk).update(escalated_at=now)
            escalated += 1
    return escalated


# --- routing rules (handovers and tickets) ----------------------------------------------------

RULE_FIELDS = (
    "name",
    "target",
    "order",
    "is_active",
    "ticket_type",
    "region",
    "industry",
    "product",
    "department",
    "strategy",
)


def _require_rule_admin(actor: User) -> None:
    if not (is_admin(actor) or actor.role in RULE_ADMIN_ROLES):
        raise Forbidden(_("Only managers and administrators manage routing rules."))


def _rule_members(value: Any) -> list[User]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise InvalidInput(errors={"members": [_("Give a list of users.")]})
    pks: list[int] = []
    for item in value:
        pk = item.pk if isinstance(item, User) else item
        if isinstance(pk, bool) or not isinstance(pk, int):
            raise InvalidInput(errors={"members": [_("Give a list of users.")]})
        pks.append(pk)
    found = {
        user.pk: user
        for user in User.objects.filter(pk__in=pks, is_active=True, role__in=RULE_MEMBER_ROLES)
    }
    missing = [pk for pk in dict.fromkeys(pks) if pk not in found]
    if missing:
        raise InvalidInput(
            errors={
                "members": [
                    _("Members must be active users of the service or manager role (not: %(ids)s).")
                    % {"ids": ", ".join(str(pk) for pk in missing)}
                ]
            }
        )
    return [found[pk] for pk in dict.fromkeys(pks)]


def _apply_rule(rule: RoutingRule, data: dict[str, Any]) -> list[User] | None:
    unknown = sorted(set(data) - set(RULE_FIELDS) - {"members"})
    if unknown:
        raise InvalidInput(
            errors={name: [_("This field cannot be changed here.")] for name in unknown}
        )
    errors: dict[str, list[str]] = {}
    for name, value in data.items():
        if name == "members":
            continue
        if name in ("region", "industry", "department"):
            setattr(rule, f"{name}_id", value if value not in ("", None) else None)
        elif name in ("name", "product", "ticket_type", "target", "strategy"):
            setattr(rule, name, "" if value is None else str(value).strip())
        else:
            setattr(rule, name, value)
    if rule.target == RoutingTarget.HANDOVER and rule.ticket_type:
        errors["ticket_type"] = [_("A ticket type applies to ticket rules only.")]
    if rule.ticket_type and rule.ticket_type not in TicketType.values:
        errors["ticket_type"] = [_("Choose a ticket type from the list.")]
    if rule.strategy not in RoutingStrategy.values:
        errors["strategy"] = [_("Choose round robin or least loaded.")]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)
    validate(rule)
    return _rule_members(data["members"]) if "members" in data else None


@audit.audited("service.routing_rule_created")
@transaction.atomic
def routing_rule_create(*, actor: User, data: dict[str, Any]) -> RoutingRule:
    _require_rule_admin(actor)
    rule = RoutingRule()
    members = _apply_rule(rule, {"members": [], **data})
    rule.save()
    rule.members.set(members or [])
    return rule


@audit.audited("service.routing_rule_changed", target="rule")
@transaction.atomic
def routing_rule_update(
    *, actor: User, rule: RoutingRule, data: dict[str, Any], version: int | None = None
) -> RoutingRule:
    _require_rule_admin(actor)
    locked = RoutingRule.objects.select_for_update().filter(pk=rule.pk).first()
    if locked is None:
        raise NotFound("routing rule")
    check_version(locked, version)
    members = _apply_rule(locked, data)
    bump_version(locked)
    locked.save()
    if members is not None:
        locked.members.set(members)
    return locked


@audit.audited("service.routingrule_deleted", target="rule")
@transaction.atomic
def routing_rule_delete(*, actor: User, rule: RoutingRule) -> None:
    _require_rule_admin(actor)
    RoutingRule.objects.filter(pk=rule.pk).delete()


def specialist_choices() -> Any:
    return User.objects.filter(is_active=True, role__in=SPECIALIST_ROLES).order_by("username")


def rule_member_choices() -> Any:
    return User.objects.filter(is_active=True, role__in=RULE_MEMBER_ROLES).order_by("username")


def pending_of(user: User) -> Q:
    return Q(specialist=user, status=HandoverStatus.PENDING)


# --- offboarding (离职交接): a leaving owner's open handovers move to the successor ----------


def open_handovers_of(user: User) -> Any:
    return Handover.objects.filter(
        owner_id=user.pk, status__in=(HandoverStatus.DRAFT, HandoverStatus.PENDING)
    )


@transaction.atomic
def handover_reassign_owner(
    *, actor: User, handover: Handover, owner: User, reason: str
) -> Handover:
    """Give an open handover to another sales owner (offboarding); the department follows."""
    locked = _locked_for_writer(actor, handover, None)
    if not (owner.is_active and owner.role in WRITER_ROLES):
        raise InvalidInput(errors={"owner": [_("Choose an active sales user.")]})
    if locked.owner_id == owner.pk:
        return locked
    locked.owner = owner
    locked.department_id = owner.department_id
    stamp(locked, actor=actor, reason=reason[:100])
    bump_version(locked)
    locked.save()
    return locked


def reassign_open_handovers(*, actor: User, records: Any, successor: User, reason: str) -> None:
    for handover in records:
        handover_reassign_owner(actor=actor, handover=handover, owner=successor, reason=reason)


def register_offboarding() -> None:
    from kehu.accounts.offboarding import HandoverKind, register_handover

    register_handover(
        HandoverKind(
            key="service_handovers",
            label=Handover._meta.verbose_name_plural,
            rows=open_handovers_of,
            reassign=reassign_open_handovers,
            order=35,
        )
    )
