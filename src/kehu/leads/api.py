"""/api/v1/leads: capture, lists, actions (assign, confirm, invalidate, review, convert), rules,
assignment dry-run, reports, and the public web-form submission."""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import User
from kehu.core import custom_fields
from kehu.core.access import get_editable_or_404, mask_values, policy_of
from kehu.core.errors import Forbidden
from kehu.core.numbers import Id
from kehu.core.pagination import MappedRows
from kehu.leads import selectors, services
from kehu.leads.models import AssignmentRule, Lead
from kehu.leads.selectors import LeadFilters
from kehu.leads.views import submission_data

router = Router(tags=["leads"])


# --- Schemas ---------------------------------------------------------------------------------
class LeadIn(Schema):
    company_name: str = ""
    contact_name: str
    mobile: str = ""
    email: str = ""
    region: str | None = Field(None, description="GB/T 2260 code or name (province or city)")
    industry: str | None = Field(None, description="GB/T 4754 code or name")
    need: str = ""
    urgency: Literal["low", "medium", "high"] = "medium"
    estimated_value: Decimal | None = None
    priority: Literal["S", "A", "B", ""] = Field("", description="Empty: by the priority rules")
    source: str
    source_detail: str = ""
    custom: dict[str, Any] | None = Field(None, description=custom_fields.API_IN)


class LeadPatch(Schema):
    version: int
    company_name: str | None = None
    contact_name: str | None = None
    mobile: str | None = None
    email: str | None = None
    region: str | None = None
    industry: str | None = None
    need: str | None = None
    urgency: Literal["low", "medium", "high"] | None = None
    estimated_value: Decimal | None = None
    priority: Literal["S", "A", "B", ""] | None = None
    source: str | None = None
    source_detail: str | None = None
    custom: dict[str, Any] | None = Field(None, description=custom_fields.API_IN)


class LeadOut(Schema):
    id: int
    version: int
    company_name: str
    contact_name: str
    mobile: str
    email: str
    masked: bool  # mobile and email masked (no full access to the lead)
    region: str | None
    region_name: str
    industry: str | None
    industry_name: str
    need: str
    urgency: str
    estimated_value: Decimal | None
    priority: str
    priority_manual: bool
    source: str
    source_detail: str
    web_form_id: int | None
    extra: dict[str, Any]
    status: str
    status_label: str
    assignee_id: int | None
    assignee_name: str
    department_id: int | None
    assigned_at: datetime | None
    confirm_due_at: datetime | None
    confirmed_at: datetime | None
    sla_breached_at: datetime | None
    first_contact_due_at: datetime | None
    first_contact_at: datetime | None
    overdue_at: datetime | None
    invalid_reason: str
    invalid_note: str
    customer_id: int | None
    opportunity_id: int | None
    converted_at: datetime | None
    created_at: datetime
    custom: dict[str, Any] = Field(
        description=custom_fields.API_OUT, json_schema_extra={"additionalProperties": True}
    )


def lead_out(lead: Lead, user: Any) -> dict[str, Any]:
    data = {
        "id": lead.pk, "version": lead.version, "company_name": lead.company_name,
        "contact_name": lead.contact_name, **selectors.lead_contact(user, lead),
        "region": lead.region_id, "region_name": str(lead.region) if lead.region else "",
        "industry": lead.industry_id, "industry_name": str(lead.industry) if lead.industry else "",
        "need": lead.need, "urgency": lead.urgency, "estimated_value": lead.estimated_value,
        "priority": lead.priority, "priority_manual": lead.priority_manual, "source": lead.source,
        "source_detail": lead.source_detail, "web_form_id": lead.web_form_id, "extra": lead.extra,
        "status": lead.status, "status_label": str(lead.get_status_display()),
        "assignee_id": lead.assignee_id, "assignee_name": str(lead.assignee or ""),
        "department_id": lead.department_id, "assigned_at": lead.assigned_at,
        "confirm_due_at": lead.confirm_due_at, "confirmed_at": lead.confirmed_at,
        "sla_breached_at": lead.sla_breached_at, "first_contact_due_at": lead.first_contact_due_at,
        "first_contact_at": lead.first_contact_at, "overdue_at": lead.overdue_at,
        "invalid_reason": lead.invalid_reason, "invalid_note": lead.invalid_note,
        "customer_id": lead.customer_id, "opportunity_id": lead.opportunity_id,
        "converted_at": lead.converted_at, "created_at": lead.created_at,
        "custom": custom_fields.shown_values(
            "lead", user, lead.custom, masked=custom_fields.masked_for(user, lead)
        ),
    }  # fmt: skip
    return mask_values(data, policy_of(Lead).masked_fields(user, lead))


class AssignIn(Schema):
    assignee_id: int
    note: str = ""


class NoteIn(Schema):
    note: str = ""


class InvalidateIn(Schema):
    reason: Literal["empty_number", "wrong_industry", "duplicate", "no_need", "other"]
    note: str = ""


class ReviewIn(Schema):
    decision: Literal["close", "reassign"]
    note: str = ""
    assignee_id: int | None = None


class ConvertIn(Schema):
    customer_id: int | None = Field(None, description="Link to this existing customer instead")
    force: bool = Field(False, description="Create a new customer despite possible duplicates")
    create_opportunity: bool = False
    opportunity_name: str = ""


class RuleOut(Schema):
    id: int
    version: int
    name: str
    position: int
    is_active: bool
    region_codes: list[str]
    industry_codes: list[str]
    sources: list[str]
    priorities: list[str]
    department_id: int | None
    rep_ids: list[Id]


class RuleIn(Schema):
    name: str
    is_active: bool = True
    region_codes: list[str] = []
    industry_codes: list[str] = []
    sources: list[str] = []
    priorities: list[str] = []
    department_id: int | None = None
    rep_ids: list[Id] = []


class RulePatch(Schema):
    version: int
    name: str | None = None
    is_active: bool | None = None
    region_codes: list[str] | None = None
    industry_codes: list[str] | None = None
    sources: list[str] | None = None
    priorities: list[str] | None = None
    department_id: int | None = None
    rep_ids: list[Id] | None = None


class ReorderIn(Schema):
    rule_ids: list[Id]


class DryRunIn(Schema):
    lead_ids: list[Id] | None = Field(None, description="Default: every pooled lead (≤ 500)")


class DryRunRow(Schema):
    lead_id: int
    lead: str
    rule: str | None
    assignee_id: int | None
    assignee_name: str | None


class DryRunOut(Schema):
    items: list[DryRunRow]
    count: int
    unmatched: int


class RunOut(Schema):
    id: int
    considered: int
    assigned: int
    started_at: datetime
    finished_at: datetime | None


class ReportQuery(Schema):
    start: datetime | None = None
    end: datetime | None = None


class WebSubmissionOut(Schema):
    detail: str
    lead_id: int | None = None


def rule_out(rule: AssignmentRule) -> dict[str, Any]:
    return {
        "id": rule.pk, "version": rule.version, "name": rule.name, "position": rule.position,
        "is_active": rule.is_active, "region_codes": rule.region_codes,
        "industry_codes": rule.industry_codes, "sources": rule.sources,
        "priorities": rule.priorities, "department_id": rule.department_id,
        "rep_ids": sorted(user.pk for user in rule.reps.all()),
    }  # fmt: skip


def _lead_for_write(request: AuthedRequest, lead_id: int) -> Lead:
    """A lead the user can see; services decide whether the role may act on it."""
    return selectors.lead_get(user=request.user, lead_id=lead_id)


def _active_user(user_id: int) -> User:
    return get_object_or_404(User, pk=user_id, is_active=True)


def _require_rule_editor(request: AuthedRequest) -> None:
    """403 before a rule's lookup, so a rule id tells nothing to a role that may not edit."""
    if not services.rules_may_edit(request.user):
        raise Forbidden(str(Forbidden.default_detail))


# --- Leads -----------------------------------------------------------------------------------
@router.get("", response=list[LeadOut], summary="Leads in your scope")
@paginate
def list_leads(request: AuthedRequest, filters: Query[LeadFilters]) -> list[dict[str, Any]]:
    leads = selectors.lead_list(user=request.user, filters=filters)
    return MappedRows(leads, lambda lead: lead_out(lead, request.user))  # type: ignore[return-value]


@router.post("", response={201: LeadOut}, summary="Capture a lead")
def create_lead(request: AuthedRequest, payload: LeadIn) -> Status:
    lead = services.lead_capture(actor=request.user, data=payload.dict())
    return Status(
        201, lead_out(selectors.lead_get(user=request.user, lead_id=lead.pk), request.user)
    )


@router.get("/reports/conversion", summary="Lead → customer conversion by source, region, rep")
def report_conversion(request: AuthedRequest, query: Query[ReportQuery]) -> dict[str, Any]:
    return selectors.conversion_report(user=request.user, start=query.start, end=query.end)


@router.get("/reports/first-contact", summary="Median hours from capture to first contact")
def report_first_contact(request: AuthedRequest, query: Query[ReportQuery]) -> dict[str, Any]:
    return selectors.first_contact_report(user=request.user, start=query.start, end=query.end)


@router.get("/rules", response=list[RuleOut], summary="Assignment rules in order (admin)")
def list_rules(request: AuthedRequest) -> list[dict[str, Any]]:
    _require_rule_editor(request)
    return [rule_out(rule) for rule in selectors.rule_list()]


def _rule_data(payload: Schema) -> dict[str, Any]:
    data = payload.dict(exclude_unset=True)
    data.pop("version", None)
    if "department_id" in data:
        data["department"] = data.pop("department_id")
    if "rep_ids" in data:
        data["reps"] = data.pop("rep_ids")
    return data


@router.post("/rules", response={201: RuleOut}, summary="Add an assignment rule (admin)")
def create_rule(request: AuthedRequest, payload: RuleIn) -> Status:
    rule = services.rule_create(actor=request.user, data=_rule_data(payload))
    return Status(201, rule_out(rule))


@router.post("/rules/order", response=list[RuleOut], summary="Reorder the rules (admin)")
def reorder_rules(request: AuthedRequest, payload: ReorderIn) -> list[dict[str, Any]]:
    services.rules_reorder(actor=request.user, rule_ids=payload.rule_ids)
    return [rule_out(rule) for rule in selectors.rule_list()]


@router.patch("/rules/{rule_id}", response=RuleOut, summary="Change an assignment rule (admin)")
def update_rule(request: AuthedRequest, rule_id: int, payload: RulePatch) -> dict[str, Any]:
    _require_rule_editor(request)
    rule = get_object_or_404(AssignmentRule, pk=rule_id)
    rule = services.rule_update(
        actor=request.user, rule=rule, data=_rule_data(payload), version=payload.version
    )
    return rule_out(rule)


@router.delete("/rules/{rule_id}", response={204: None}, summary="Delete a rule (admin)")
def delete_rule(request: AuthedRequest, rule_id: int) -> Status:
    _require_rule_editor(request)
    services.rule_delete(actor=request.user, rule=get_object_or_404(AssignmentRule, pk=rule_id))
    return Status(204, None)


@router.post("/assignment/dry-run", response=DryRunOut, summary="Who would get each pooled lead")
def dry_run(request: AuthedRequest, payload: DryRunIn) -> dict[str, Any]:
    user = request.user
    leads = selectors.pooled_leads(user=user)
    if payload.lead_ids is not None:
        wanted = set(payload.lead_ids)
        leads = [lead for lead in leads if lead.pk in wanted]
    proposals = services.assignment_dry_run(actor=user, leads=leads)
    items = [
        {
            "lead_id": lead.pk,
            "lead": str(lead),
            "rule": p.rule if p else None,
            "assignee_id": p.user_id if p else None,
            "assignee_name": p.user_name if p else None,
        }
        for lead, p in zip(leads, proposals, strict=True)
    ]
    unmatched = sum(1 for p in proposals if p is None)
    return {"items": items, "count": len(items), "unmatched": unmatched}


@router.post("/assignment/run", response=RunOut, summary="Run the batch assignment now (admin)")
def run_batch(request: AuthedRequest) -> Any:
    return services.assignment_batch(actor=request.user)


@router.post(
    "/web-forms/{key}/submissions",
    auth=None,
    response={201: WebSubmissionOut},
    summary="Public web-to-lead submission (no login; verified by the form secret)",
)
def web_submission(request: HttpRequest, key: str) -> Status:
    data = submission_data(request)
    lead = services.web_form_submit(
        form_key=key,
        secret=str(data.pop("secret", "")),
        data=data,
        ip=request.META.get("REMOTE_ADDR", ""),
    )
    return Status(201, {"detail": "ok", "lead_id": lead.pk if lead is not None else None})


@router.get("/{lead_id}", response=LeadOut, summary="One lead")
def get_lead(request: AuthedRequest, lead_id: int) -> dict[str, Any]:
    return lead_out(selectors.lead_get(user=request.user, lead_id=lead_id), request.user)


@router.patch("/{lead_id}", response=LeadOut, summary="Edit a lead (send its version)")
def update_lead(request: AuthedRequest, lead_id: int, payload: LeadPatch) -> dict[str, Any]:
    lead = get_editable_or_404(Lead.objects.all(), request.user, pk=lead_id)
    changes = payload.dict(exclude_unset=True)
    version = changes.pop("version")
    services.lead_update(actor=request.user, lead=lead, changes=changes, version=version)
    return lead_out(selectors.lead_get(user=request.user, lead_id=lead_id), request.user)


@router.post("/{lead_id}/assign", response=LeadOut, summary="Assign to a rep (admin, manager)")
def assign_lead(request: AuthedRequest, lead_id: int, payload: AssignIn) -> dict[str, Any]:
    lead = _lead_for_write(request, lead_id)
    services.lead_assign(
        actor=request.user,
        lead=lead,
        assignee=_active_user(payload.assignee_id),
        note=payload.note,
    )
    return lead_out(selectors.lead_get(user=request.user, lead_id=lead_id), request.user)


@router.post("/{lead_id}/confirm", response=LeadOut, summary="Confirm contactable (assignee)")
def confirm_lead(request: AuthedRequest, lead_id: int, payload: NoteIn) -> dict[str, Any]:
    lead = _lead_for_write(request, lead_id)
    services.lead_confirm(actor=request.user, lead=lead, note=payload.note)
    return lead_out(selectors.lead_get(user=request.user, lead_id=lead_id), request.user)


@router.post("/{lead_id}/invalidate", response=LeadOut, summary="Mark invalid (assignee)")
def invalidate_lead(request: AuthedRequest, lead_id: int, payload: InvalidateIn) -> dict[str, Any]:
    lead = _lead_for_write(request, lead_id)
    services.lead_invalidate(
        actor=request.user, lead=lead, reason=payload.reason, note=payload.note
    )
    return lead_out(selectors.lead_get(user=request.user, lead_id=lead_id), request.user)


@router.post("/{lead_id}/review", response=LeadOut, summary="Review an invalid lead (admin)")
def review_lead(request: AuthedRequest, lead_id: int, payload: ReviewIn) -> dict[str, Any]:
    lead = _lead_for_write(request, lead_id)
    assignee = _active_user(payload.assignee_id) if payload.assignee_id else None
    services.lead_review(
        actor=request.user,
        lead=lead,
        decision=payload.decision,
        note=payload.note,
        assignee=assignee,
    )
    return lead_out(selectors.lead_get(user=request.user, lead_id=lead_id), request.user)


@router.post(
    "/{lead_id}/convert",
    response=LeadOut,
    summary="Convert into a customer (+ contact, optional opportunity)",
    description=(
        "Runs the customer duplicate check first: on a match it answers 409 with `matches`; "
        "send `customer_id` to link to one of them, or `force` to create a new customer anyway."
    ),
)
def convert_lead(request: AuthedRequest, lead_id: int, payload: ConvertIn) -> dict[str, Any]:
    lead = _lead_for_write(request, lead_id)
    services.lead_convert(
        actor=request.user,
        lead=lead,
        customer_id=payload.customer_id,
        force=payload.force,
        create_opportunity=payload.create_opportunity,
        opportunity_name=payload.opportunity_name,
    )
    return lead_out(selectors.lead_get(user=request.user, lead_id=lead_id), request.user)
