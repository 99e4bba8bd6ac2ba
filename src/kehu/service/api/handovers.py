"""/api/v1/handovers (服务交接单) and /api/v1/routing-rules.

Lists answer ``{"items", "count", "count_capped"}`` in a constant number of queries; the
sensitive ``contract_terms`` is ``null`` for whoever lacks full access to the handover (the
specialist, a service manager), as the access policy says.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from kehu.accounts.http import AuthedRequest
from kehu.core.access import get_visible_or_404, mask_values, policy_of
from kehu.core.errors import InvalidInput
from kehu.core.numbers import MAX_INT, Id
from kehu.core.pagination import API_MAX_LIMIT, BoundedPageOut, page_of
from kehu.customers.models import Customer
from kehu.opportunities.models import Opportunity
from kehu.service.models import Handover, HandoverAttachment, RoutingRule
from kehu.service.selectors import handovers as selectors
from kehu.service.services import handovers as services

router = Router(tags=["service"])


class HandoverOut(Schema):
    id: int
    customer_id: int
    customer_name: str
    opportunity_id: int | None
    owner_id: int
    owner_name: str
    department_id: int | None
    status: str
    status_name: str
    needs: str
    service_content: str
    response_hours: int | None
    resolution_hours: int | None
    contract_terms: str | None
    special_notes: str
    product: str
    specialist_id: int | None
    specialist_name: str
    appointed_by_rule_id: int | None
    submitted_at: datetime | None
    confirmed_at: datetime | None
    escalated_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class HandoverPage(BoundedPageOut):
    items: list[HandoverOut]


class HandoverIn(Schema):
    customer_id: Id
    opportunity_id: Id | None = None
    needs: str = ""
    service_content: str = ""
    response_hours: int | None = Field(None, ge=-MAX_INT, le=MAX_INT)
    resolution_hours: int | None = Field(None, ge=-MAX_INT, le=MAX_INT)
    contract_terms: str = ""
    special_notes: str = ""
    product: str = ""


class HandoverPatch(Schema):
    version: int
    needs: str | None = None
    service_content: str | None = None
    response_hours: int | None = Field(None, ge=-MAX_INT, le=MAX_INT)
    resolution_hours: int | None = Field(None, ge=-MAX_INT, le=MAX_INT)
    contract_terms: str | None = None
    special_notes: str | None = None
    product: str | None = None


class SubmitIn(Schema):
    specialist_id: Id | None = None
    version: int | None = None


class VersionIn(Schema):
    version: int | None = None


class CancelIn(Schema):
    reason: str = ""
    version: int | None = None


class ReassignIn(Schema):
    specialist_id: Id
    reason: str = ""
    version: int | None = None


class HandoverAttachmentOut(Schema):
    id: int
    name: str
    size: int
    uploaded_at: datetime


def handover_out(request: AuthedRequest, handover: Handover) -> dict[str, Any]:
    data = {
        "id": handover.pk,
        "customer_id": handover.customer_id,
        "customer_name": handover.customer.name,
        "opportunity_id": handover.opportunity_id,
        "owner_id": handover.owner_id,
        "owner_name": str(handover.owner),
        "department_id": handover.department_id,
        "status": handover.status,
        "status_name": str(handover.get_status_display()),
        "needs": handover.needs,
        "service_content": handover.service_content,
        "response_hours": handover.response_hours,
        "resolution_hours": handover.resolution_hours,
        "contract_terms": handover.contract_terms,
        "special_notes": handover.special_notes,
        "product": handover.product,
        "specialist_id": handover.specialist_id,
        "specialist_name": str(handover.specialist) if handover.specialist else "",
        "appointed_by_rule_id": handover.appointed_by_rule_id,
        "submitted_at": handover.submitted_at,
        "confirmed_at": handover.confirmed_at,
        "escalated_at": handover.escalated_at,
        "version": handover.version,
        "created_at": handover.created_at,
        "updated_at": handover.updated_at,
    }
    return mask_values(data, policy_of(Handover).masked_fields(request.user, handover))


def _reloaded(request: AuthedRequest, handover_id: int) -> dict[str, Any]:
    return handover_out(request, selectors.handover_get(user=request.user, handover_id=handover_id))


def _visible(request: AuthedRequest, handover_id: int) -> Handover:
    return selectors.handover_get(user=request.user, handover_id=handover_id)


@router.get("/handovers", response=HandoverPage)
def list_handovers(
    request: AuthedRequest,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    filters = selectors.HandoverFilters.parse(request.GET)
    rows = selectors.handover_list(user=request.user, filters=filters)
    page = page_of(rows, offset=offset, limit=limit)
    page["items"] = [handover_out(request, row) for row in page["items"]]
    return page


@router.post("/handovers", response={201: HandoverOut})
def create_handover(request: AuthedRequest, payload: HandoverIn) -> Status[dict[str, Any]]:
    customer = get_visible_or_404(Customer.objects.all(), request.user, pk=payload.customer_id)
    opportunity = None
    if payload.opportunity_id is not None:
        opportunity = (
            Opportunity.objects.visible_to(request.user).filter(pk=payload.opportunity_id).first()
        )
        if opportunity is None:
            raise InvalidInput(errors={"opportunity_id": [_("Choose a deal of this customer.")]})
    data = payload.dict(exclude={"customer_id", "opportunity_id"})
    handover = services.handover_create(
        actor=request.user, customer=customer, data=data, opportunity=opportunity
    )
    return Status(201, _reloaded(request, handover.pk))


@router.get("/handovers/{handover_id}", response=HandoverOut)
def get_handover(request: AuthedRequest, handover_id: Id) -> dict[str, Any]:
    return _reloaded(request, handover_id)


@router.patch("/handovers/{handover_id}", response=HandoverOut)
def update_handover(
    request: AuthedRequest, handover_id: Id, payload: HandoverPatch
) -> dict[str, Any]:
    handover = _visible(request, handover_id)
    data = payload.dict(exclude_unset=True, exclude={"version"})
    services.handover_update(
        actor=request.user, handover=handover, data=data, version=payload.version
    )
    return _reloaded(request, handover_id)


@router.post("/handovers/{handover_id}/submit", response=HandoverOut)
def submit_handover(request: AuthedRequest, handover_id: Id, payload: SubmitIn) -> dict[str, Any]:
    handover = _visible(request, handover_id)
    services.handover_submit(
        actor=request.user,
        handover=handover,
        specialist=payload.specialist_id,
        version=payload.version,
    )
    return _reloaded(request, handover_id)


@router.post("/handovers/{handover_id}/confirm", response=HandoverOut)
def confirm_handover(request: AuthedRequest, handover_id: Id, payload: VersionIn) -> dict[str, Any]:
    handover = _visible(request, handover_id)
    services.handover_confirm(actor=request.user, handover=handover, version=payload.version)
    return _reloaded(request, handover_id)


@router.post("/handovers/{handover_id}/cancel", response=HandoverOut)
def cancel_handover(request: AuthedRequest, handover_id: Id, payload: CancelIn) -> dict[str, Any]:
    handover = _visible(request, handover_id)
    services.handover_cancel(
        actor=request.user, handover=handover, reason=payload.reason, version=payload.version
    )
    return _reloaded(request, handover_id)


@router.post("/handovers/{handover_id}/reassign", response=HandoverOut)
def reassign_handover(
    request: AuthedRequest, handover_id: Id, payload: ReassignIn
) -> dict[str, Any]:
    handover = _visible(request, handover_id)
    services.handover_reassign_specialist(
        actor=request.user,
        handover=handover,
        specialist=payload.specialist_id,
        reason=payload.reason,
        version=payload.version,
    )
    return _reloaded(request, handover_id)


@router.get("/handovers/{handover_id}/attachments", response=list[HandoverAttachmentOut])
def list_attachments(request: AuthedRequest, handover_id: Id) -> list[HandoverAttachment]:
    handover = _visible(request, handover_id)
    return list(handover.attachments.all())


@router.post("/handovers/{handover_id}/attachments", response={201: HandoverAttachmentOut})
def add_attachment(
    request: AuthedRequest, handover_id: Id, file: File[UploadedFile]
) -> Status[HandoverAttachment]:
    handover = _visible(request, handover_id)
    attachment = services.handover_attachment_add(actor=request.user, handover=handover, file=file)
    return Status(201, attachment)


# --- routing rules ----------------------------------------------------------------------------


class RoutingRuleOut(Schema):
    id: int
    name: str
    target: str
    order: int
    is_active: bool
    ticket_type: str
    region: str | None
    industry: str | None
    product: str
    department_id: int | None
    strategy: str
    member_ids: list[int]
    version: int


class RoutingRulePage(BoundedPageOut):
    items: list[RoutingRuleOut]


class RoutingRuleIn(Schema):
    name: str
    target: str
    order: int = Field(100, ge=0, le=MAX_INT)
    is_active: bool = True
    ticket_type: str = ""
    region: str | None = None
    industry: str | None = None
    product: str = ""
    department_id: Id | None = None
    strategy: str = "least_loaded"
    member_ids: list[Id] = []


class RoutingRulePatch(Schema):
    version: int
    name: str | None = None
    order: int | None = Field(None, ge=0, le=MAX_INT)
    is_active: bool | None = None
    ticket_type: str | None = None
    region: str | None = None
    industry: str | None = None
    product: str | None = None
    department_id: Id | None = None
    strategy: str | None = None
    member_ids: list[Id] | None = None


def rule_out(rule: RoutingRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "name": rule.name,
        "target": rule.target,
        "order": rule.order,
        "is_active": rule.is_active,
        "ticket_type": rule.ticket_type,
        "region": rule.region_id,
        "industry": rule.industry_id,
        "product": rule.product,
        "department_id": rule.department_id,
        "strategy": rule.strategy,
        "member_ids": sorted(member.pk for member in rule.members.all()),
        "version": rule.version,
    }


def _rule_data(payload: dict[str, Any]) -> dict[str, Any]:
    data = dict(payload)
    if "department_id" in data:
        data["department"] = data.pop("department_id")
    if "member_ids" in data:
        data["members"] = data.pop("member_ids")
    return data


def _rule_for_admin(request: AuthedRequest, rule_id: int) -> RoutingRule:
    services._require_rule_admin(request.user)
    return selectors.routing_rule_get(rule_id)


@router.get("/routing-rules", response=RoutingRulePage)
def list_routing_rules(
    request: AuthedRequest,
    limit: int = Query(50, ge=1, le=API_MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INT),
) -> dict[str, Any]:
    services._require_rule_admin(request.user)
    page = page_of(selectors.routing_rule_list(), offset=offset, limit=limit)
    page["items"] = [rule_out(rule) for rule in page["items"]]
    return page


@router.post("/routing-rules", response={201: RoutingRuleOut})
def create_routing_rule(request: AuthedRequest, payload: RoutingRuleIn) -> Status[dict[str, Any]]:
    rule = services.routing_rule_create(actor=request.user, data=_rule_data(payload.dict()))
    return Status(201, rule_out(selectors.routing_rule_get(rule.pk)))


@router.get("/routing-rules/{routing_rule_id}", response=RoutingRuleOut)
def get_routing_rule(request: AuthedRequest, routing_rule_id: Id) -> dict[str, Any]:
    return rule_out(_rule_for_admin(request, routing_rule_id))


@router.patch("/routing-rules/{routing_rule_id}", response=RoutingRuleOut)
def update_routing_rule(
    request: AuthedRequest, routing_rule_id: Id, payload: RoutingRulePatch
) -> dict[str, Any]:
    rule = _rule_for_admin(request, routing_rule_id)
    data = _rule_data(payload.dict(exclude_unset=True, exclude={"version"}))
    services.routing_rule_update(actor=request.user, rule=rule, data=data, version=payload.version)
    return rule_out(selectors.routing_rule_get(routing_rule_id))


@router.delete("/routing-rules/{routing_rule_id}", response={204: None})
def delete_routing_rule(request: AuthedRequest, routing_rule_id: Id) -> Status[None]:
    rule = _rule_for_admin(request, routing_rule_id)
    services.routing_rule_delete(actor=request.user, rule=rule)
    return Status(204, None)
