"""Every write of the pipeline: opportunities, stage moves, win/lose, attachments, stages, rules.

Stage moves check the target stage's requirements, keep the stage history (entry and exit, time
and who) and fire the workflow rules once per transition after the transaction commits.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import F, Max, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Role, User
from kehu.accounts.selectors import department_supervisors
from kehu.core import audit, config, custom_fields, events, uploads
from kehu.core.access import is_admin, managed_department_ids, policy_of
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kehu.core.history import stamp
from kehu.core.services import bump_version, check_version, validate
from kehu.customers import entry
from kehu.customers import services as customer_services
from kehu.customers.models import Customer, CustomerStatus, Source
from kehu.followups.services import task_create
from kehu.notifications.services import notify
from kehu.opportunities import conf, hooks, requirements
from kehu.opportunities.models import (
    MAX_AMOUNT,
    Attachment,
    AttachmentKind,
    Currency,
    LossReason,
    NotifyTarget,
    Opportunity,
    ProbabilitySource,
    Stage,
    StageChange,
    StageKind,
    WorkflowRule,
    WorkflowRun,
)

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = {
    "name",
    "amount",
    "currency",
    "expected_close",
    "source",
    "needs",
    "competitors",
    "next_step",
    "floor_price",
    "concessions",
    "owner",
}
MAX_CONCESSIONS = 2000
MAX_FUTURE_CLOSE_DAYS = 3660
HISTORY_REASON_LENGTH = 100  # simple-history's change-reason column
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


def _short(reason: str) -> str:
    if len(reason) <= HISTORY_REASON_LENGTH:
        return reason
    return reason[: HISTORY_REASON_LENGTH - 1] + "…"


# --- input cleaning ---------------------------------------------------------------------------


def _clean_amount(value: Any, field: str = "amount") -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except (InvalidOperation, ValueError) as error:
        raise InvalidInput(errors={field: [_("Enter the amount as a number.")]}) from error
    if not amount.is_finite():
        raise InvalidInput(errors={field: [_("Enter the amount as a number.")]})
    if amount < 0:
        raise InvalidInput(errors={field: [_("The amount cannot be negative.")]})
    if amount > MAX_AMOUNT:
        raise InvalidInput(
            errors={field: [_("The amount cannot exceed 10,000,000,000; check the figure.")]}
        )
    return amount.quantize(Decimal("0.01"))


def _clean_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as error:
        raise InvalidInput(
            errors={"expected_close": [_("Enter the date as YYYY-MM-DD.")]}
        ) from error


def _check_close_date(expected_close: date | None) -> None:
    if expected_close is None:
        return
    today = timezone.localdate()
    max_past = int(config.get(conf.MAX_PAST_CLOSE_DAYS.key))
    if expected_close < today - timedelta(days=max_past):
        raise InvalidInput(
            errors={
                "expected_close": [
                    _(
                        "An open deal cannot be expected to close more than %(days)s days "
                        "ago; enter the date you now expect."
                    )
                    % {"days": max_past}
                ]
            }
        )
    if expected_close > today + timedelta(days=MAX_FUTURE_CLOSE_DAYS):
        raise InvalidInput(
            errors={"expected_close": [_("The close date is more than ten years away.")]}
        )


def _check_floor_price(opportunity: Opportunity) -> None:
    """The floor price (底线价格) is the least the company accepts: not above the amount."""
    floor, amount = opportunity.floor_price, opportunity.amount
    if floor is not None and amount is not None and floor > amount:
        raise InvalidInput(
            errors={"floor_price": [_("The floor price cannot be above the expected amount.")]}
        )


def _resolve_owner(actor: User, value: Any, current: User | None) -> User:
    if value is None or value == "":
        return current or actor
    owner = value if isinstance(value, User) else User.objects.filter(pk=value).first()
    if owner is None or not owner.is_active:
        raise InvalidInput(errors={"owner": [_("Choose an active user as owner.")]})
    if owner.pk == actor.pk or (current is not None and owner.pk == current.pk):
        return owner
    if is_admin(actor):
        return owner
    if owner.department_id is not None and owner.department_id in managed_department_ids(actor):
        return owner
    raise InvalidInput(
        errors={"owner": [_("You can only assign opportunities to members of your team.")]}
    )


def _resolve_stage(stage: Stage | str) -> Stage:
    if isinstance(stage, Stage):
        return stage
    found = Stage.objects.filter(code=str(stage), is_active=True).first()
    if found is None:
        raise InvalidInput(
            errors={"stage": [_("Unknown stage %(code)s.") % {"code": stage}]},
            code="unknown_stage",
        )
    return found


def _clean_data(actor: User, data: dict[str, Any], current: Opportunity | None) -> dict[str, Any]:
    unknown = set(data) - EDITABLE_FIELDS - {"stage"}
    if unknown:
        raise InvalidInput(
            errors={name: [_("This field cannot be changed here.")] for name in sorted(unknown)}
        )
    cleaned: dict[str, Any] = {}
    for name, value in data.items():
        if name in ("amount", "floor_price"):
            cleaned[name] = _clean_amount(value, name)
        elif name == "concessions":
            cleaned[name] = str(value or "").strip()
            if len(cleaned[name]) > MAX_CONCESSIONS:
                raise InvalidInput(
                    errors={
                        name: [
                            _("Keep this under %(count)s characters.") % {"count": MAX_CONCESSIONS}
                        ]
                    }
                )
        elif name == "expected_close":
            cleaned[name] = _clean_date(value)
        elif name == "owner":
            cleaned[name] = _resolve_owner(actor, value, current.owner if current else None)
        elif name == "currency":
            if value not in Currency.values:
                raise InvalidInput(errors={"currency": [_("Unknown currency.")]})
            cleaned[name] = value
        elif name == "source":
            if value and value not in Source.values:
                raise InvalidInput(errors={"source": [_("Unknown source.")]})
            cleaned[name] = value or ""
        elif name == "name":
            cleaned[name] = str(value or "").strip()
            if not cleaned[name]:
                raise InvalidInput(errors={"name": [_("Give the opportunity a name.")]})
        elif name != "stage":
            cleaned[name] = str(value or "").strip()
    return cleaned


# --- requirements ---------------------------------------------------------------------------


def missing_requirements(opportunity: Opportunity, stage: Stage) -> dict[str, list[str]]:
    """What ``opportunity`` lacks to enter ``stage``: {requirement code: [message]}."""
    requirements.forget_attachments(opportunity)
    missing: dict[str, list[str]] = {}
    for code in stage.requirements:
        if not requirements.is_met(opportunity, code):
            missing[code] = [
                _("%(stage)s requires: %(requirement)s.")
                % {"stage": stage.label, "requirement": requirements.requirement_label(code)}
            ]
    return missing


def stages_passed(current: Stage | None, target: Stage) -> list[Stage]:
    """The stages a forward move from ``current`` to ``target`` passes over and must meet:
    the active, non-lost stages between the two (all before ``target`` for a new deal) that
    are not optional, in pipeline order. A backward move passes none."""
    stages = Stage.objects.filter(is_active=True, is_optional=False, order__lt=target.order)
    if current is not None:
        stages = stages.filter(order__gt=current.order)
    return list(stages.exclude(kind=StageKind.LOST).exclude(pk=target.pk).order_by("order", "id"))


def missing_for_move(
    opportunity: Opportunity, current: Stage | None, target: Stage, *, recorded: bool = False
) -> list[tuple[Stage, dict[str, list[str]]]]:
    """Per stage, what ``opportunity`` lacks to move from ``current`` to ``target``: each
    skipped stage's requirements, then the target's own; stages with nothing missing are
    left out. ``recorded``: only the target's (see ``opportunity_create``)."""
    missing = []
    passed = [] if recorded else stages_passed(current, target)
    for stage in [*passed, target]:
        lacking = missing_requirements(opportunity, stage)
        if lacking:
            missing.append((stage, lacking))
    return missing


def _require(
    opportunity: Opportunity, stage: Stage, current: Stage | None = None, *, recorded: bool = False
) -> None:
    """Refuse (422) a move that lacks a requirement of ``stage`` or of a stage it skips; the
    answer lists each missing item per stage (``errors`` keyed by requirement code, one
    message per stage that demands it; ``missing`` the same grouped by stage)."""
    missing = missing_for_move(opportunity, current, stage, recorded=recorded)
    if not missing:
        return
    errors: dict[str, list[str]] = {}
    for _stage, lacking in missing:
        for code, messages in lacking.items():
            errors.setdefault(code, []).extend(messages)
    parts = [
        _("%(stage)s: %(missing)s")
        % {
            "stage": step.label,
            "missing": ", ".join(requirements.requirement_label(code) for code in lacking),
        }
        for step, lacking in missing
    ]
    raise InvalidInput(
        _("Cannot move to %(stage)s; missing: %(missing)s.")
        % {"stage": stage.label, "missing": "; ".join(parts)},
        code="stage_requirements",
        errors=errors,
        extra={
            "missing": [
                {
                    "stage": step.code,
                    "stage_name": step.label,
                    "requirements": [
                        {"code": code, "label": requirements.requirement_label(code)}
                        for code in lacking
                    ],
                }
                for step, lacking in missing
            ]
        },
    )


MAX_MOVE_REASON = 500


def _clean_move_reason(reason: str, *, backward: bool) -> str:
    reason = (reason or "").strip()
    if backward and not reason:
        raise InvalidInput(
            _("Moving a deal back to an earlier stage needs a reason."),
            code="reason_required",
            errors={"reason": [_("Say why the deal goes back to an earlier stage.")]},
        )
    if len(reason) > MAX_MOVE_REASON:
        raise InvalidInput(
            errors={
                "reason": [
                    _("Keep the reason under %(count)s characters.") % {"count": MAX_MOVE_REASON}
                ]
            }
        )
    return reason


# --- opportunities --------------------------------------------------------------------------


def _enter_stage(
    opportunity: Opportunity, stage: Stage, *, actor: User, now: datetime, reason: str = ""
) -> None:
    """Close the current stay, open one in ``stage``; rules fire after commit."""
    StageChange.objects.filter(opportunity=opportunity, exited_at__isnull=True).update(
        exited_at=now, exited_by=actor
    )
    change = StageChange.objects.create(
        opportunity=opportunity, stage=stage, entered_at=now, entered_by=actor, reason=reason
    )
    opportunity.stage = stage
    opportunity.stage_entered_at = now
    opportunity.stalled_notified_at = None
    if stage.kind != StageKind.LOST:
        reached = opportunity.furthest_stage_order
        opportunity.furthest_stage_order = (
            stage.order if reached is None else max(reached, stage.order)
        )
    transaction.on_commit(lambda: workflow_rules_run(stage_change_id=change.pk))
    hooks.stage_entered(opportunity, stage, actor)


def opportunity_may_create(user: User) -> bool:
    """Marketing reads every customer, masked and read-only: it opens no deals on them."""
    return is_admin(user) or user.role != Role.MARKETING


@transaction.atomic
def opportunity_create(
    *, actor: User, customer: Customer, data: dict[str, Any], recorded: bool = False
) -> Opportunity:
    """A new deal, in the first stage unless ``data`` names another open stage; a later stage
    must meet its own requirements and those of every non-optional stage before it, as if the
    deal had been moved there. ``recorded`` is for the import, which records deals as another
    system had them: only the named stage's own requirements are checked (the stages before
    it were passed elsewhere, and a proposal file cannot come in a spreadsheet row)."""
    if not opportunity_may_create(actor):
        raise Forbidden(_("Your role may not create opportunities."))
    if not Customer.objects.visible_to(actor).filter(pk=customer.pk).exists():
        raise InvalidInput(errors={"customer": [_("Choose a customer you can see.")]})
    data = dict(data)
    custom = custom_fields.take("opportunity", data, user=actor, creating=True)
    stage = _resolve_stage(data.get("stage") or _first_stage())
    if not stage.is_open:
        raise InvalidInput(errors={"stage": [_("A new opportunity starts in an open stage.")]})
    cleaned = _clean_data(actor, {"name": data.get("name", ""), **data}, None)
    _check_close_date(cleaned.get("expected_close"))
    owner = cleaned.pop("owner", None) or actor
    now = timezone.now()
    opportunity = Opportunity(
        customer=customer,
        owner=owner,
        department_id=owner.department_id,
        stage=stage,
        stage_entered_at=now,
        furthest_stage_order=stage.order,  # saved before _enter_stage records the stay
        created_by=actor,
        custom=custom or {},
        **cleaned,
    )
    if not opportunity.source and customer.source:
        opportunity.source = customer.source
    _check_entry_rules(opportunity)
    _check_floor_price(opportunity)
    validate(opportunity)
    _require(opportunity, stage, None, recorded=recorded)
    stamp(opportunity, actor=actor, reason=_("Opportunity created"))
    opportunity.save()
    _enter_stage(opportunity, stage, actor=actor, now=now)
    return opportunity


def _check_entry_rules(opportunity: Opportunity, *, touched: Any = None) -> None:
    """The required fields of ``opportunities.required_fields`` (docs/data-entry.md); on an
    edit only those it ``touched``. An amount of 0 is a value."""
    entry.check(
        entry.required(conf.REQUIRED_FIELDS.key, conf.OPPORTUNITY_RULES),
        filled=lambda name: getattr(opportunity, name) not in (None, ""),
        touched=None if touched is None else set(touched),
    )


def _first_stage() -> Stage:
    stage = (
        Stage.objects.filter(is_active=True, kind=StageKind.OPEN).order_by("order", "id").first()
    )
    if stage is None:
        raise InvalidInput(errors={"stage": [_("No open stage is configured.")]})
    return stage


def _locked(actor: User, opportunity: Opportunity, version: int | None) -> Opportunity:
    """Lock the row (no joins: PostgreSQL re-checks a waiting lock against the new row only,
    so a joined stage would drop the row once another writer changed its stage). A deal the
    actor may not edit is not found, as one they cannot see."""
    rows = Opportunity.objects.select_for_update(of=("self",)).editable_by(actor)
    try:
        locked = rows.get(pk=opportunity.pk)
    except Opportunity.DoesNotExist as missing:
        raise NotFound("opportunity") from missing
    check_version(locked, version)
    return locked


@transaction.atomic
def opportunity_update(
    *, actor: User, opportunity: Opportunity, data: dict[str, Any], version: int | None = None
) -> Opportunity:
    locked = _locked(actor, opportunity, version)
    if "stage" in data:
        raise InvalidInput(
            errors={"stage": [_("Change the stage with the stage action, not an edit.")]}
        )
    data = dict(data)
    custom = custom_fields.take(
        "opportunity",
        data,
        user=actor,
        current=locked.custom,
        masked=custom_fields.masked_for(actor, locked),
    )
    cleaned = _clean_data(actor, data, locked)
    if (
        locked.is_open
        and "expected_close" in cleaned
        and cleaned["expected_close"] != locked.expected_close
    ):
        _check_close_date(cleaned["expected_close"])
    changed = False
    changed_names: set[str] = set()
    hidden = policy_of(Opportunity).masked_fields(actor, locked)
    for name, value in cleaned.items():
        if getattr(locked, name) != value:
            if name in hidden:
                raise InvalidInput(
                    errors={name: [_("This field is hidden from you, so you cannot change it.")]}
                )
            setattr(locked, name, value)
            changed = True
            changed_names.add(name)
    if "owner" in cleaned:
        locked.department_id = locked.owner.department_id
    if custom is not None and custom != (locked.custom or {}):
        locked.custom = custom
        changed = True
        changed_names.add("custom")
    if not changed:
        return locked
    _check_entry_rules(locked, touched=changed_names)
    if "floor_price" in cleaned or "amount" in cleaned:
        _check_floor_price(locked)
    validate(locked)
    missing = missing_requirements(locked, locked.stage) if locked.is_open else {}
    if missing:
        raise InvalidInput(
            _("The current stage %(stage)s needs these fields.") % {"stage": locked.stage.label},
            code="stage_requirements",
            errors=missing,
        )
    stamp(locked, actor=actor)
    bump_version(locked)
    locked.save()
    return locked


@transaction.atomic
def opportunity_reassign(
    *, actor: User, opportunity: Opportunity, owner: User, reason: str
) -> Opportunity:
    """Give an opportunity to another active owner (the same rule as an edit of its owner);
    the department follows the owner and the history keeps ``reason``."""
    locked = _locked(actor, opportunity, None)
    new_owner = _resolve_owner(actor, owner, locked.owner)
    if locked.owner_id == new_owner.pk:
        return locked
    locked.owner = new_owner
    locked.department_id = new_owner.department_id
    stamp(locked, actor=actor, reason=reason[:100])
    bump_version(locked)
    locked.save()
    return locked


@audit.audited("opportunities.opportunity_deleted", target="opportunity")
@transaction.atomic
def opportunity_delete(*, actor: User, opportunity: Opportunity) -> None:
    locked = _locked(actor, opportunity, None)
    if not (is_admin(actor) or actor.role == Role.MANAGER):
        raise Forbidden(_("Only managers and administrators may delete opportunities."))
    stamp(locked, actor=actor, reason=_("Opportunity deleted"))
    for attachment in locked.attachments.all():
        attachment.file.delete(save=False)
    locked.delete()


@transaction.atomic
def opportunity_move_stage(
    *,
    actor: User,
    opportunity: Opportunity,
    stage: Stage | str,
    version: int | None = None,
    reason: str = "",
    recorded: bool = False,
) -> Opportunity:
    """Move a deal to ``stage``. Forward, the deal must meet the target's requirements and
    those of every non-optional stage it skips; back to an earlier open stage, ``reason`` is
    required; both are kept on the stage history and the deal's history. ``recorded``: the
    import closing a deal it has just created as won (see ``opportunity_create``)."""
    target = _resolve_stage(stage)
    locked = _locked(actor, opportunity, version)
    current = locked.stage
    if current.kind == StageKind.LOST:
        raise Conflict(_("This deal was lost; a lost deal cannot change stage."), code="deal_lost")
    if target.pk == current.pk:
        return locked
    if target.kind == StageKind.LOST:
        raise InvalidInput(
            errors={"stage": [_("Use the Lost action: it records the reason.")]},
            code="use_lose",
        )
    if current.kind == StageKind.WON and target.kind == StageKind.OPEN:
        raise Conflict(_("This deal was won; it cannot go back to an open stage."), code="deal_won")
    winning = current.kind == StageKind.OPEN and target.kind == StageKind.WON
    backward = not winning and (target.order, target.pk) < (current.order, current.pk)
    why = _clean_move_reason(reason, backward=backward)
    if not backward:
        _require(locked, target, current, recorded=recorded)
    now = timezone.now()
    _enter_stage(locked, target, actor=actor, now=now, reason=why)
    if winning:
        locked.closed_at = now
    step = _("stage %(old)s → %(new)s") % {"old": current.label, "new": target.label}
    stamp(locked, actor=actor, reason=_short(f"{step}: {why}" if why else step))
    bump_version(locked)
    locked.save()
    if winning:
        _mark_customer_won(actor=actor, opportunity=locked)
        hooks.deal_won(locked, actor)
    moved = {"from_stage": current.code, "to_stage": target.code}
    events.emit("opportunity.stage_changed", locked.pk, actor=actor, data=moved)
    if winning:
        events.emit("opportunity.won", locked.pk, actor=actor, data=moved)
    return locked


def _mark_customer_won(*, actor: User, opportunity: Opportunity) -> None:
    """Winning makes the customer a 成交客户 through the customers service.

    The deal's owner may see the customer only through a read share; the change is then made
    on the system's behalf, and the reason names the deal and who won it.
    """
    customer = opportunity.customer
    if customer.status == CustomerStatus.WON:
        return
    may_edit = Customer.objects.editable_by(actor).filter(pk=customer.pk).exists()
    customer_services.customer_change_status(
        actor=actor if may_edit else None,
        customer=customer,
        status=CustomerStatus.WON,
        reason=_short(
            _("Opportunity won: %(name)s (%(user)s)") % {"name": opportunity.name, "user": actor}
        ),
    )


@transaction.atomic
def opportunity_win(
    *,
    actor: User,
    opportunity: Opportunity,
    stage: Stage | str | None = None,
    version: int | None = None,
    recorded: bool = False,
) -> Opportunity:
    """Close as won in ``stage`` (default: the first won stage); sets the customer to 成交客户.
    The deal must meet the requirements of every stage it passes on the way (``recorded``: the
    won stage's own only, for the import; see ``opportunity_create``)."""
    if stage is None:
        won = Stage.objects.filter(kind=StageKind.WON, is_active=True).order_by("order").first()
        if won is None:
            raise InvalidInput(errors={"stage": [_("No won stage is configured.")]})
        stage = won
    target = _resolve_stage(stage)
    if target.kind != StageKind.WON:
        raise InvalidInput(errors={"stage": [_("Choose a won stage.")]})
    locked = _locked(actor, opportunity, version)
    if locked.stage.kind == StageKind.WON:
        raise Conflict(_("This deal is already won."), code="deal_won")
    return opportunity_move_stage(actor=actor, opportunity=locked, stage=target, recorded=recorded)


@transaction.atomic
def opportunity_lose(
    *,
    actor: User,
    opportunity: Opportunity,
    reason: LossReason | int,
    note: str = "",
    version: int | None = None,
) -> Opportunity:
    locked = _locked(actor, opportunity, version)
    if not locked.is_open:
        raise Conflict(_("Only an open deal can be lost."), code="deal_closed")
    loss_reason = (
        reason
        if isinstance(reason, LossReason)
        else LossReason.objects.filter(pk=reason, is_active=True).first()
    )
    if loss_reason is None:
        raise InvalidInput(errors={"reason": [_("Choose a reason from the list.")]})
    lost = Stage.objects.filter(kind=StageKind.LOST, is_active=True).order_by("order").first()
    if lost is None:
        raise InvalidInput(errors={"stage": [_("No lost stage is configured.")]})
    note = note.strip()
    if len(note) > 1000:
        raise InvalidInput(errors={"note": [_("Keep the details under 1000 characters.")]})
    previous = locked.stage
    now = timezone.now()
    _enter_stage(locked, lost, actor=actor, now=now)
    locked.loss_reason = loss_reason
    locked.loss_note = note
    locked.closed_at = now
    stamp(
        locked,
        actor=actor,
        reason=_short(_("stage %(old)s → %(new)s") % {"old": previous.label, "new": lost.label}),
    )
    bump_version(locked)
    locked.save()
    moved = {"from_stage": previous.code, "to_stage": lost.code}
    events.emit("opportunity.stage_changed", locked.pk, actor=actor, data=moved)
    events.emit(
        "opportunity.lost", locked.pk, actor=actor, data={**moved, "reason": loss_reason.label}
    )
    return locked


@transaction.atomic
def attachment_add(
    *, actor: User, opportunity: Opportunity, kind: str, file: UploadedFile
) -> Attachment:
    locked = _locked(actor, opportunity, None)
    if kind not in AttachmentKind.values:
        raise InvalidInput(errors={"kind": [_("Unknown kind of attachment.")]})
    if not file or not file.name:
        raise InvalidInput(errors={"file": [_("Choose a file.")]})
    if (file.size or 0) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(errors={"file": [_("The file is larger than 20 MB.")]})
    problem = uploads.content_problem(file, uploads.extension_of(file.name))
    if problem:
        raise InvalidInput(errors={"file": [problem]})
    name = file.name.rsplit("/", 1)[-1][:200]
    attachment = Attachment(opportunity=locked, kind=kind, name=name, uploaded_by=actor)
    attachment.file.save(name, file, save=False)
    attachment.save()
    return attachment


# --- stages and rules (administration) -----------------------------------------------------


def _require_admin(actor: User) -> None:
    if not is_admin(actor):
        raise Forbidden()


@transaction.atomic
def stage_save(*, actor: User, stage: Stage) -> Stage:
    _require_admin(actor)
    known = requirements.requirement_codes()
    unknown = [code for code in stage.requirements if code not in known]
    if unknown:
        raise InvalidInput(errors={"requirements": [_("Unknown requirement.")]})
    validate(stage)
    if stage.pk is None and stage.probability_source == ProbabilitySource.DEFAULT:
        stage.probability = stage.default_probability
    before = Stage.objects.filter(pk=stage.pk).values("order", "kind").first() if stage.pk else None
    stage.save()
    if before is not None and (before["order"], before["kind"]) != (stage.order, stage.kind):
        furthest_stage_orders_refresh()
    return stage


def furthest_stage_orders_refresh() -> int:
    """Recompute every deal's furthest stage order from its stage changes (after a reorder)."""
    furthest = (
        StageChange.objects.filter(opportunity=OuterRef("pk"))
        .exclude(stage__kind=StageKind.LOST)
        .order_by()
        .values("opportunity")
        .annotate(furthest=Max("stage__order"))
        .values("furthest")
    )
    return Opportunity.objects.update(furthest_stage_order=Subquery(furthest))


@transaction.atomic
def loss_reason_save(*, actor: User, reason: LossReason) -> LossReason:
    _require_admin(actor)
    reason.name_zh = reason.name_zh.strip()
    reason.name_en = reason.name_en.strip()
    validate(reason)
    reason.save()
    return reason


@transaction.atomic
def workflow_rule_save(*, actor: User, rule: WorkflowRule) -> WorkflowRule:
    _require_admin(actor)
    if rule.notify == NotifyTarget.ROLE and rule.notify_role not in Role.values:
        raise InvalidInput(errors={"notify_role": [_("Choose a role.")]})
    if rule.notify == NotifyTarget.USER and rule.notify_user_id is None:
        raise InvalidInput(errors={"notify_user": [_("Choose the user to notify.")]})
    if not rule.notify and not rule.create_task:
        raise InvalidInput(errors={"notify": [_("A rule must notify someone or create a task.")]})
    validate(rule)
    rule.save()
    return rule


# --- workflow rules ---------------------------------------------------------------------------


def supervisors_of(owner: User) -> list[User]:
    """The sales supervisor: the head and managers of the owner's department, else the nearest
    department above that has any."""
    return department_supervisors(owner.department_id, exclude=owner.pk)


def _rule_recipients(rule: WorkflowRule, opportunity: Opportunity) -> list[User]:
    if rule.notify == NotifyTarget.SUPERVISOR:
        return supervisors_of(opportunity.owner)
    if rule.notify == NotifyTarget.OWNER:
        return [opportunity.owner]
    if rule.notify == NotifyTarget.ROLE:
        return list(User.objects.filter(role=rule.notify_role, is_active=True))
    if rule.notify == NotifyTarget.USER and rule.notify_user is not None:
        return [rule.notify_user]
    return []


def workflow_rules_run(*, stage_change_id: int) -> int:
    """Run the rules of one stage entry; each (rule, transition) runs once. Returns runs made."""
    change = (
        StageChange.objects.select_related(
            "stage", "entered_by", "opportunity__owner__department", "opportunity__customer"
        )
        .filter(pk=stage_change_id)
        .first()
    )
    if change is None:
        return 0
    opportunity = change.opportunity
    rules = WorkflowRule.objects.filter(is_active=True, stage_id=change.stage_id).select_related(
        "notify_user"
    )
    runs = 0
    for rule in rules:
        if rule.min_amount is not None and (
            opportunity.amount is None or opportunity.amount < rule.min_amount
        ):
            continue
        try:
            with transaction.atomic():
                run, created = WorkflowRun.objects.get_or_create(rule=rule, stage_change=change)
                if not created:
                    continue
                url = reverse("opportunities:detail", args=[opportunity.pk])
                title = _("%(name)s entered %(stage)s") % {
                    "name": opportunity.name,
                    "stage": change.stage.label,
                }
                body = _("Customer: %(customer)s · owner: %(owner)s · rule: %(rule)s") % {
                    "customer": opportunity.customer.name,
                    "owner": opportunity.owner,
                    "rule": rule.name,
                }
                recipients = _rule_recipients(rule, opportunity)
                if recipients:
                    run.notified = notify(
                        recipients=recipients,
                        kind="opportunity_stage",
                        title=title,
                        body=body,
                        url=url,
                        actor=change.entered_by,
                        dedupe_key=f"opportunity-rule:{rule.pk}:{change.pk}",
                    )
                if rule.create_task:
                    task = task_create(
                        actor=change.entered_by or opportunity.owner,
                        assignee=opportunity.owner,
                        title=rule.task_title or title,
                        due_at=timezone.now() + timedelta(days=rule.task_due_days),
                        customer=opportunity.customer,
                        related=opportunity,
                        kind="manual",
                        description=body,
                        dedupe_key=f"opportunity-rule-task:{rule.pk}:{change.pk}",
                    )
                    run.task_id = task.pk
                run.save(update_fields=["notified", "task_id"])
                runs += 1
        except IntegrityError:
            continue  # a concurrent run of the same transition got there first
    return runs


# --- jobs: probabilities and stalled deals ---------------------------------------------------


@dataclass(frozen=True)
class StageRate:
    stage: Stage
    sample: int
    wins: int


def _window_start(now: datetime, months: int) -> datetime:
    return now - timedelta(days=round(months * 30.4375))


def probabilities_recompute(*, now: datetime | None = None) -> list[StageRate]:
    """Each open stage's win probability from deals closed in the window.

    A closed deal "reached" every stage up to the furthest open stage it entered (a won deal
    reached them all); a stage's rate is won ÷ reached. Stages with fewer than the minimum
    sample keep the administrator's default.
    """
    now = now or timezone.now()
    months = int(config.get(conf.PROBABILITY_WINDOW_MONTHS.key))
    min_sample = int(config.get(conf.PROBABILITY_MIN_SAMPLE.key))
    closed = Opportunity.objects.filter(
        closed_at__gte=_window_start(now, months),
        closed_at__lte=now,
        stage__kind__in=[StageKind.WON, StageKind.LOST],
    )
    outcomes = dict(closed.values_list("pk", "stage__kind"))
    furthest = dict(
        StageChange.objects.filter(opportunity_id__in=closed.values("pk"), stage__kind="open")
        .values("opportunity_id")
        .annotate(furthest=Max("stage__order"))
        .values_list("opportunity_id", "furthest")
    )
    rates: list[StageRate] = []
    stages = list(Stage.objects.all())
    with transaction.atomic():
        for stage in stages:
            if stage.kind == StageKind.OPEN:
                sample = wins = 0
                for pk, kind in outcomes.items():
                    if kind == StageKind.WON:
                        sample += 1
                        wins += 1
                    elif furthest.get(pk, -1) >= stage.order:
                        sample += 1
                if sample >= min_sample:
                    stage.probability = round(100 * wins / sample)
                    stage.probability_source = ProbabilitySource.HISTORY
                else:
                    stage.probability = stage.default_probability
                    stage.probability_source = ProbabilitySource.DEFAULT
            else:
                sample = wins = 0
                stage.probability = 100 if stage.kind == StageKind.WON else 0
                stage.probability_source = ProbabilitySource.DEFAULT
            stage.probability_sample = sample
            stage.probability_window_months = months
            stage.probability_computed_at = now
            stage.save(
                update_fields=[
                    "probability",
                    "probability_source",
                    "probability_sample",
                    "probability_window_months",
                    "probability_computed_at",
                ]
            )
            rates.append(StageRate(stage=stage, sample=sample, wins=wins))
    return rates


def stalled_threshold(now: datetime | None = None) -> datetime:
    days = int(config.get(conf.STALLED_DAYS.key))
    return (now or timezone.now()) - timedelta(days=days)


def stalled_notify(*, now: datetime | None = None) -> int:
    """Tell each owner once per stall about deals without a stage change for too long."""
    now = now or timezone.now()
    stalled = (
        Opportunity.objects.filter(
            stage__kind=StageKind.OPEN, stage_entered_at__lt=stalled_threshold(now)
        )
        .filter(
            Q(stalled_notified_at__isnull=True) | Q(stalled_notified_at__lt=F("stage_entered_at"))
        )
        .select_related("stage", "owner", "customer")
    )
    by_owner: dict[int, list[Opportunity]] = defaultdict(list)
    for opportunity in stalled:
        by_owner[opportunity.owner_id].append(opportunity)
    notified = 0
    for deals in by_owner.values():
        for opportunity in deals:
            with transaction.atomic():
                claimed = (
                    Opportunity.objects.filter(
                        pk=opportunity.pk, stage_entered_at=opportunity.stage_entered_at
                    )
                    .filter(
                        Q(stalled_notified_at__isnull=True)
                        | Q(stalled_notified_at__lt=F("stage_entered_at"))
                    )
                    .update(stalled_notified_at=now)
                )
                if not claimed:
                    continue
                days = (now - opportunity.stage_entered_at).days
                notify(
                    recipients=[opportunity.owner],
                    kind="opportunity_stalled",
                    title=_("Stalled deal: %(name)s") % {"name": opportunity.name},
                    body=_(
                        "No stage change for %(days)s days "
                        "(stage %(stage)s, customer %(customer)s)."
                    )
                    % {
                        "days": days,
                        "stage": opportunity.stage.label,
                        "customer": opportunity.customer.name,
                    },
                    url=reverse("opportunities:detail", args=[opportunity.pk]),
                    dedupe_key=(
                        f"opportunity-stalled:{opportunity.pk}:"
                        f"{opportunity.stage_entered_at.timestamp():.0f}"
                    ),
                )
                notified += 1
    return notified
