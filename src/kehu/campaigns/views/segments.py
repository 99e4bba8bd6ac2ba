"""Pages of the campaigns app: segments (客户分群) under /marketing/segments/.

The list; the condition builder (``static/campaigns/segments.js`` edits the JSON tree in a
hidden field, htmx posts it to ``segment_count`` for the live count); the segment page with the
count and the first rows as the viewer may read them (masked contacts), and for static lists
the picking (search, tick, add), removal and the CSV/XLSX import with its per-row errors.
Views parse input and call one service or selector.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import Department, Role, User
from kehu.campaigns.models import Segment, SegmentKind, SegmentTarget
from kehu.campaigns.selectors import segments as selectors
from kehu.campaigns.services import segments as services
from kehu.core.access import get_editable_or_404, get_visible_or_404
from kehu.core.errors import InvalidInput, KehuError
from kehu.core.http import error_message
from kehu.core.numbers import posted_version, whole_number
from kehu.core.pagination import bounded_page
from kehu.customers.models import Contact, Customer
from kehu.customers.selectors import contact_search, search
from kehu.leads.models import Lead

PAGE_SIZE = 50
PICK_ROWS = 30


def _require_role(request: AuthedRequest) -> None:
    if not services.segment_may_manage(request.user):
        raise PermissionDenied(_("Only marketing, managers and administrators work with segments."))


def _catalogue() -> dict[str, Any]:
    """What the builder offers per target: fields, operators, values; users and departments
    for the owner and department fields."""
    users = [
        (str(pk), name or username)
        for pk, username, name in User.objects.filter(
            is_active=True, role__in=[Role.SALES, Role.MANAGER]
        )
        .order_by("username")
        .values_list("pk", "username", "first_name")[:500]
    ]
    departments = [(str(pk), name) for pk, name in Department.objects.values_list("pk", "name")]
    out: dict[str, Any] = {}
    for target in SegmentTarget.values:
        fields = selectors.field_catalogue(target)
        for row in fields:
            if row["name"] in ("owner", "assignee"):
                row["choices"] = users
            elif row["name"] == "department":
                row["choices"] = departments
        out[target] = fields
    return out


@login_required
def segment_list(request: AuthedRequest) -> HttpResponse:
    _require_role(request)
    page = bounded_page(
        selectors.segment_list(user=request.user), PAGE_SIZE, request.GET.get("page")
    )
    return render(
        request, "campaigns/segments/list.html", {"page": page, "items": page.object_list}
    )


def _form_context(
    request: AuthedRequest,
    segment: Segment | None,
    data: dict[str, Any],
    errors: dict[str, list[str]],
) -> dict[str, Any]:
    return {
        "segment": segment,
        "data": data,
        "errors": errors,
        "targets": SegmentTarget.choices,
        "kinds": SegmentKind.choices,
        "catalogue": _catalogue(),
        "conditions_json": json.dumps(data.get("conditions") or {}, ensure_ascii=False),
    }


def _posted(request: AuthedRequest) -> tuple[dict[str, Any], dict[str, list[str]]]:
    data: dict[str, Any] = {
        "name": request.POST.get("name", ""),
        "description": request.POST.get("description", ""),
        "target": request.POST.get("target", SegmentTarget.CUSTOMERS),
        "kind": request.POST.get("kind", SegmentKind.DYNAMIC),
    }
    errors: dict[str, list[str]] = {}
    raw = request.POST.get("conditions", "").strip()
    try:
        data["conditions"] = json.loads(raw) if raw else {}
    except ValueError:
        data["conditions"] = {}
        errors["conditions"] = [_("The conditions are not valid JSON.")]
    if data["kind"] == SegmentKind.STATIC:
        data["conditions"] = {}
    return data, errors


@login_required
def segment_create(request: AuthedRequest) -> HttpResponse:
    _require_role(request)
    data: dict[str, Any] = {"target": request.GET.get("target", SegmentTarget.CUSTOMERS)}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data, errors = _posted(request)
        if not errors:
            try:
                segment = services.segment_create(actor=request.user, data=data)
            except InvalidInput as error:
                errors = error.errors or {"name": [error.detail]}
            except KehuError as error:
                messages.error(request, error_message(error))
            else:
                messages.success(request, _("Segment %(name)s saved.") % {"name": segment.name})
                return redirect("campaigns:segment_detail", segment.pk)
    return render(
        request, "campaigns/segments/form.html", _form_context(request, None, data, errors)
    )


@login_required
def segment_edit(request: AuthedRequest, segment_id: int) -> HttpResponse:
    segment = get_editable_or_404(Segment.objects.all(), request.user, pk=segment_id)
    _require_role(request)
    data: dict[str, Any] = {
        "name": segment.name,
        "description": segment.description,
        "target": segment.target,
        "kind": segment.kind,
        "conditions": segment.conditions,
    }
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        posted, errors = _posted(request)
        posted["target"], posted["kind"] = segment.target, segment.kind
        data = posted
        if not errors:
            try:
                services.segment_update(
                    actor=request.user,
                    segment_id=segment.pk,
                    data={k: posted[k] for k in ("name", "description", "conditions")},
                    version=posted_version(request),
                )
            except InvalidInput as error:
                errors = error.errors or {"name": [error.detail]}
            except KehuError as error:
                messages.error(request, error_message(error))
            else:
                messages.success(request, _("Segment %(name)s saved.") % {"name": segment.name})
                return redirect("campaigns:segment_detail", segment.pk)
    return render(
        request, "campaigns/segments/form.html", _form_context(request, segment, data, errors)
    )


@login_required
@require_POST
def segment_count(request: AuthedRequest) -> HttpResponse:
    """The builder's live count (htmx): the draft's rows that the viewer sees, or the first
    problem of the draft, naming its path."""
    _require_role(request)
    data, errors = _posted(request)
    count: int | None = None
    problem = ""
    if errors:
        problem = errors["conditions"][0]
    else:
        try:
            count = (
                selectors.rows_for(data["target"], data["conditions"], request.user)
                .order_by()
                .count()
            )
        except InvalidInput as error:
            path, texts = next(iter(error.errors.items()), ("", [error.detail]))
            problem = f"{texts[0]} ({path})" if path else texts[0]
    return render(request, "campaigns/segments/count.html", {"count": count, "problem": problem})


@login_required
def segment_detail(request: AuthedRequest, segment_id: int) -> HttpResponse:
    """The segment: its live count, the first rows as the viewer may read them; a static
    list's picking and import."""
    segment = get_visible_or_404(
        selectors.segment_list(user=request.user), request.user, pk=segment_id
    )
    _require_role(request)
    rows = selectors.segment_rows(segment, request.user)
    count = services.segment_recount(actor=request.user, segment=segment)
    preview = selectors.preview(segment.target, rows, request.user)
    context: dict[str, Any] = {
        "segment": segment,
        "count": count,
        "preview": preview,
        "may_edit": Segment.objects.editable_by(request.user).filter(pk=segment.pk).exists(),
        "summary": _summary(segment),
    }
    static = segment.kind == SegmentKind.STATIC
    context["row_form"] = ("remove" if context["may_edit"] else "") if static else "pick"
    if segment.kind == SegmentKind.STATIC:
        q = request.GET.get("q", "").strip()[:100]
        context["q"] = q
        context["candidates"] = _candidates(request, segment, q) if q else []
        context["import_errors"] = request.session.pop(f"segment-import-{segment.pk}", None)
    return render(request, "campaigns/segments/detail.html", context)


def _summary(segment: Segment) -> list[str]:
    """The conditions in words, one line per condition, indented by group."""
    labels = {row.name: row for row in selectors.FIELDS[segment.target].values()}
    lines: list[str] = []

    def walk(group: dict[str, Any], depth: int) -> None:
        joiner = _("all of") if group.get("match", "all") == "all" else _("any of")
        lines.append("\u3000" * depth + str(joiner))
        for item in group.get("conditions", []):
            if "field" in item:
                spec = labels.get(item["field"])
                label = str(spec.label) if spec else item["field"]
                op = str(selectors.OP_LABELS.get(item.get("op", ""), item.get("op", "")))
                value = item.get("value")
                shown = (
                    "、".join(map(str, value))
                    if isinstance(value, list)
                    else ("" if value is None else str(value))
                )
                lines.append("\u3000" * (depth + 1) + f"{label} {op} {shown}".strip())
            else:
                walk(item, depth + 1)

    if segment.kind == SegmentKind.DYNAMIC and segment.conditions.get("conditions"):
        walk(segment.conditions, 0)
    return lines


def _candidates(request: AuthedRequest, segment: Segment, q: str) -> list[dict[str, Any]]:
    user = request.user
    if segment.target == SegmentTarget.CUSTOMERS:
        customers = search(Customer.objects.visible_to(user), q).order_by("-id")[:PICK_ROWS]
        return [{"id": c.pk, "name": c.name, "detail": c.number} for c in customers]
    if segment.target == SegmentTarget.CONTACTS:
        visible = Customer.objects.visible_to(user).order_by().values("pk")
        contacts = contact_search(Contact.objects.filter(customer_id__in=visible), q)
        return [
            {"id": c.pk, "name": c.name, "detail": c.customer.name}
            for c in contacts.select_related("customer").order_by("-id")[:PICK_ROWS]
        ]
    leads = Lead.objects.visible_to(user).filter(
        contact_name__icontains=q
    ) | Lead.objects.visible_to(user).filter(company_name__icontains=q)
    return [
        {"id": lead.pk, "name": lead.contact_name, "detail": lead.company_name}
        for lead in leads.order_by("-id")[:PICK_ROWS]
    ]


def _posted_ids(request: AuthedRequest) -> list[int]:
    out = []
    for raw in request.POST.getlist("ids")[: services.MAX_ENTRIES_PER_CALL]:
        number = whole_number(raw)
        if number:
            out.append(number)
    return out


def _detail_url(segment_id: int) -> str:
    return reverse("campaigns:segment_detail", args=[segment_id])


@login_required
@require_POST
def segment_entries_add(request: AuthedRequest, segment_id: int) -> HttpResponse:
    try:
        result = services.entries_add(
            actor=request.user, segment_id=segment_id, ids=_posted_ids(request)
        )
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(
            request,
            _("%(added)s added, %(already)s already in the list, %(missing)s not found.")
            % {
                "added": result["added"],
                "already": result["already"],
                "missing": result["not_found"],
            },
        )
    return redirect(_detail_url(segment_id))


@login_required
def segment_pick(request: AuthedRequest) -> HttpResponse:
    """Add picked rows (``ids`` of customers, contacts or leads: the customer list's
    selection, a segment's preview) to a static list the user may change, or to a new one."""
    _require_role(request)
    source = request.POST if request.method == "POST" else request.GET
    target = source.get("target", SegmentTarget.CUSTOMERS)
    if target not in SegmentTarget.values:
        target = SegmentTarget.CUSTOMERS
    ids = [n for n in (whole_number(raw) for raw in source.getlist("ids")) if n][
        : services.MAX_ENTRIES_PER_CALL
    ]
    lists = Segment.objects.editable_by(request.user).filter(kind=SegmentKind.STATIC, target=target)
    error = ""
    if request.method == "POST":
        try:
            chosen = whole_number(request.POST.get("segment", ""))
            if not ids:
                raise InvalidInput(errors={"ids": [_("Tick at least one row.")]})
            if chosen:
                segment_id = chosen
            else:
                segment_id = services.segment_create(
                    actor=request.user,
                    data={
                        "name": request.POST.get("name", ""),
                        "target": target,
                        "kind": SegmentKind.STATIC,
                    },
                ).pk
            result = services.entries_add(actor=request.user, segment_id=segment_id, ids=ids)
        except KehuError as problem:
            error = error_message(problem)
        else:
            messages.success(
                request,
                _("%(added)s added, %(already)s already in the list, %(missing)s not found.")
                % {
                    "added": result["added"],
                    "already": result["already"],
                    "missing": result["not_found"],
                },
            )
            return redirect(_detail_url(segment_id))
    return render(
        request,
        "campaigns/segments/pick.html",
        {"ids": ids, "target": target, "lists": lists.order_by("name")[:200], "error": error},
    )


@login_required
@require_POST
def segment_entries_remove(request: AuthedRequest, segment_id: int) -> HttpResponse:
    try:
        removed = services.entries_remove(
            actor=request.user, segment_id=segment_id, ids=_posted_ids(request)
        )
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(request, _("%(n)s removed from the list.") % {"n": removed})
    return redirect(_detail_url(segment_id))


@login_required
@require_POST
def segment_import(request: AuthedRequest, segment_id: int) -> HttpResponse:
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise InvalidInput(errors={"file": [_("Choose a .csv or .xlsx file.")]})
        result = services.entries_import(
            actor=request.user,
            segment_id=segment_id,
            name=upload.name or "",
            content=upload.read(services.MAX_IMPORT_BYTES + 1),
        )
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(
            request,
            _("%(added)s added, %(already)s already in the list, %(errors)s rows with errors.")
            % {"added": result.added, "already": result.already, "errors": len(result.errors)},
        )
        if result.errors:
            request.session[f"segment-import-{segment_id}"] = result.errors[:200]
    return redirect(_detail_url(segment_id))


@login_required
@require_POST
def segment_delete(request: AuthedRequest, segment_id: int) -> HttpResponse:
    try:
        services.segment_delete(actor=request.user, segment_id=segment_id)
    except KehuError as error:
        messages.error(request, error_message(error))
        return redirect(_detail_url(segment_id))
    messages.success(request, _("Segment deleted."))
    return redirect("campaigns:segments")


urlpatterns: list[URLPattern] = [
    path("segments/", segment_list, name="segments"),
    path("segments/new/", segment_create, name="segment_create"),
    path("segments/count/", segment_count, name="segment_count"),
    path("segments/pick/", segment_pick, name="segment_pick"),
    path("segments/<int:segment_id>/", segment_detail, name="segment_detail"),
    path("segments/<int:segment_id>/edit/", segment_edit, name="segment_edit"),
    path("segments/<int:segment_id>/delete/", segment_delete, name="segment_delete"),
    path("segments/<int:segment_id>/entries/add/", segment_entries_add, name="segment_entries_add"),
    path(
        "segments/<int:segment_id>/entries/remove/",
        segment_entries_remove,
        name="segment_entries_remove",
    ),
    path("segments/<int:segment_id>/entries/import/", segment_import, name="segment_import"),
]
