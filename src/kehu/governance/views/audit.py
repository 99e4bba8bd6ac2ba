"""The governance pages: the audit trail (审计日志), administrators only."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from pydantic import ValidationError

from kehu.accounts.http import AuthedRequest
from kehu.core.filters import invalid_input
from kehu.core.pagination import bounded_page
from kehu.governance.selectors import audit as selectors
from kehu.governance.services import audit as services

PAGE_SIZE = 50


def _filters(request: AuthedRequest) -> tuple[selectors.AuditFilters, list[str]]:
    """The search of the request; a bad value is named and the search left out."""
    try:
        return selectors.AuditFilters.from_querydict(request.GET), []
    except ValidationError as error:
        problem = invalid_input(error, detail="")
        return selectors.AuditFilters(), [m for field in problem.errors.values() for m in field]


@login_required
def audit_list(request: AuthedRequest) -> HttpResponse:
    if not selectors.audit_may_view(request.user):
        raise PermissionDenied
    filters, problems = _filters(request)
    page = bounded_page(
        selectors.audit_list(user=request.user, filters=filters),
        PAGE_SIZE,
        request.GET.get("page"),
    )
    context = {
        "page": page,
        "filters": filters,
        "problems": problems,
        "actions": selectors.audit_actions(user=request.user),
    }
    return render(request, "governance/audit.html", context)


@login_required
def audit_export(request: AuthedRequest) -> HttpResponseBase:
    if not selectors.audit_may_view(request.user):
        raise PermissionDenied
    filters, problems = _filters(request)
    file_format = request.GET.get("format", "csv")
    if file_format not in services.FORMATS:
        problems.append(_("Choose csv or xlsx."))
    if problems:
        for problem in problems:
            messages.error(request, problem)
        return redirect("governance:audit")
    export = services.audit_export(actor=request.user, filters=filters, file_format=file_format)
    return FileResponse(
        export.file, as_attachment=True, filename=export.filename, content_type=export.content_type
    )


urlpatterns: list[URLPattern] = [
    path("audit/", audit_list, name="audit"),
    path("audit/export/", audit_export, name="audit_export"),
]
