"""Every write of campaigns (营销活动): the plan, status, review notes (复盘), goals, costs and
the lead web forms attached to a campaign.

Who writes: marketing (every campaign), sales managers (their departments' campaigns and their
own) and admins; a rep may read a campaign they own but not plan or change campaigns. The row
scope is the model's access policy (``editable_by``); the role rule is here.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, Role, User
from kehu.campaigns.models import (
    Campaign,
    CampaignCost,
    CampaignForm,
    CampaignGoal,
    CampaignKind,
    CampaignStatus,
    CostCategory,
    GoalMetric,
)
from kehu.core import audit
from kehu.core.access import is_admin, lock_editable
from kehu.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from kehu.core.services import bump_version, check_version
from kehu.customers.models import Industry, Region
from kehu.leads.models import WebForm

WRITER_ROLES = frozenset({Role.MARKETING, Role.MANAGER, Role.ADMIN})
MAX_MONEY = Decimal("999999999999.99")
PLAN_FIELDS = (
    "name",
    "kind",
    "starts_on",
    "ends_on",
    "owner",
    "department",
    "budget",
    "description",
)
EDITABLE_FIELDS = (*PLAN_FIELDS, "review")
# Where a status may go: a finished campaign can be reopened, a cancelled one planned again.
TRANSITIONS: dict[str, frozenset[str]] = {
    CampaignStatus.PLANNED: frozenset({CampaignStatus.RUNNING, CampaignStatus.CANCELLED}),
    CampaignStatus.RUNNING: frozenset(
        {CampaignStatus.FINISHED, CampaignStatus.CANCELLED, CampaignStatus.PLANNED}
    ),
    CampaignStatus.FINISHED: frozenset({CampaignStatus.RUNNING}),
    CampaignStatus.CANCELLED: frozenset({CampaignStatus.PLANNED}),
}


# --- predicates -------------------------------------------------------------------------------


def campaign_may_create(user: User) -> bool:
    return bool(user and user.is_active) and (is_admin(user) or user.role in WRITER_ROLES)


def campaign_may_edit(user: User, campaign: Campaign) -> bool:
    """The role rule; the row scope is ``Campaign.objects.editable_by`` (checked on write)."""
    return campaign_may_create(user)


def _check_writer(actor: User) -> None:
    if not campaign_may_create(actor):
        raise Forbidden(_("Only marketing, sales managers and administrators manage campaigns."))


def lock_campaign(actor: User, campaign: Campaign | int) -> Campaign:
    """The campaign locked for a write by ``actor``: 404 outside their scope, 403 for a role
    that does not manage campaigns."""
    pk = campaign if isinstance(campaign, int) else campaign.pk
    _check_writer(actor)
    return lock_editable(Campaign.objects.all(), actor, pk=pk)


# --- cleaning ---------------------------------------------------------------------------------


def as_date(value: Any, field: str, errors: dict[str, list[str]]) -> date | None:
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


def as_money(
    value: Any, field: str, errors: dict[str, list[str]], *, positive: bool
) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        errors[field] = [_("Enter an amount in yuan.")]
        return None
    if not amount.is_finite():
        errors[field] = [_("Enter an amount in yuan.")]
    elif positive and amount <= 0:
        errors[field] = [_("The amount must be more than zero.")]
    elif amount < 0:
        errors[field] = [_("The amount cannot be negative.")]
    elif amount > MAX_MONEY:
        errors[field] = [_("The amount is too large.")]
    elif amount != amount.quantize(Decimal("0.01")):
        errors[field] = [_("Use at most two decimal places.")]
    else:
        return amount
    return None


def _text(value: Any, field: str, limit: int, errors: dict[str, list[str]]) -> str | None:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = [_("Enter text.")]
        return None
    value = value.strip()
    if len(value) > limit:
        errors[field] = [_("At most %(limit)s characters.") % {"limit": limit}]
        return None
    return value


def _user(value: Any, errors: dict[str, list[str]]) -> User | None:
    if isinstance(value, User):
        return value
    user = None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        user = User.objects.filter(pk=value, is_active=True).first()
    if user is None:
        errors["owner"] = [_("Choose an active user.")]
    return user


def _department(value: Any, errors: dict[str, list[str]]) -> Department | None:
    if value in (None, ""):
        return None
    if isinstance(value, Department):
        return value
    department = None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        department = Department.objects.filter(pk=value).first()
    if department is None:
        errors["department"] = [_("Choose a department.")]
    return department


def _clean(campaign: Campaign, data: dict[str, Any]) -> set[str]:
    """Set ``data`` on ``campaign``; the names of the fields that changed. 422 naming each bad
    field, nothing set when any is bad."""
    errors: dict[str, list[str]] = {
        name: [_("This field cannot be changed here.")]
        for name in sorted(set(data) - set(EDITABLE_FIELDS))
    }
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name in errors:
            continue
        if name == "kind":
            if value not in CampaignKind.values:
                errors[name] = [_("Choose a campaign type.")]
            else:
                values[name] = value
        elif name in ("starts_on", "ends_on"):
            day = as_date(value, name, errors)
            if day is None and name not in errors:
                errors[name] = [_("Enter a date.")]
            values[name] = day
        elif name == "budget":
            values[name] = as_money(value, name, errors, positive=False)
        elif name == "owner":
            values[name] = _user(value, errors)
        elif name == "department":
            values[name] = _department(value, errors)
        else:
            limit = {"name": 200, "description": 5000, "review": 10000}[name]
            text = _text(value, name, limit, errors)
            if name == "name" and text == "":
                errors[name] = [_("Name the campaign.")]
            values[name] = text
    starts = values.get("starts_on", campaign.starts_on if campaign.pk else None)
    ends = values.get("ends_on", campaign.ends_on if campaign.pk else None)
    if starts and ends and ends < starts and "ends_on" not in errors:
        errors["ends_on"] = [_("The campaign cannot end before it starts.")]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)
    changed = {name for name, value in values.items() if getattr(campaign, name, None) != value}
    for name, value in values.items():
        setattr(campaign, name, value)
    return changed


# --- campaigns --------------------------------------------------------------------------------


@transaction.atomic
def campaign_create(*, actor: User, data: dict[str, Any]) -> Campaign:
    """Plan a campaign. The owner defaults to the actor, the department to the owner's."""
    _check_writer(actor)
    data = dict(data)
    missing = {
        name: [_("This field is required.")]
        for name in ("name", "kind", "starts_on", "ends_on")
        if data.get(name) in (None, "")
    }
    if missing:
        raise InvalidInput(next(iter(missing.values()))[0], errors=missing)
    data.setdefault("owner", actor)
    if data["owner"] is None:
        data["owner"] = actor
    campaign = Campaign(created_by=actor)
    _clean(campaign, data)
    if "department" not in data:
        campaign.department_id = campaign.owner.department_id
    campaign.save()
    return campaign


@transaction.atomic
def campaign_update(
    *, actor: User, campaign: Campaign | int, data: dict[str, Any], version: int | None
) -> Campaign:
    """Change the plan or the review notes (optimistic locking on ``version``)."""
    locked = lock_campaign(actor, campaign)
    check_version(locked, version)
    if _clean(locked, data):
        bump_version(locked)
        locked.save()
    return locked


@transaction.atomic
def campaign_set_status(
    *, actor: User, campaign: Campaign | int, status: str, version: int | None = None
) -> Campaign:
    locked = lock_campaign(actor, campaign)
    check_version(locked, version)
    if status not in CampaignStatus.values:
        raise InvalidInput(errors={"status": [_("Choose a status.")]})
    if status == locked.status:
        return locked
    if status not in TRANSITIONS[locked.status]:
        raise Conflict(
            _("A %(current)s campaign cannot become %(new)s.")
            % {
                "current": locked.get_status_display(),
                "new": CampaignStatus(status).label,
            },
            code="bad_status",
        )
    locked.status = status
    bump_version(locked)
    locked.save()
    return locked


@audit.audited("campaigns.campaign_deleted", target="campaign", model="campaigns.campaign")
@transaction.atomic
def campaign_delete(*, actor: User, campaign: Campaign | int) -> None:
    """Delete a campaign that never reached anyone (no sends, touches or costs); others are
    cancelled instead, so their figures stay."""
    locked = lock_campaign(actor, campaign)
    if locked.sends.exists() or locked.touches.exists() or locked.costs.exists():
        raise Conflict(
            _("This campaign has sends, touches or costs: cancel it instead."), code="in_use"
        )
    locked.delete()


# --- goals ------------------------------------------------------------------------------------


def _reference(model: Any, value: Any, field: str, errors: dict[str, list[str]]) -> Any:
    if value in (None, ""):
        return None
    if isinstance(value, model):
        return value
    # Industries and regions are keyed by their GB code (C, 31, 310100)
    row = None
    if isinstance(value, str) and len(value) <= 6:
        row = model.objects.filter(pk=value.strip()).first()
    if row is None:
        errors[field] = [_("Choose one from the list.")]
    return row


@transaction.atomic
def goal_add(*, actor: User, campaign: Campaign | int, data: dict[str, Any]) -> CampaignGoal:
    """A planned figure (新增30家制造业中小企业: customers, target 30, industry 制造业)."""
    locked = lock_campaign(actor, campaign)
    errors: dict[str, list[str]] = {}
    label = _text(data.get("label"), "label", 200, errors)
    if label == "":
        errors["label"] = [_("Describe the goal.")]
    metric = data.get("metric")
    if metric not in GoalMetric.values:
        errors["metric"] = [_("Choose how the goal is measured.")]
    target = as_money(data.get("target"), "target", errors, positive=True)
    if target is None and "target" not in errors:
        errors["target"] = [_("Enter the target.")]
    industry = _reference(Industry, data.get("industry"), "industry", errors)
    region = _reference(Region, data.get("region"), "region", errors)
    unknown = set(data) - {"label", "metric", "target", "industry", "region"}
    for name in sorted(unknown):
        errors[name] = [_("This field cannot be changed here.")]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)
    assert label is not None
    assert isinstance(metric, str)
    assert target is not None
    return CampaignGoal.objects.create(
        campaign=locked,
        label=label,
        metric=metric,
        target=target,
        industry=industry,
        region=region,
    )


@audit.audited("campaigns.campaigngoal_deleted", target="goal_id", model="campaigns.campaigngoal")
@transaction.atomic
def goal_remove(*, actor: User, campaign: Campaign | int, goal_id: int) -> None:
    locked = lock_campaign(actor, campaign)
    deleted, _rows = CampaignGoal.objects.filter(campaign=locked, pk=goal_id).delete()
    if not deleted:
        raise NotFound("goal")


# --- costs ------------------------------------------------------------------------------------


@transaction.atomic
def cost_add(*, actor: User, campaign: Campaign | int, data: dict[str, Any]) -> CampaignCost:
    """An actual cost: amount more than zero, dated today or before (422 otherwise)."""
    locked = lock_campaign(actor, campaign)
    errors: dict[str, list[str]] = {}
    amount = as_money(data.get("amount"), "amount", errors, positive=True)
    if amount is None and "amount" not in errors:
        errors["amount"] = [_("Enter the amount.")]
    spent_on = as_date(data.get("spent_on"), "spent_on", errors)
    if spent_on is None and "spent_on" not in errors:
        spent_on = timezone.localdate()
    if spent_on is not None and spent_on > timezone.localdate():
        errors["spent_on"] = [_("A cost cannot be dated in the future.")]
    category = data.get("category") or CostCategory.OTHER
    if category not in CostCategory.values:
        errors["category"] = [_("Choose a category.")]
    note = _text(data.get("note"), "note", 300, errors)
    for name in sorted(set(data) - {"amount", "spent_on", "category", "note"}):
        errors[name] = [_("This field cannot be changed here.")]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)
    assert amount is not None
    assert spent_on is not None
    return CampaignCost.objects.create(
        campaign=locked,
        amount=amount,
        spent_on=spent_on,
        category=category,
        note=note or "",
        recorded_by=actor,
    )


@audit.audited("campaigns.campaigncost_deleted", target="cost_id", model="campaigns.campaigncost")
@transaction.atomic
def cost_remove(*, actor: User, campaign: Campaign | int, cost_id: int) -> None:
    locked = lock_campaign(actor, campaign)
    deleted, _rows = CampaignCost.objects.filter(campaign=locked, pk=cost_id).delete()
    if not deleted:
        raise NotFound("cost")


# --- web forms --------------------------------------------------------------------------------


@transaction.atomic
def form_attach(*, actor: User, campaign: Campaign | int, web_form_id: int) -> CampaignForm:
    """Attach a lead web form: the leads it captures from now on carry this campaign. A form
    serves one campaign at a time (409 when another has it)."""
    locked = lock_campaign(actor, campaign)
    form = WebForm.objects.filter(pk=web_form_id).first()
    if form is None:
        raise InvalidInput(errors={"web_form_id": [_("Choose a web form.")]})
    existing = CampaignForm.objects.select_for_update().filter(web_form=form).first()
    if existing is not None:
        if existing.campaign_id == locked.pk:
            return existing
        raise Conflict(
            _("This web form is attached to another campaign; detach it there first."),
            code="form_in_use",
        )
    return CampaignForm.objects.create(campaign=locked, web_form=form)


@transaction.atomic
def form_detach(*, actor: User, campaign: Campaign | int, web_form_id: int) -> None:
    locked = lock_campaign(actor, campaign)
    deleted, _rows = CampaignForm.objects.filter(campaign=locked, web_form_id=web_form_id).delete()
    if not deleted:
        raise NotFound("web form")
