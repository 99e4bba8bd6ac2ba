"""The import / export pages: upload, check, map, decide, import with a progress bar, export."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from kehu.accounts.http import AuthedRequest
from kehu.core.errors import Forbidden, KehuError
from kehu.core.http import error_message
from kehu.customers.selectors import CustomerFilters
from kehu.transfer import blank, selectors, services
from kehu.transfer.api import XLSX, export_response
from kehu.transfer.exporting import may_export, may_import, spool
from kehu.transfer.forms import ExportForm, OptionsForm, UploadForm, decision_choices
from kehu.transfer.models import ImportJob, ImportKind, JobStatus
from kehu.transfer.reports import write_error_report

DUPLICATES_SHOWN = 200
# How the duplicate table names and links the existing records of each kind
RECORD_LINKS: dict[str, dict[str, Any]] = {
    "customers": {
        "record_path": "/customers/",
        "record_noun": gettext_lazy("customer"),
        "record_heading": gettext_lazy("Customer name"),
    },
    "contacts": {
        "record_path": "",  # a contact has no page of its own; its customer's page lists it
        "record_noun": gettext_lazy("contact"),
        "record_heading": gettext_lazy("Contact"),
    },
    "leads": {
        "record_path": "/leads/",
        "record_noun": gettext_lazy("lead"),
        "record_heading": gettext_lazy("Lead"),
    },
    "opportunities": {
        "record_path": "/opportunities/",
        "record_noun": gettext_lazy("opportunity"),
        "record_heading": gettext_lazy("Opportunity"),
    },
    "followups": {
        "record_path": "",
        "record_noun": gettext_lazy("follow-up"),
        "record_heading": gettext_lazy("Follow-up"),
    },
    "tickets": {
        "record_path": "/service/tickets/",
        "record_noun": gettext_lazy("ticket"),
        "record_heading": gettext_lazy("Ticket"),
    },
}


def _require_import(request: AuthedRequest) -> None:
    if not may_import(request.user):
        raise PermissionDenied(_("Your role may not import data."))


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    context: dict[str, Any] = {
        "can_import": may_import(request.user),
        "can_export": may_export(request.user),
        "upload_form": UploadForm(),
        "export_form": ExportForm(),
        "jobs": selectors.import_job_list(user=request.user)[:20],
        "kinds": ImportKind.choices,
    }
    if context["can_export"]:
        context["exports"] = selectors.export_log_list(user=request.user)[:10]
    return render(request, "transfer/home.html", context)


@login_required
@require_POST
def upload(request: AuthedRequest) -> HttpResponse:
    _require_import(request)
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        incoming = form.cleaned_data["file"]
        saved = form.cleaned_data["saved_mapping"]
        try:
            path = services.store_upload(name=incoming.name, chunks=incoming.chunks())
            job = services.import_job_create(
                actor=request.user,
                kind=form.cleaned_data["kind"],
                path=path,
                original_name=incoming.name,
                encoding=form.cleaned_data["encoding"],
                mapping=saved.columns if saved else None,
                on_duplicate=form.cleaned_data["on_duplicate"],
            )
            services.import_job_start(actor=request.user, job=job, dry_run=True)
        except KehuError as error:
            form.add_error("file", error.detail)
            for messages_ in error.errors.values():
                for message in messages_:
                    form.add_error(None, message)
        else:
            return redirect("transfer:job", job_id=job.pk)
    context = {
        "can_import": True,
        "can_export": may_export(request.user),
        "upload_form": form,
        "export_form": ExportForm(),
        "jobs": selectors.import_job_list(user=request.user)[:20],
        "kinds": ImportKind.choices,
    }
    return render(request, "transfer/home.html", context, status=422)


def _job_context(
    request: AuthedRequest, job: ImportJob, options: OptionsForm | None = None
) -> dict[str, Any]:
    headers = list(job.detected.get("headers", []))
    if options is None:
        initial: dict[str, Any] = {
            "encoding": job.encoding,
            "on_duplicate": job.on_duplicate,
        }
        for index, header in enumerate(headers):
            initial[f"col_{index}"] = job.mapping.get(header, "")
        options = OptionsForm(initial=initial, kind=job.kind, headers=headers)
    editable = not job.is_running and job.status != JobStatus.DONE and not job.next_row
    return {
        "job": job,
        "options": options,
        "editable": editable,
        "duplicates": job.duplicates[:DUPLICATES_SHOWN],
        "decisions": decision_choices(job.kind),
        "row_decisions": job.row_decisions,
        "report": job.report if "overall" in (job.report or {}) else None,
        **RECORD_LINKS[job.kind],
    }


@login_required
def job_detail(request: AuthedRequest, job_id: int) -> HttpResponse:
    job = selectors.import_job_get(user=request.user, job_id=job_id)
    return render(request, "transfer/job.html", _job_context(request, job))


@login_required
def job_progress(request: AuthedRequest, job_id: int) -> HttpResponse:
    job = selectors.import_job_get(user=request.user, job_id=job_id)
    response = render(request, "transfer/_progress.html", {"job": job})
    if request.GET.get("running") and not job.is_running:
        response["HX-Refresh"] = "true"  # the outcome changes the whole page
    return response


@login_required
@require_POST
def job_options(request: AuthedRequest, job_id: int) -> HttpResponse:
    job = selectors.import_job_get(user=request.user, job_id=job_id)
    headers = list(job.detected.get("headers", []))
    form = OptionsForm(request.POST, kind=job.kind, headers=headers)
    if form.is_valid():
        try:
            job = services.import_job_configure(
                actor=request.user,
                job=job,
                mapping=form.mapping(),
                encoding=form.cleaned_data["encoding"],
                on_duplicate=form.cleaned_data["on_duplicate"],
            )
            if form.cleaned_data["save_as"]:
                services.mapping_save(
                    actor=request.user,
                    name=form.cleaned_data["save_as"],
                    kind=job.kind,
                    columns=form.mapping(),
                )
                messages.success(request, _("The mapping is saved."))
            services.import_job_start(actor=request.user, job=job, dry_run=True)
        except KehuError as error:
            form.add_error(None, error.detail)
            for field, problems in error.errors.items():
                for problem in problems:
                    form.add_error(None, f"{field}: {problem}")
        else:
            return redirect("transfer:job", job_id=job.pk)
    return render(request, "transfer/job.html", _job_context(request, job, form), status=422)


@login_required
@require_POST
def job_decisions(request: AuthedRequest, job_id: int) -> HttpResponse:
    job = selectors.import_job_get(user=request.user, job_id=job_id)
    decisions: dict[str, str] = {
        key.removeprefix("row_"): str(value)
        for key, value in request.POST.items()
        if key.startswith("row_") and value
    }
    try:
        job = services.import_job_configure(actor=request.user, job=job, row_decisions=decisions)
        services.import_job_start(actor=request.user, job=job, dry_run=True)
    except KehuError as error:
        messages.error(request, error_message(error))
    return redirect("transfer:job", job_id=job.pk)


@login_required
@require_POST
def job_run(request: AuthedRequest, job_id: int) -> HttpResponse:
    job = selectors.import_job_get(user=request.user, job_id=job_id)
    dry_run = request.POST.get("dry_run") == "1"
    try:
        services.import_job_start(actor=request.user, job=job, dry_run=dry_run)
    except KehuError as error:
        messages.error(request, error_message(error))
    return redirect("transfer:job", job_id=job.pk)


@login_required
@require_POST
def job_cancel(request: AuthedRequest, job_id: int) -> HttpResponse:
    job = selectors.import_job_get(user=request.user, job_id=job_id)
    try:
        services.import_job_cancel(actor=request.user, job=job)
        messages.info(request, _("The import stops after its current batch."))
    except KehuError as error:
        messages.error(request, error_message(error))
    return redirect("transfer:job", job_id=job.pk)


@login_required
def job_errors(request: AuthedRequest, job_id: int) -> FileResponse:
    job = selectors.import_job_get(user=request.user, job_id=job_id)
    handle = spool()
    write_error_report(job, handle)
    handle.seek(0)
    return FileResponse(
        handle, as_attachment=True, filename=f"kehu-import-{job.pk}-errors.xlsx", content_type=XLSX
    )


@login_required
def template(request: AuthedRequest, kind: str) -> HttpResponse:
    if kind not in ImportKind.values:
        return HttpResponse(status=404)
    response = HttpResponse(content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="kehu-{kind}-template.xlsx"'
    blank.write_template(kind, response)
    return response


@login_required
def export(request: AuthedRequest) -> HttpResponseBase:
    if not may_export(request.user):
        raise PermissionDenied(_("Your role may not export data."))
    form = ExportForm(request.GET)
    if not form.is_valid():
        context = {
            "can_import": may_import(request.user),
            "can_export": True,
            "upload_form": UploadForm(),
            "export_form": form,
            "jobs": selectors.import_job_list(user=request.user)[:20],
            "exports": selectors.export_log_list(user=request.user)[:10],
            "kinds": ImportKind.choices,
        }
        return render(request, "transfer/home.html", context, status=422)
    try:
        filters = CustomerFilters.model_validate(form.filter_data())
        return export_response(
            request,
            kind=form.cleaned_data["kind"],
            file_format=form.cleaned_data["format"],
            filters=filters,
            channel="web",
        )
    except (ValidationError, Forbidden) as error:
        raise PermissionDenied(str(error)) from error
