"""The mail pages: inbound mailboxes and public ticket forms (admin settings), and the public
ticket form itself at /service/forms/<slug>/ (no login). Thin: every write is a service call."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import Department, User
from kehu.core import links
from kehu.core.errors import KehuError
from kehu.core.http import error_message, form_errors
from kehu.service.models import Mailbox, TicketType
from kehu.service.selectors import mail as selectors
from kehu.service.services import mail as services
from kehu.service.services import web_forms

TEXT = {"class": "form-control"}
SELECT = {"class": "form-select"}
CHECKBOX = forms.CheckboxInput({"class": "form-check-input"})


# --- Forms -----------------------------------------------------------------------------------
class MailboxForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100, widget=forms.TextInput(TEXT))
    host = forms.CharField(
        label=gettext_lazy("IMAP host"), max_length=200, widget=forms.TextInput(TEXT)
    )
    port = forms.IntegerField(
        label=gettext_lazy("Port"), min_value=1, max_value=65535, initial=993,
        widget=forms.NumberInput(TEXT),
    )  # fmt: skip
    use_ssl = forms.BooleanField(
        label=gettext_lazy("SSL/TLS"), required=False, initial=True, widget=CHECKBOX
    )
    username = forms.CharField(
        label=gettext_lazy("User name"), max_length=200, widget=forms.TextInput(TEXT)
    )
    password = forms.CharField(
        label=gettext_lazy("Password"),
        max_length=200,
        required=False,
        widget=forms.PasswordInput({**TEXT, "autocomplete": "new-password"}),
        help_text=gettext_lazy("Never shown again; leave empty to keep the stored one."),
    )
    folder = forms.CharField(
        label=gettext_lazy("Folder"), max_length=100, initial="INBOX", widget=forms.TextInput(TEXT)
    )
    address = forms.EmailField(
        label=gettext_lazy("Address replies come from"), max_length=254,
        widget=forms.EmailInput(TEXT),
    )  # fmt: skip
    department = forms.ModelChoiceField(
        label=gettext_lazy("Responsible department"),
        queryset=Department.objects.all(),
        required=False,
        widget=forms.Select(attrs=SELECT),
    )
    is_active = forms.BooleanField(
        label=gettext_lazy("Active"), required=False, initial=True, widget=CHECKBOX
    )


class TicketFormForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100, widget=forms.TextInput(TEXT))
    slug = forms.SlugField(
        label=gettext_lazy("Address"),
        max_length=50,
        widget=forms.TextInput(TEXT),
        help_text=gettext_lazy("The form is at /service/forms/<address>/."),
    )
    department = forms.ModelChoiceField(
        label=gettext_lazy("Responsible department"),
        queryset=Department.objects.all(),
        required=False,
        widget=forms.Select(attrs=SELECT),
    )
    default_type = forms.ChoiceField(
        label=gettext_lazy("Default type"),
        choices=[("", "—"), *TicketType.choices],
        required=False,
        widget=forms.Select(attrs=SELECT),
    )
    thank_you = forms.CharField(
        label=gettext_lazy("Thank-you message"), max_length=300, required=False,
        widget=forms.TextInput(TEXT),
    )  # fmt: skip
    is_active = forms.BooleanField(
        label=gettext_lazy("Active"), required=False, initial=True, widget=CHECKBOX
    )


class PublicTicketForm(forms.Form):
    """The public ticket form (the service checks the same fields again)."""

    name = forms.CharField(
        label=gettext_lazy("Your name"), max_length=100, widget=forms.TextInput(TEXT)
    )
    email = forms.EmailField(
        label=gettext_lazy("E-mail"), max_length=254, widget=forms.EmailInput(TEXT)
    )
    company = forms.CharField(
        label=gettext_lazy("Company"), max_length=200, required=False, widget=forms.TextInput(TEXT)
    )
    phone = forms.CharField(
        label=gettext_lazy("Phone"), max_length=32, required=False, widget=forms.TextInput(TEXT)
    )
    ticket_type = forms.ChoiceField(
        label=gettext_lazy("Type"), choices=TicketType.choices, widget=forms.Select(attrs=SELECT)
    )
    product = forms.CharField(
        label=gettext_lazy("Product"), max_length=100, required=False, widget=forms.TextInput(TEXT)
    )
    subject = forms.CharField(
        label=gettext_lazy("Subject"), max_length=200, widget=forms.TextInput(TEXT)
    )
    content = forms.CharField(
        label=gettext_lazy("Describe your request"),
        max_length=5000,
        widget=forms.Textarea({**TEXT, "rows": 5}),
    )


# --- Mailboxes -------------------------------------------------------------------------------
def _mailbox_admin(request: AuthedRequest) -> User:
    if not services.mailboxes_may_manage(request.user):
        raise PermissionDenied
    return request.user


def _mailbox_initial(mailbox: Mailbox) -> dict[str, Any]:
    return {
        "name": mailbox.name, "host": mailbox.host, "port": mailbox.port,
        "use_ssl": mailbox.use_ssl, "username": mailbox.username, "folder": mailbox.folder,
        "address": mailbox.address, "department": mailbox.department_id,
        "is_active": mailbox.is_active,
    }  # fmt: skip


@login_required
def mailbox_list(request: AuthedRequest) -> HttpResponse:
    user = _mailbox_admin(request)
    form = MailboxForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            mailbox = services.mailbox_create(actor=user, data=form.cleaned_data)
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Mailbox added."))
            return redirect("service:mailbox", mailbox.pk)
    context = {"mailboxes": selectors.mailbox_list(), "form": form}
    return render(request, "service/mail/mailboxes.html", context)


@login_required
def mailbox_detail(request: AuthedRequest, mailbox_id: int) -> HttpResponse:
    user = _mailbox_admin(request)
    mailbox = get_object_or_404(selectors.mailbox_list(), pk=mailbox_id)
    form = MailboxForm(initial=_mailbox_initial(mailbox))
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action == "test":
            ok, detail = services.mailbox_test(mailbox)
            (messages.success if ok else messages.error)(request, detail)
            return redirect("service:mailbox", mailbox.pk)
        if action == "poll":
            result = services.mailbox_poll(mailbox)
            if result.error:
                messages.error(request, result.error)
            else:
                messages.success(
                    request,
                    _("%(read)d read: %(new)d new tickets, %(replies)d replies.")
                    % {"read": result.fetched, "new": result.created, "replies": result.replies},
                )
            return redirect("service:mailbox", mailbox.pk)
        if action == "delete":
            try:
                services.mailbox_delete(actor=user, mailbox=mailbox)
            except KehuError as error:
                messages.error(request, error_message(error))
                return redirect("service:mailbox", mailbox.pk)
            messages.success(request, _("Mailbox deleted."))
            return redirect("service:mailboxes")
        form = MailboxForm(request.POST)
        if form.is_valid():
            try:
                services.mailbox_update(actor=user, mailbox=mailbox, data=form.cleaned_data)
            except KehuError as error:
                form_errors(form, error)
            else:
                messages.success(request, _("Mailbox saved."))
                return redirect("service:mailbox", mailbox.pk)
    context = {"mailbox": mailbox, "form": form, "emails": selectors.recent_emails(mailbox)}
    return render(request, "service/mail/mailbox.html", context)


# --- Public ticket forms: settings -----------------------------------------------------------
def _form_admin(request: AuthedRequest) -> User:
    if not web_forms.ticket_forms_may_manage(request.user):
        raise PermissionDenied
    return request.user


@login_required
def ticket_form_list(request: AuthedRequest) -> HttpResponse:
    user = _form_admin(request)
    form = TicketFormForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            created = web_forms.ticket_form_create(actor=user, data=form.cleaned_data)
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Ticket form created."))
            return redirect("service:ticket_form", created.pk)
    context = {"ticket_forms": selectors.ticket_form_list(), "form": form}
    return render(request, "service/mail/ticket_forms.html", context)


@login_required
def ticket_form_detail(request: AuthedRequest, ticket_form_id: int) -> HttpResponse:
    user = _form_admin(request)
    ticket_form = get_object_or_404(selectors.ticket_form_list(), pk=ticket_form_id)
    initial = {
        "name": ticket_form.name, "slug": ticket_form.slug,
        "department": ticket_form.department_id, "default_type": ticket_form.default_type,
        "thank_you": ticket_form.thank_you, "is_active": ticket_form.is_active,
    }  # fmt: skip
    form = TicketFormForm(initial=initial)
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            web_forms.ticket_form_delete(actor=user, form=ticket_form)
            messages.success(request, _("Ticket form deleted."))
            return redirect("service:ticket_forms")
        form = TicketFormForm(request.POST)
        if form.is_valid():
            try:
                web_forms.ticket_form_update(actor=user, form=ticket_form, data=form.cleaned_data)
            except KehuError as error:
                form_errors(form, error)
            else:
                messages.success(request, _("Ticket form saved."))
                return redirect("service:ticket_form", ticket_form.pk)
    public_url = links.absolute(
        reverse("service:public_ticket_form", args=[ticket_form.slug]), request=request
    )
    context = {"ticket_form": ticket_form, "form": form, "public_url": public_url}
    return render(request, "service/mail/ticket_form.html", context)


# --- The public form -------------------------------------------------------------------------
def _public(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; base-uri 'self'; frame-ancestors 'self'"
    )
    return response


def public_ticket_form(request: HttpRequest, slug: str) -> HttpResponse:
    """The public ticket form: no login; CSRF-protected (it is served by Kehu itself), with a
    honeypot and a per-address rate limit in the service."""
    ticket_form = selectors.public_ticket_form(slug)
    if ticket_form is None:
        raise Http404
    initial = {"ticket_type": ticket_form.default_type or TicketType.CONSULTATION}
    if request.method == "GET":
        form = PublicTicketForm(initial=initial)
        context = {"ticket_form": ticket_form, "form": form}
        return _public(render(request, "service/mail/public_form.html", context))
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    form = PublicTicketForm(request.POST)
    status = 200
    error = ""
    if form.is_valid():
        data = {**form.cleaned_data, "website": request.POST.get("website", "")}
        try:
            ticket = web_forms.ticket_form_submit(
                form=ticket_form, data=data, ip=request.META.get("REMOTE_ADDR", "")
            )
        except KehuError as problem:
            status = problem.status
            error = problem.detail
            for name, problems in problem.errors.items():
                if name in form.fields:
                    form.add_error(name, problems)
        else:
            context = {"ticket_form": ticket_form, "number": ticket.number if ticket else ""}
            return _public(render(request, "service/mail/public_thanks.html", context))
    else:
        status = 422
    context = {"ticket_form": ticket_form, "form": form, "error": error}
    return _public(render(request, "service/mail/public_form.html", context, status=status))


urlpatterns: list[URLPattern] = [
    path("mailboxes/", mailbox_list, name="mailboxes"),
    path("mailboxes/<int:mailbox_id>/", mailbox_detail, name="mailbox"),
    path("ticket-forms/", ticket_form_list, name="ticket_forms"),
    path("ticket-forms/<int:ticket_form_id>/", ticket_form_detail, name="ticket_form"),
    path("forms/<slug:slug>/", public_ticket_form, name="public_ticket_form"),
]
