"""The governance pages: personal-data requests (administrators). Thin: every write is a
``kehu.governance.services.requests`` call, every read a selector."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import User
from kehu.core.errors import KehuError
from kehu.core.http import error_message, form_errors
from kehu.core.numbers import id_or_404, posted_version
from kehu.core.pagination import bounded_page
from kehu.customers.models import Contact, Gender
from kehu.governance.models import RequestKind, RequestStatus, SubjectRequest, SubjectType
from kehu.governance.selectors import requests as selectors
from kehu.governance.services import requests as services
from kehu.leads.models import Lead

PAGE_SIZE = 50


def _admin(request: AuthedRequest) -> User:
    if not services.requests_may_manage(request.user):
        raise PermissionDenied
    return request.user


class NewRequestForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("The person asks for"), choices=RequestKind.choices)
    received_on = forms.DateField(
        label=pgettext_lazy("personal-data request", "Received on"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy("The deadline is counted in working days from this day."),
    )
    notes = forms.CharField(
        label=gettext_lazy("Notes"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "How the request arrived and how the identity was checked; not the person's details."
        ),
    )


class RefuseForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason told to the person"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


LABELS: dict[str, Any] = {
    "name": pgettext_lazy("person", "Name"),
    "gender": gettext_lazy("Form of address"),
    "title": gettext_lazy("Title"),
    "work_phone": gettext_lazy("Work phone"),
    "mobile": gettext_lazy("Mobile"),
    "mobile_reason": gettext_lazy("Reason for the mobile"),
    "email": gettext_lazy("E-mail"),
    "wechat": gettext_lazy("WeChat"),
    "notes": gettext_lazy("Notes"),
    "contact_name": pgettext_lazy("person", "Name"),
    "company_name": gettext_lazy("Company name"),
}


class CorrectionForm(forms.Form):
    """The person's correctable fields with their current values; only changed ones are sent."""

    def __init__(self, subject: Contact | Lead, *args: Any, **kwargs: Any) -> None:
        self.subject = subject
        kind = SubjectType.CONTACT if isinstance(subject, Contact) else SubjectType.LEAD
        self.names = services.CORRECTABLE[kind]
        kwargs.setdefault("initial", {name: getattr(subject, name) for name in self.names})
        super().__init__(*args, **kwargs)
        for name in self.names:
            if name == "gender":
                self.fields[name] = forms.ChoiceField(
                    label=LABELS[name], choices=[("", "—"), *Gender.choices], required=False
                )
            else:
                self.fields[name] = forms.CharField(
                    label=LABELS[name], required=False, max_length=1000
                )

    def changes(self) -> dict[str, Any]:
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if value != (getattr(self.subject, name) or "")
        }


def _subject(user: User, request: SubjectRequest) -> Contact | Lead | None:
    try:
        return services.subject_of(
            user=user, subject_type=request.subject_type, subject_id=request.subject_id
        )
    except KehuError:
        return None


@login_required
def request_list(request: AuthedRequest) -> HttpResponse:
    user = _admin(request)
    try:
        filters = selectors.RequestFilters.parse(request.GET)
    except KehuError:
        filters = selectors.RequestFilters()
    rows = selectors.request_list(user=user, filters=filters)
    page = bounded_page(rows, PAGE_SIZE, request.GET.get("page"))
    today = timezone.localdate()
    context = {
        "page": page,
        "overdue": {row.pk for row in page if selectors.is_overdue(row, today)},
        "filters": filters,
        "statuses": RequestStatus.choices,
        "kinds": RequestKind.choices,
    }
    return render(request, "governance/requests.html", context)


@login_required
def request_new(request: AuthedRequest) -> HttpResponse:
    """Log a request of the contact (``?contact=ID``) or the lead (``?lead=ID``)."""
    user = _admin(request)
    source = request.POST if request.method == "POST" else request.GET
    if source.get("contact"):
        subject_type, subject_id = SubjectType.CONTACT, id_or_404(source.get("contact"))
    elif source.get("lead"):
        subject_type, subject_id = SubjectType.LEAD, id_or_404(source.get("lead"))
    else:
        raise Http404
    try:
        subject = services.subject_of(user=user, subject_type=subject_type, subject_id=subject_id)
    except KehuError as error:
        raise Http404 from error
    form = NewRequestForm(
        request.POST if request.method == "POST" else None,
        initial={"kind": request.GET.get("kind", "access"), "received_on": timezone.localdate()},
    )
    if request.method == "POST" and form.is_valid():
        try:
            made = services.request_create(
                actor=user,
                kind=form.cleaned_data["kind"],
                subject_type=subject_type,
                subject_id=subject.pk,
                received_on=form.cleaned_data["received_on"],
                notes=form.cleaned_data["notes"],
            )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(
                request,
                _("Request logged; answer by %(day)s.") % {"day": made.deadline.isoformat()},
            )
            return redirect("governance:request", made.pk)
    context = {"form": form, "subject": subject, "subject_type": subject_type}
    return render(request, "governance/request_new.html", context)


@login_required
def request_detail(request: AuthedRequest, request_id: int) -> HttpResponse:
    user = _admin(request)
    found = services.request_get(user=user, request_id=request_id)
    subject = _subject(user, found)
    context = {
        "item": found,
        "subject": subject,
        "overdue": selectors.is_overdue(found),
        "correction": (
            CorrectionForm(subject)
            if subject is not None and found.kind == RequestKind.CORRECTION
            else None
        ),
        "refuse_form": RefuseForm(),
    }
    return render(request, "governance/request.html", context)


@login_required
def request_complete(request: AuthedRequest, request_id: int) -> HttpResponse:
    user = _admin(request)
    found = services.request_get(user=user, request_id=request_id)
    if request.method != "POST":
        return redirect("governance:request", found.pk)
    changes: dict[str, Any] | None = None
    correction: CorrectionForm | None = None
    subject = _subject(user, found)
    if found.kind == RequestKind.CORRECTION and subject is not None:
        correction = CorrectionForm(subject, request.POST)
        if correction.is_valid():
            changes = correction.changes()
    try:
        if correction is None or correction.is_valid():
            services.request_complete(
                actor=user, request=found, version=posted_version(request), changes=changes
            )
    except KehuError as error:
        if correction is None or error.status == 409:
            messages.error(request, error_message(error))
            return redirect("governance:request", found.pk)
        form_errors(correction, error)
    if correction is not None and correction.errors:
        context = {
            "item": found,
            "subject": subject,
            "overdue": selectors.is_overdue(found),
            "correction": correction,
            "refuse_form": RefuseForm(),
        }
        return render(request, "governance/request.html", context, status=422)
    messages.success(request, _("The request is answered."))
    return redirect("governance:request", found.pk)


@login_required
def request_refuse(request: AuthedRequest, request_id: int) -> HttpResponse:
    user = _admin(request)
    found = services.request_get(user=user, request_id=request_id)
    if request.method != "POST":
        return redirect("governance:request", found.pk)
    try:
        services.request_refuse(
            actor=user,
            request=found,
            reason=request.POST.get("reason", ""),
            version=posted_version(request),
        )
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(request, _("The request is refused."))
    return redirect("governance:request", found.pk)


def _export(request: AuthedRequest, request_id: int, fmt: str) -> HttpResponse:
    user = _admin(request)
    found = services.request_get(user=user, request_id=request_id)
    try:
        parts = selectors.person_data(user=user, request=found)
    except KehuError:
        messages.error(request, _("Kehu no longer holds this person's record."))
        return redirect("governance:request", found.pk)
    services.request_exported(actor=user, request=found, fmt=fmt)
    if fmt == "xlsx":
        response = HttpResponse(selectors.as_xlsx(found, parts), content_type=selectors.XLSX_TYPE)
    else:
        body = json.dumps(
            selectors.as_json(found, parts), ensure_ascii=False, indent=2, cls=DjangoJSONEncoder
        )
        response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="kehu-pipl-{found.pk}.{fmt}"'
    return response


@login_required
def export_json(request: AuthedRequest, request_id: int) -> HttpResponse:
    return _export(request, request_id, "json")


@login_required
def export_xlsx(request: AuthedRequest, request_id: int) -> HttpResponse:
    return _export(request, request_id, "xlsx")


urlpatterns: list[URLPattern] = [
    path("requests/", request_list, name="requests"),
    path("requests/new/", request_new, name="request_new"),
    path("requests/<int:request_id>/", request_detail, name="request"),
    path("requests/<int:request_id>/complete/", request_complete, name="request_complete"),
    path("requests/<int:request_id>/refuse/", request_refuse, name="request_refuse"),
    path("requests/<int:request_id>/export.json", export_json, name="request_export_json"),
    path("requests/<int:request_id>/export.xlsx", export_xlsx, name="request_export_xlsx"),
]
