"""Pages of the campaigns app: outreach (templates and sends).

/marketing/templates/ (list, add, edit, delete, preview for a campaign's member),
/marketing/<campaign>/sends/ (the campaign's sends, a new send now or scheduled, a test send to
oneself), /marketing/sends/<send>/ (progress, polled by htmx while it runs, and the
per-recipient list), cancel before start. Views parse input and call the services.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.accounts.http import AuthedRequest
from kehu.campaigns.models import Campaign, Channel, MessageStatus, MessageTemplate, SendStatus
from kehu.campaigns.selectors import outreach as selectors
from kehu.campaigns.services import merge
from kehu.campaigns.services import sends as send_services
from kehu.campaigns.services import templates as template_services
from kehu.core.access import get_editable_or_404, get_visible_or_404
from kehu.core.errors import KehuError
from kehu.core.http import error_message, form_errors, htmx_template
from kehu.core.numbers import whole_number
from kehu.core.pagination import bounded_page

PAGE_SIZE = 50


class OutreachTemplateForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=Channel.choices)
    subject = forms.CharField(
        label=gettext_lazy("Subject"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("E-mail only."),
    )
    body = forms.CharField(
        label=gettext_lazy("Text"),
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text=gettext_lazy("Merge fields: {{ salutation }}, {{ company }}, … (listed beside)."),
    )
    provider_template = forms.CharField(
        label=gettext_lazy("Provider template id"),
        max_length=64,
        required=False,
        help_text=gettext_lazy("SMS: the template id the provider approved."),
    )


class SendForm(forms.Form):
    template = forms.TypedChoiceField(label=gettext_lazy("Template"), coerce=int)
    scheduled_for = forms.DateTimeField(
        label=gettext_lazy("Send at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy("Leave empty to send now."),
    )

    def __init__(self, *args: Any, templates: list[MessageTemplate], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["template"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(row.pk, f"{row.name} · {row.get_channel_display()}") for row in templates]


def _template_context() -> dict[str, Any]:
    return {"merge_fields": merge.FIELDS}


# --- templates ------------------------------------------------------------------------------


@login_required
def template_list(request: AuthedRequest) -> HttpResponse:
    channel = request.GET.get("channel", "")
    channel = channel if channel in Channel.values else ""
    q = request.GET.get("q", "")[:100]
    rows = selectors.template_list(user=request.user, channel=channel, q=q)
    page = bounded_page(rows, PAGE_SIZE, request.GET.get("page"))
    return render(
        request,
        "campaigns/outreach/template_list.html",
        {
            "page": page,
            "channel": channel,
            "channels": Channel.choices,
            "q": q,
            "may_write": template_services.template_may_write(request.user),
        },
    )


@login_required
def template_add(request: AuthedRequest) -> HttpResponse:
    if not template_services.template_may_write(request.user):
        raise PermissionDenied(_("Only marketing, managers and administrators write templates."))
    form = OutreachTemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            template = template_services.template_create(actor=request.user, data=form.cleaned_data)
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Template saved."))
            return redirect("campaigns:template_edit", template_id=template.pk)
    return render(
        request,
        "campaigns/outreach/template_form.html",
        {"form": form, "title": _("New template"), **_template_context()},
    )


@login_required
def template_edit(request: AuthedRequest, template_id: int) -> HttpResponse:
    template = get_editable_or_404(MessageTemplate.objects.all(), request.user, pk=template_id)
    initial = {key: getattr(template, key) for key in template_services.FIELDS}
    form = OutreachTemplateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            template = template_services.template_update(
                actor=request.user, template_id=template.pk, data=form.cleaned_data
            )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Template saved."))
            return redirect("campaigns:template_edit", template_id=template.pk)
    campaigns = list(Campaign.objects.visible_to(request.user).order_by("-starts_on", "-id")[:50])
    return render(
        request,
        "campaigns/outreach/template_form.html",
        {
            "form": form,
            "template": template,
            "title": template.name,
            "campaigns": campaigns,
            **_template_context(),
        },
    )


@login_required
@require_POST
def template_delete(request: AuthedRequest, template_id: int) -> HttpResponse:
    try:
        template_services.template_delete(actor=request.user, template_id=template_id)
    except KehuError as error:
        messages.error(request, error_message(error))
        return redirect("campaigns:template_edit", template_id=template_id)
    messages.success(request, _("Template deleted."))
    return redirect("campaigns:templates")


@login_required
def template_preview(request: AuthedRequest, template_id: int) -> HttpResponse:
    """The template rendered for one member of a campaign (htmx fragment or a page)."""
    template = get_visible_or_404(MessageTemplate.objects.all(), request.user, pk=template_id)
    campaign_id = whole_number(request.GET.get("campaign"))
    campaign = (
        selectors.campaign_get(user=request.user, campaign_id=campaign_id) if campaign_id else None
    )
    members = selectors.member_choices(campaign=campaign) if campaign else []
    member_id = whole_number(request.GET.get("member"))
    member = None
    if campaign is not None:
        chosen = member_id or (members[0].pk if members else None)
        member = selectors.member_get(campaign=campaign, member_id=chosen) if chosen else None
    error = ""
    rendered: dict[str, str] = {}
    try:
        rendered = send_services.preview(template=template, member=member, actor=request.user)
    except KehuError as problem:
        error = problem.detail
    return render(
        request,
        htmx_template(
            request,
            "campaigns/outreach/preview_page.html",
            "campaigns/outreach/preview.html",
        ),
        {
            "template": template,
            "campaign": campaign,
            "members": members,
            "member": member,
            "rendered": rendered,
            "error": error,
        },
    )


# --- sends ----------------------------------------------------------------------------------


def _send_form(request: AuthedRequest, data: Any = None) -> SendForm:
    templates = list(selectors.template_list(user=request.user))
    return SendForm(data, templates=templates)


@login_required
def send_list(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    campaign = get_visible_or_404(Campaign.objects.all(), request.user, pk=campaign_id)
    return _send_list_page(request, campaign, _send_form(request))


def _send_list_page(request: AuthedRequest, campaign: Campaign, form: SendForm) -> HttpResponse:
    page = bounded_page(
        selectors.send_list(user=request.user, campaign=campaign), 20, request.GET.get("page")
    )
    return render(
        request,
        "campaigns/outreach/send_list.html",
        {
            "campaign": campaign,
            "page": page,
            "form": form,
            "may_send": send_services.send_may_write(request.user),
        },
    )


@login_required
@require_POST
def send_create(request: AuthedRequest, campaign_id: int) -> HttpResponse:
    campaign = get_editable_or_404(Campaign.objects.all(), request.user, pk=campaign_id)
    form = _send_form(request, request.POST)
    if form.is_valid():
        try:
            if "test" in request.POST:
                send = send_services.send_test(
                    actor=request.user,
                    campaign_id=campaign.pk,
                    template_id=form.cleaned_data["template"],
                )
                messages.success(request, _("Test message on its way to you."))
            else:
                send = send_services.send_create(
                    actor=request.user,
                    campaign_id=campaign.pk,
                    template_id=form.cleaned_data["template"],
                    scheduled_for=form.cleaned_data["scheduled_for"],
                )
                send.refresh_from_db()  # the job may have prepared it already
                messages.success(
                    request,
                    _("Send created: preparing the recipients.")
                    if send.prepared_at is None
                    else _("Send created: %(total)d recipients.") % {"total": send.total},
                )
        except KehuError as error:
            form_errors(form, error, {"template_id": "template", "recipients": "template"})
            messages.error(request, error_message(error))
        else:
            return redirect("campaigns:send_detail", send_id=send.pk)
    return _send_list_page(request, campaign, form)


def _send_or_404(request: AuthedRequest, send_id: int) -> Any:
    send = selectors.send_get(user=request.user, send_id=send_id)
    if send is None:
        raise Http404("send")
    return send


@login_required
def send_detail(request: AuthedRequest, send_id: int) -> HttpResponse:
    """Progress (the fragment htmx polls every 2 s while the send runs) and recipients."""
    send = _send_or_404(request, send_id)
    status = request.GET.get("status", "")
    status = status if status in MessageStatus.values else ""
    page = bounded_page(
        selectors.message_list(send=send, status=status), PAGE_SIZE, request.GET.get("page")
    )
    rows = [
        {"message": row, "shown": selectors.message_address(request.user, send, row)}
        for row in page
    ]
    running = send.status in (SendStatus.QUEUED, SendStatus.SENDING)
    done = send.sent + send.failed
    return render(
        request,
        htmx_template(
            request, "campaigns/outreach/send_detail.html", "campaigns/outreach/send_progress.html"
        ),
        {
            "send": send,
            "page": page,
            "rows": rows,
            "status": status,
            "statuses": MessageStatus.choices,
            "running": running,
            "percent": round(100 * done / send.total)
            if send.total
            else (0 if send.preparing or send.status == SendStatus.SCHEDULED else 100),
            "skipped": send_services.describe_skipped(send.skipped or {}),
            "may_cancel": send.status in (SendStatus.SCHEDULED, SendStatus.QUEUED)
            and send_services.send_may_write(request.user),
        },
    )


@login_required
@require_POST
def send_cancel(request: AuthedRequest, send_id: int) -> HttpResponse:
    send = _send_or_404(request, send_id)
    get_editable_or_404(Campaign.objects.all(), request.user, pk=send.campaign_id)
    try:
        send_services.send_cancel(actor=request.user, send_id=send.pk)
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(request, _("Send cancelled."))
    return redirect(reverse("campaigns:send_detail", kwargs={"send_id": send.pk}))


urlpatterns: list[URLPattern] = [
    path("templates/", template_list, name="templates"),
    path("templates/new/", template_add, name="template_add"),
    path("templates/<int:template_id>/", template_edit, name="template_edit"),
    path("templates/<int:template_id>/delete/", template_delete, name="template_delete"),
    path("templates/<int:template_id>/preview/", template_preview, name="template_preview"),
    path("<int:campaign_id>/sends/", send_list, name="sends"),
    path("<int:campaign_id>/sends/new/", send_create, name="send_create"),
    path("sends/<int:send_id>/", send_detail, name="send_detail"),
    path("sends/<int:send_id>/cancel/", send_cancel, name="send_cancel"),
]
