"""Pages of the first-talk e-mail: compose with preview and send, the sent e-mail, and the
templates (managers and administrators)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from kehu.accounts.http import AuthedRequest
from kehu.core.errors import Forbidden, KehuError
from kehu.core.http import form_errors, raise_refusal
from kehu.core.numbers import id_or_404
from kehu.customers.models import Contact
from kehu.followups import emails, selectors
from kehu.followups.forms import EmailTemplateForm, FirstTalkEmailForm
from kehu.followups.models import EmailTemplate


def _contacts(customer_id: int) -> list[Contact]:
    return list(
        Contact.objects.filter(customer_id=customer_id, is_active=True)
        .exclude(email="")
        .order_by("-is_primary", "-is_decision_maker", "name")
    )


@login_required
def email_compose(request: AuthedRequest, followup_id: int) -> HttpResponse:
    """Write, preview (``action=preview``) and send (``action=send``) the first-talk e-mail."""
    user = request.user
    followup = selectors.followup_get(user=user, followup_id=followup_id)
    if not emails.email_may_send(user, followup):
        raise_refusal(Forbidden(_("Only those who may edit the customer write to it.")))
    contacts = _contacts(followup.customer_id)
    templates = emails.active_templates()
    preview: emails.Draft | None = None
    if request.method == "POST":
        form = FirstTalkEmailForm(request.POST, contacts=contacts, templates=templates)
        if form.is_valid():
            data = form.cleaned_data
            values = {
                **emails.initial_values(followup, None, user),
                "salutation": data["salutation"],
                "need_summary": data["need_summary"],
                "next_meeting": data["next_meeting"],
            }
            contact = next((c for c in contacts if c.pk == data["contact"]), None)
            values["contact_name"] = contact.name if contact else ""
            try:
                draft = emails.compose(
                    actor=user,
                    followup=followup,
                    contact_id=data["contact"],
                    template_id=data["template"],
                    subject=data["subject"],
                    body=data["body"],
                    values=values,
                )
                if request.POST.get("action") == "send":
                    emails.first_talk_send(actor=user, draft=draft)
                    messages.success(request, _("E-mail sent to %(to)s.") % {"to": draft.to})
                    return redirect(
                        reverse("customers:detail", args=[followup.customer_id]) + "?tab=timeline"
                    )
                preview = draft
            except KehuError as error:
                form_errors(form, error)
    else:
        contact = next(
            (c for c in contacts if followup.contact_id == c.pk), contacts[0] if contacts else None
        )
        chosen = id_or_404(request.GET["template"]) if request.GET.get("template") else None
        template = next(
            (t for t in templates if t.pk == chosen), templates[0] if templates else None
        )
        values = emails.initial_values(followup, contact, user)
        form = FirstTalkEmailForm(
            initial={
                "contact": contact.pk if contact else None,
                "salutation": values["salutation"],
                "need_summary": values["need_summary"],
                "next_meeting": values["next_meeting"],
                "template": template.pk if template else None,
                "subject": template.subject if template else "",
                "body": template.body if template else "",
            },
            contacts=contacts,
            templates=templates,
        )
    context: dict[str, Any] = {
        "followup": followup,
        "form": form,
        "preview": preview,
        "templates": templates,
        "merge_fields": list(emails.MERGE_FIELDS.items()),
        "no_contacts": not contacts,
    }
    return render(request, "followups/email_compose.html", context)


@login_required
def email_detail(request: AuthedRequest, email_id: int) -> HttpResponse:
    row = emails.sent_email_get(user=request.user, email_id=email_id)
    return render(request, "followups/email_detail.html", {"email": row})


def _require_manager(request: AuthedRequest) -> None:
    if not emails.template_may_manage(request.user):
        raise_refusal(Forbidden(_("Only managers and administrators edit e-mail templates.")))


@login_required
def template_list(request: AuthedRequest) -> HttpResponse:
    _require_manager(request)
    rows = EmailTemplate.objects.select_related("updated_by").order_by("-is_active", "name")
    return render(
        request,
        "followups/email_templates.html",
        {"templates": rows, "merge_fields": list(emails.MERGE_FIELDS.items())},
    )


@login_required
def template_edit(request: AuthedRequest, template_id: int | None = None) -> HttpResponse:
    _require_manager(request)
    item = None
    if template_id is not None:
        item = EmailTemplate.objects.filter(pk=template_id).first()
        if item is None:
            raise Http404
    if request.method == "POST":
        form = EmailTemplateForm(request.POST)
        if form.is_valid():
            try:
                emails.email_template_save(
                    actor=request.user, template=item, data=form.cleaned_data
                )
            except KehuError as error:
                form_errors(form, error)
            else:
                messages.success(request, _("Template saved."))
                return redirect("followups:email_templates")
    else:
        initial = (
            {
                "name": item.name,
                "subject": item.subject,
                "body": item.body,
                "is_active": item.is_active,
            }
            if item
            else {"is_active": True}
        )
        form = EmailTemplateForm(initial=initial)
    history = list(item.history.select_related("history_user")[:20]) if item else []
    return render(
        request,
        "followups/email_template_form.html",
        {
            "form": form,
            "item": item,
            "history": history,
            "merge_fields": list(emails.MERGE_FIELDS.items()),
        },
    )


urlpatterns = [
    path("records/<int:followup_id>/email/", email_compose, name="email_compose"),
    path("emails/<int:email_id>/", email_detail, name="email_detail"),
    path("email-templates/", template_list, name="email_templates"),
    path("email-templates/new/", template_edit, name="email_template_new"),
    path("email-templates/<int:template_id>/", template_edit, name="email_template_edit"),
]
