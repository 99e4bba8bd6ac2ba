"""Every write of contracts (合同): drafting, the manager's review, voiding; the drafting task.

The handbooks: once a deal reaches agreement (the stage ``contracts.draft_stage``, 谈判签约) its
owner drafts the contract within ``contracts.draft_working_days`` working days (2) on the China
working calendar; a task with that due date is created when the deal enters the stage and, like
every overdue task, is escalated to the owner's managers by followups' escalation job. The
owner submits the contract; the owner's manager (``supervisors_of``) or an administrator
approves it or returns it with comments; nobody reviews a contract they drafted or a deal they
own. A returned contract is edited and resubmitted; an approved one is read-only (void it to
replace it). Only an approved contract meets the 成交 stage's ``contract_approved`` requirement.
"""

from __future__ import annotations

import re
import string
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import Role, User
from kehu.contracts import grading
from kehu.contracts.models import Contract, ContractReview, ContractStatus
from kehu.contracts.services import payments
from kehu.core import config, uploads
from kehu.core.access import is_admin, lock_editable
from kehu.core.errors import Conflict, Forbidden, InvalidInput
from kehu.core.history import stamp
from kehu.core.services import bump_version, check_version
from kehu.customers.numbering import reserve
from kehu.followups.models import Task, TaskStatus
from kehu.followups.services import task_create
from kehu.notifications.services import notify
from kehu.opportunities.models import MAX_AMOUNT, Currency, Opportunity, Stage, StageKind
from kehu.opportunities.services import supervisors_of
from kehu.service.services import calendar

NUMBER_PATTERN = config.define(
    "contracts.number_pattern",
    "HT{year}{seq:04}",
    gettext_lazy("Contract number pattern ({year}, {month}, {seq:04})"),
    group="contracts",
    help=gettext_lazy(
        "How new contracts are numbered: the text before {seq} names a sequence that never "
        "repeats (HT{year}{seq:04} gives HT20260001, HT20260002, …)."
    ),
)
DRAFT_STAGE = config.define(
    "contracts.draft_stage",
    "negotiation",
    gettext_lazy("Stage whose entry starts the contract drafting task"),
    group="contracts",
    help=gettext_lazy("The code of the pipeline stage of agreement (谈判签约: negotiation)."),
)
DRAFT_WORKING_DAYS = config.define(
    "contracts.draft_working_days",
    2,
    gettext_lazy("Working days to draft the contract after agreement"),
    group="contracts",
    unit=gettext_lazy("working days"),
    minimum=1,
    maximum=30,
    help=gettext_lazy(
        "The drafting task is due at the end of this working day after the deal enters the "
        "agreement stage, on the business calendar (holidays and 调休 workdays); it is "
        "escalated to the owner's managers when overdue."
    ),
)

WRITER_ROLES = frozenset({Role.SALES, Role.MANAGER, Role.ADMIN})
EDITABLE = frozenset({ContractStatus.DRAFT, ContractStatus.RETURNED})
EDITABLE_FIELDS = (
    "number",
    "title",
    "amount",
    "currency",
    "signed_on",
    "starts_on",
    "ends_on",
    "terms",
    "is_repeat_order",
)
MAX_FILE_BYTES = 20 * 1024 * 1024
NUMBER_FIELDS = {"year", "month", "seq"}
_SEQ = re.compile(r"\{seq(:[^}]*)?\}")
_NUMBER_TEXT = re.compile(r"^[\w\-/#.()（）]+$")


def _url(contract: Contract) -> str:
    return reverse("contracts:contract_detail", args=[contract.pk])


def _is_writer(user: User) -> bool:
    return is_admin(user) or user.role in WRITER_ROLES


# --- numbering ----------------------------------------------------------------------------------


def check_number_pattern(pattern: str) -> None:
    try:
        fields = {name for _t, name, _s, _c in string.Formatter().parse(pattern) if name}
    except ValueError:
        fields = {"?"}
    if fields - NUMBER_FIELDS or len(_SEQ.findall(pattern)) != 1:
        raise InvalidInput(
            errors={
                "number_pattern": [
                    _("A contract number pattern must contain {seq} once and may use only %s.")
                    % ", ".join(sorted(NUMBER_FIELDS))
                ]
            }
        )


def next_number(on: date | None = None) -> str:
    """The next number of the pattern; the sequence row is taken with the customers' upsert, so
    concurrent drafts never collide and a number is never handed out twice."""
    on = on or timezone.localdate()
    pattern = str(config.get(NUMBER_PATTERN.key))
    try:
        check_number_pattern(pattern)
    except InvalidInput:
        pattern = str(NUMBER_PATTERN.default)
    match = _SEQ.search(pattern)
    assert match is not None
    values = {"year": on.year, "month": f"{on.month:02d}"}
    head = pattern[: match.start()].format(**values)
    tail = pattern[match.end() :].format(**values)
    seq_format = "{seq" + (match.group(1) or "") + "}"
    while True:
        number = head + seq_format.format(seq=reserve(f"contract:{head}")) + tail
        if not Contract.objects.filter(number=number).exists():  # a number typed by hand
            return number


# --- predicates for the pages -------------------------------------------------------------------


def reviewers_of(contract: Contract) -> list[User]:
    """Who reviews: the deal owner's supervisors (销售主管), else the administrators; never the
    author or the owner."""
    owner = contract.opportunity.owner
    excluded = {owner.pk, contract.created_by_id}
    found = [user for user in supervisors_of(owner) if user.pk not in excluded]
    if not found:
        found = list(
            User.objects.filter(is_active=True, role=Role.ADMIN)
            .exclude(pk__in=[pk for pk in excluded if pk])
            .order_by("pk")
        )
    return found


def contract_may_create(user: User, opportunity: Opportunity) -> bool:
    return _is_writer(user) and opportunity.stage.kind != StageKind.LOST


def contract_may_edit(user: User, contract: Contract) -> bool:
    return _is_writer(user) and contract.status in EDITABLE


def contract_may_review(user: User, contract: Contract) -> bool:
    if contract.status != ContractStatus.IN_REVIEW:
        return False
    if user.pk in (contract.created_by_id, contract.opportunity.owner_id):
        return False
    if is_admin(user):
        return True
    return user.role == Role.MANAGER and any(
        supervisor.pk == user.pk for supervisor in supervisors_of(contract.opportunity.owner)
    )


def contract_may_void(user: User, contract: Contract) -> bool:
    return _is_writer(user) and contract.status != ContractStatus.VOID


# --- cleaning -----------------------------------------------------------------------------------


def _as_date(value: Any, field: str, errors: dict[str, list[str]]) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors[field] = [_("Enter a date as YYYY-MM-DD.")]
        return None


def _clean(contract: Contract, data: dict[str, Any], opportunity: Opportunity) -> bool:
    """Set ``data`` on ``contract``; True if anything changed. 422 naming each bad field."""
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    errors: dict[str, list[str]] = {
        name: [_("This field cannot be changed here.")] for name in unknown
    }
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name in unknown:
            continue
        if name == "amount":
            try:
                amount = Decimal(str(value).strip().replace(",", ""))
            except (InvalidOperation, ValueError):
                errors[name] = [_("Enter the contract amount as a number.")]
                continue
            if value in (None, "") or not amount.is_finite():
                errors[name] = [_("Enter the contract amount.")]
            elif amount <= 0:
                errors[name] = [_("The contract amount must be more than zero.")]
            elif amount > MAX_AMOUNT:
                errors[name] = [_("The contract amount is too large.")]
            elif amount != amount.quantize(Decimal("0.01")):
                errors[name] = [_("Use at most two decimal places.")]
            else:
                values[name] = amount
        elif name in ("signed_on", "starts_on", "ends_on"):
            values[name] = _as_date(value, name, errors)
        elif name == "currency":
            if value not in Currency.values:
                errors[name] = [_("Choose a valid currency.")]
            else:
                values[name] = value
        elif name == "is_repeat_order":
            if not isinstance(value, bool):
                errors[name] = [_("Choose yes or no.")]
            else:
                values[name] = value
        else:
            if value is None:
                value = ""
            if not isinstance(value, str):
                errors[name] = [_("Enter text.")]
                continue
            values[name] = value.strip()
    title = values.get("title", contract.title)
    if "title" in values or contract.pk is None:
        if not title:
            errors.setdefault("title", [_("Enter the contract's title.")])
        elif len(title) > 200:
            errors.setdefault("title", [_("Keep the title under 200 characters.")])
    if len(values.get("terms", "")) > 20000:
        errors.setdefault("terms", [_("Keep the terms under 20,000 characters.")])
    number = values.get("number")
    if number:
        if len(number) > 60 or not _NUMBER_TEXT.match(number):
            errors.setdefault(
                "number", [_("Use letters, digits and - / # . ( ) only, at most 60.")]
            )
        elif Contract.objects.filter(number=number).exclude(pk=contract.pk).exists():
            errors.setdefault("number", [_("Another contract has this number.")])
    elif "number" in values and contract.pk is not None:
        values.pop("number")  # left blank on an edit: keep the number it has
    if contract.pk is None and "amount" not in values and "amount" not in errors:
        errors["amount"] = [_("Enter the contract amount.")]
    starts = values.get("starts_on", contract.starts_on)
    ends = values.get("ends_on", contract.ends_on)
    if starts and ends and ends < starts and "ends_on" not in errors:
        errors["ends_on"] = [_("The contract cannot end before it starts.")]
    if values.get("is_repeat_order") and opportunity.stage.kind != StageKind.WON:
        errors.setdefault(
            "is_repeat_order", [_("A repeat order (复购) is a new contract of a won deal.")]
        )
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)
    changed = False
    for name, value in values.items():
        if getattr(contract, name) != value:
            setattr(contract, name, value)
            changed = True
    return changed


def _check_file(file: UploadedFile | None) -> None:
    if not file or not file.name:
        raise InvalidInput(errors={"file": [_("Choose a file.")]})
    if (file.size or 0) > MAX_FILE_BYTES:
        raise InvalidInput(errors={"file": [_("The file is larger than 20 MB.")]})
    problem = uploads.content_problem(file, uploads.extension_of(file.name))
    if problem:
        raise InvalidInput(errors={"file": [problem]})


def _save_file(contract: Contract, file: UploadedFile) -> None:
    name = file.name.rsplit("/", 1)[-1][-100:] if file.name else "contract"
    contract.file.save(name, file, save=False)


# --- drafting -----------------------------------------------------------------------------------


def _locked_deal(actor: User, opportunity: Opportunity) -> Opportunity:
    # no joins, as opportunities' own lock: PostgreSQL re-checks a waiting FOR UPDATE against
    # the new row only, so a joined stage would lose the deal once another writer moved it
    return lock_editable(Opportunity.objects.all(), actor, pk=opportunity.pk)


def _live(opportunity: Opportunity) -> Contract | None:
    """The deal's contract in force or in progress (not a repeat order, not void)."""
    return (
        Contract.objects.filter(opportunity=opportunity, is_repeat_order=False)
        .exclude(status=ContractStatus.VOID)
        .first()
    )


@transaction.atomic
def contract_create(
    *,
    actor: User,
    opportunity: Opportunity,
    data: dict[str, Any],
    file: UploadedFile | None = None,
) -> Contract:
    """Draft a contract on a deal the actor may edit: numbered by the pattern unless a number is
    given; due by the deal's drafting task."""
    if not _is_writer(actor):
        raise Forbidden(_("Only sales, managers and administrators draft contracts."))
    deal = _locked_deal(actor, opportunity)
    if deal.stage.kind == StageKind.LOST:
        raise Conflict(_("This deal was lost; it gets no contract."), code="deal_lost")
    contract = Contract(opportunity=deal, created_by=actor, status=ContractStatus.DRAFT)
    if "currency" not in data:
        contract.currency = deal.currency
    _clean(contract, data, deal)
    if not contract.is_repeat_order:
        existing = _live(deal)
        if existing is not None:
            raise Conflict(
                _("This deal already has contract %(number)s; void it to replace it.")
                % {"number": existing.number},
                code="contract_exists",
            )
    if file is not None:
        _check_file(file)
    task = _drafting_task(deal)
    contract.draft_due = timezone.localdate(task.due_at) if task else None
    if not contract.number:
        contract.number = next_number()
    if file is not None:
        _save_file(contract, file)
    stamp(contract, actor=actor, reason=_("Contract drafted"))
    try:
        with transaction.atomic():
            contract.save()
    except IntegrityError as error:
        raise InvalidInput(errors={"number": [_("Another contract has this number.")]}) from error
    return contract


def _locked(actor: User, contract: Contract | int, version: int | None) -> Contract:
    pk = contract if isinstance(contract, int) else contract.pk
    locked = lock_editable(
        Contract.objects.select_related("opportunity__owner", "opportunity__stage"), actor, pk=pk
    )
    check_version(locked, version)
    return locked


def _locked_for_writer(actor: User, contract: Contract | int, version: int | None) -> Contract:
    locked = _locked(actor, contract, version)
    if not _is_writer(actor):
        raise Forbidden(_("Only sales, managers and administrators write contracts."))
    return locked


def _editable(locked: Contract) -> None:
    if locked.status == ContractStatus.APPROVED:
        raise Conflict(
            _("An approved contract is read-only; void it and draft a new one to change it."),
            code="contract_approved",
        )
    if locked.status not in EDITABLE:
        raise Conflict(
            _("Only a draft or returned contract can be changed."), code="contract_not_editable"
        )


@transaction.atomic
def contract_update(
    *,
    actor: User,
    contract: Contract,
    data: dict[str, Any],
    file: UploadedFile | None = None,
    version: int | None = None,
) -> Contract:
    locked = _locked_for_writer(actor, contract, version)
    _editable(locked)
    changed = _clean(locked, data, locked.opportunity)
    if file is not None:
        _check_file(file)
        _save_file(locked, file)
        changed = True
    if not changed:
        return locked
    stamp(locked, actor=actor)
    bump_version(locked)
    try:
        with transaction.atomic():
            locked.save()
    except IntegrityError as error:
        raise InvalidInput(errors={"number": [_("Another contract has this number.")]}) from error
    return locked


@transaction.atomic
def contract_attach(
    *, actor: User, contract: Contract, file: UploadedFile | None, version: int | None = None
) -> Contract:
    """Attach (or replace) the contract's file (the scanned or Word contract)."""
    locked = _locked_for_writer(actor, contract, version)
    _editable(locked)
    _check_file(file)
    assert file is not None
    _save_file(locked, file)
    stamp(locked, actor=actor, reason=_("Contract file attached"))
    bump_version(locked)
    locked.save()
    return locked


# --- review -------------------------------------------------------------------------------------


def submit_problems(contract: Contract) -> dict[str, list[str]]:
    """What a contract lacks before review (per field)."""
    problems: dict[str, list[str]] = {}
    if not contract.title.strip():
        problems["title"] = [_("Enter the contract's title.")]
    if not contract.amount:
        problems["amount"] = [_("Enter the contract amount.")]
    if not contract.file and not contract.terms.strip():
        problems["file"] = [_("Attach the contract file or write its terms.")]
    return problems


@transaction.atomic
def contract_submit(*, actor: User, contract: Contract, version: int | None = None) -> Contract:
    """Send a draft (or a returned contract, edited) to the owner's manager for review."""
    locked = _locked_for_writer(actor, contract, version)
    if locked.status not in EDITABLE:
        raise Conflict(
            _("Only a draft or returned contract can be submitted."), code="contract_not_editable"
        )
    problems = submit_problems(locked)
    if problems:
        raise InvalidInput(
            _("Complete the contract before submitting it."),
            code="contract_incomplete",
            errors=problems,
        )
    reviewers = reviewers_of(locked)
    if not reviewers:
        raise Conflict(
            _(
                "Nobody may review this contract: the owner has no manager and no administrator "
                "is active."
            ),
            code="no_reviewer",
        )
    locked.status = ContractStatus.IN_REVIEW
    locked.submitted_at = timezone.now()
    stamp(locked, actor=actor, reason=_("Submitted for review"))
    bump_version(locked)
    locked.save()
    _complete_drafting_task(locked.opportunity, actor)
    notify(
        recipients=reviewers,
        kind="contract_review",
        title=_("Review contract %(number)s of %(deal)s")
        % {"number": locked.number, "deal": locked.opportunity.name},
        body=_("Submitted by %(user)s: approve it or return it with comments.") % {"user": actor},
        url=_url(locked),
        actor=actor,
        dedupe_key=f"contract-review:{locked.pk}:{locked.version}",
    )
    return locked


def _decide(
    *, actor: User, contract: Contract, decision: str, comment: str, version: int | None
) -> Contract:
    locked = _locked(actor, contract, version)
    if locked.status != ContractStatus.IN_REVIEW:
        raise Conflict(
            _("Only a contract in review can be decided."), code="contract_not_in_review"
        )
    if actor.pk == locked.created_by_id:
        raise Forbidden(_("You drafted this contract; another person must review it."))
    if actor.pk == locked.opportunity.owner_id:
        raise Forbidden(_("You own this deal; your manager must review its contract."))
    if not contract_may_review(actor, locked):
        raise Forbidden(_("Only the deal owner's manager or an administrator reviews contracts."))
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise InvalidInput(errors={"comment": [_("Keep the comment under 2,000 characters.")]})
    if decision == ContractReview.Decision.RETURNED and not comment:
        raise InvalidInput(
            errors={"comment": [_("Say what must change before the contract is approved.")]}
        )
    now = timezone.now()
    ContractReview.objects.create(
        contract=locked, reviewer=actor, decision=decision, comment=comment
    )
    approved = decision == ContractReview.Decision.APPROVED
    locked.status = ContractStatus.APPROVED if approved else ContractStatus.RETURNED
    locked.reviewed_by = actor
    locked.reviewed_at = now
    locked.review_comment = comment
    stamp(
        locked,
        actor=actor,
        reason=(_("Approved") if approved else _("Returned for changes"))
        + (f": {comment[:80]}" if comment else ""),
    )
    bump_version(locked)
    locked.save()
    if approved and locked.is_repeat_order:
        payments.repeat_order_approved(actor=actor, contract=locked)
        grading.regrade_later(locked, reason=_("Grade recomputed: repeat order"))
    recipients = {locked.opportunity.owner}
    if locked.created_by is not None:
        recipients.add(locked.created_by)
    if approved:
        title = _("Contract %(number)s approved by %(user)s")
    else:
        title = _("Contract %(number)s returned by %(user)s")
    notify(
        recipients=recipients,
        kind="contract_decided",
        title=title % {"number": locked.number, "user": actor},
        body=comment,
        url=_url(locked),
        actor=actor,
        dedupe_key=f"contract-decided:{locked.pk}:{locked.version}",
    )
    return locked


@transaction.atomic
def contract_approve(
    *, actor: User, contract: Contract, comment: str = "", version: int | None = None
) -> Contract:
    return _decide(
        actor=actor,
        contract=contract,
        decision=ContractReview.Decision.APPROVED,
        comment=comment,
        version=version,
    )


@transaction.atomic
def contract_return(
    *, actor: User, contract: Contract, comment: str, version: int | None = None
) -> Contract:
    return _decide(
        actor=actor,
        contract=contract,
        decision=ContractReview.Decision.RETURNED,
        comment=comment,
        version=version,
    )


@transaction.atomic
def contract_void(
    *, actor: User, contract: Contract, reason: str, version: int | None = None
) -> Contract:
    """Void a contract (to replace an approved one, or drop a draft); a reason is required. A
    contract with payments recorded stays: the money was received against it."""
    locked = _locked_for_writer(actor, contract, version)
    if locked.status == ContractStatus.VOID:
        raise Conflict(_("This contract is already void."), code="contract_void")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(errors={"reason": [_("Give the reason for voiding the contract.")]})
    if len(reason) > 200:
        raise InvalidInput(errors={"reason": [_("Keep the reason under 200 characters.")]})
    if locked.payments.exists():
        raise Conflict(
            _("Payments were received against this contract; it cannot be voided."),
            code="contract_paid",
        )
    locked.status = ContractStatus.VOID
    stamp(locked, actor=actor, reason=_("Voided: %(reason)s") % {"reason": reason})
    bump_version(locked)
    locked.save()
    return locked


# --- the drafting task --------------------------------------------------------------------------


def draft_due_at(start: datetime) -> datetime:
    """The end of the N-th working day after ``start``'s day (N = the setting), local time."""
    days = int(config.get(DRAFT_WORKING_DAYS.key))
    hours = calendar.working_hours()
    day = timezone.localdate(start)
    counted = 0
    for _step in range(366):
        day += timedelta(days=1)
        if calendar.is_business_day(day, hours=hours):
            counted += 1
            if counted >= days:
                break
    end: time = hours.spans[-1][1]
    return timezone.make_aware(datetime.combine(day, end), timezone.get_current_timezone())


def _task_key(opportunity: Opportunity) -> str:
    return f"contract-draft:{opportunity.pk}"


def _drafting_task(opportunity: Opportunity) -> Task | None:
    return Task.objects.filter(dedupe_key=_task_key(opportunity), status=TaskStatus.OPEN).first()


def drafting_task_for_stage(opportunity: Opportunity, stage: Stage, actor: User | None) -> None:
    """The ``on_stage_entered`` callback: entering the agreement stage gives the owner a task to
    draft the contract, unless the deal has one already."""
    if stage.code != config.get(DRAFT_STAGE.key) or not opportunity.pk:
        return
    if _live(opportunity) is not None:
        return
    owner = opportunity.owner
    if owner is None or not owner.is_active:
        return
    due = draft_due_at(timezone.now())
    task_create(
        actor=None,
        assignee=owner,
        title=_("Draft the contract of %(deal)s") % {"deal": opportunity.name},
        due_at=due,
        customer=opportunity.customer,
        related=opportunity,
        priority="high",
        description=_(
            "The deal reached %(stage)s: draft the contract and submit it for review by "
            "%(due)s (%(days)s working days)."
        )
        % {
            "stage": stage.label,
            "due": f"{timezone.localtime(due):%Y-%m-%d %H:%M}",
            "days": config.get(DRAFT_WORKING_DAYS.key),
        },
        dedupe_key=_task_key(opportunity),
    )


def _complete_drafting_task(opportunity: Opportunity, actor: User) -> None:
    """Submitting the contract is what the task asked: it is done (whoever submitted)."""
    now = timezone.now()
    for task in Task.objects.select_for_update().filter(
        dedupe_key=_task_key(opportunity), status=TaskStatus.OPEN
    ):
        task.status = TaskStatus.DONE
        task.completed_at = now
        bump_version(task)
        stamp(task, actor=actor, reason=_("Contract submitted for review"))
        task.save()
