"""The contracts pages: the list in scope (with the managers' "to review" box), drafting and
editing, the contract page with its reviews and history, and the review actions.

Thin like every view: parse, call one selector or service, render; service errors become form
errors or flash messages.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from kehu.accounts.http import AuthedRequest
from kehu.contracts.models import Contract, ContractStatus
from kehu.contracts.selectors import contracts as selectors
from kehu.contracts.services import contracts as services
from kehu.core.access import get_editable_or_404, policy_of
from kehu.core.dashboard import Panel
from kehu.core.errors import KehuError
from kehu.core.history import history_entries
from kehu.core.http import error_message, form_errors
from kehu.core.numbers import posted_version
from kehu.core.pagination import bounded_page
from kehu.opportunities.models import MAX_AMOUNT, Currency, Opportunity

PAGE_SIZE = 50
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
BOXES = (
    ("to_review", gettext_lazy("To review")),
    ("mine", gettext_lazy("Mine")),
    ("all", gettext_lazy("All in scope")),
)


class ContractForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    number = forms.CharField(
        label=gettext_lazy("Contract number"),
        max_length=60,
        required=False,
        help_text=gettext_lazy("Leave blank to number it by the pattern."),
    )
    amount = forms.DecimalField(
        label=gettext_lazy("Contract amount"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_AMOUNT,
    )
    currency = forms.ChoiceField(label=gettext_lazy("Currency"), choices=Currency.choices)
    signed_on = forms.DateField(label=gettext_lazy("Signed on"), required=False, widget=DATE)
    starts_on = forms.DateField(label=gettext_lazy("Starts on"), required=False, widget=DATE)
    ends_on = forms.DateField(label=gettext_lazy("Ends on"), required=False, widget=DATE)
    terms = forms.CharField(
        label=gettext_lazy("Key terms"),
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        max_length=20000,
        help_text=gettext_lazy("Delivery, payment terms, warranty, penalties."),
    )
    file = forms.FileField(label=gettext_lazy("Contract file"), required=False)
    is_repeat_order = forms.BooleanField(label=gettext_lazy("Repeat order (复购)"), required=False)

    def __init__(self, *args: Any, creating: bool, repeat_allowed: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not (creating and repeat_allowed):
            del self.fields["is_repeat_order"]

    def service_data(self) -> dict[str, Any]:
        data = {
            name: self.cleaned_data[name]
            for name in services.EDITABLE_FIELDS
            if name in self.fields
        }
        if not data.get("number"):
            data.pop("number", None)
        return data


class DecisionForm(forms.Form):
    comment = forms.CharField(
        label=gettext_lazy("Comment"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=2000,
    )


@login_required
def contract_list(request: AuthedRequest) -> HttpResponse:
    try:
        filters = selectors.ContractFilters.from_querydict(request.GET)
    except ValidationError:
        filters = selectors.ContractFilters()
    reviewer = request.user.is_crm_admin or request.user.role == "manager"
    if "box" not in request.GET:
        filters = filters.model_copy(update={"box": "to_review" if reviewer else "mine"})
    rows = selectors.contract_list(user=request.user, filters=filters)
    page = bounded_page(rows, PAGE_SIZE, request.GET.get("page"))
    policy = policy_of(Contract)
    items = [
        {"contract": row, "amount_hidden": "amount" in policy.masked_fields(request.user, row)}
        for row in page
    ]
    boxes = [(key, label) for key, label in BOXES if reviewer or key != "to_review"]
    return render(
        request,
        "contracts/contracts/list.html",
        {
            "page": page,
            "items": items,
            "box": filters.box,
            "boxes": boxes,
            "status": filters.status or "",
            "q": filters.q,
            "statuses": ContractStatus.choices,
        },
    )


def _detail_context(request: AuthedRequest, contract: Contract, **extra: Any) -> dict[str, Any]:
    user = request.user
    hidden = policy_of(Contract).masked_fields(user, contract)
    may_write = selectors.contract_editable(user=user, contract_id=contract.pk)
    may_edit = may_write and services.contract_may_edit(user, contract)
    context = {
        "contract": contract,
        "opportunity": contract.opportunity,
        "amount_hidden": "amount" in hidden,
        "may_edit": may_edit,
        "may_submit": may_edit,
        "may_review": services.contract_may_review(user, contract),
        "is_author": user.pk in (contract.created_by_id, contract.opportunity.owner_id),
        "may_void": may_write and services.contract_may_void(user, contract),
        "missing": services.submit_problems(contract) if may_edit else {},
        "reviews": selectors.reviews_of(contract),
        "history": history_entries(contract.history.all(), hidden_fields=frozenset(hidden)),
        "decision_form": DecisionForm(),
    }
    context.update(extra)
    return context


@login_required
def contract_detail(request: AuthedRequest, contract_id: int) -> HttpResponse:
    contract = selectors.contract_get(user=request.user, contract_id=contract_id)
    return render(request, "contracts/contracts/detail.html", _detail_context(request, contract))


@login_required
def contract_new(request: AuthedRequest, opportunity_id: int) -> HttpResponse:
    deal = get_editable_or_404(
        Opportunity.objects.select_related("stage", "customer"), request.user, pk=opportunity_id
    )
    if not services.contract_may_create(request.user, deal):
        raise PermissionDenied(_("Only sales, managers and administrators draft contracts."))
    repeat_allowed = deal.stage.kind == "won"
    initial = {
        "title": _("%(customer)s contract") % {"customer": deal.customer.name},
        "amount": deal.amount,
        "currency": deal.currency,
        "is_repeat_order": repeat_allowed,
    }
    form = ContractForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        creating=True,
        repeat_allowed=repeat_allowed,
    )
    if request.method == "POST" and form.is_valid():
        try:
            contract = services.contract_create(
                actor=request.user,
                opportunity=deal,
                data=form.service_data(),
                file=form.cleaned_data.get("file"),
            )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(
                request, _("Contract %(number)s drafted.") % {"number": contract.number}
            )
            return redirect("contracts:contract_detail", contract.pk)
    return render(request, "contracts/contracts/form.html", {"form": form, "opportunity": deal})


@login_required
def contract_edit(request: AuthedRequest, contract_id: int) -> HttpResponse:
    contract = get_editable_or_404(
        selectors.contract_list(user=request.user), request.user, pk=contract_id
    )
    if not services._is_writer(request.user):
        raise PermissionDenied(_("Only sales, managers and administrators write contracts."))
    initial = {name: getattr(contract, name) for name in services.EDITABLE_FIELDS}
    form = ContractForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        creating=False,
        repeat_allowed=False,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.contract_update(
                actor=request.user,
                contract=contract,
                data=form.service_data(),
                file=form.cleaned_data.get("file"),
                version=posted_version(request),
            )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Contract saved."))
            return redirect("contracts:contract_detail", contract.pk)
    return render(
        request,
        "contracts/contracts/form.html",
        {"form": form, "contract": contract, "opportunity": contract.opportunity},
    )


def _action(request: AuthedRequest, contract_id: int, action: Any) -> HttpResponseRedirect:
    contract = selectors.contract_get(user=request.user, contract_id=contract_id)
    try:
        action(contract)
    except KehuError as error:
        messages.error(request, error_message(error))
    return redirect("contracts:contract_detail", contract_id)


@login_required
@require_POST
def contract_submit(request: AuthedRequest, contract_id: int) -> HttpResponse:
    def submit(contract: Contract) -> None:
        services.contract_submit(
            actor=request.user, contract=contract, version=posted_version(request)
        )
        messages.success(request, _("Contract submitted for review."))

    return _action(request, contract_id, submit)


def _comment(request: AuthedRequest) -> str:
    form = DecisionForm(request.POST)
    return form.cleaned_data["comment"] if form.is_valid() else request.POST.get("comment", "")


@login_required
@require_POST
def contract_approve(request: AuthedRequest, contract_id: int) -> HttpResponse:
    def approve(contract: Contract) -> None:
        services.contract_approve(
            actor=request.user,
            contract=contract,
            comment=_comment(request),
            version=posted_version(request),
        )
        messages.success(request, _("Contract approved."))

    return _action(request, contract_id, approve)


@login_required
@require_POST
def contract_return(request: AuthedRequest, contract_id: int) -> HttpResponse:
    def send_back(contract: Contract) -> None:
        services.contract_return(
            actor=request.user,
            contract=contract,
            comment=_comment(request),
            version=posted_version(request),
        )
        messages.success(request, _("Contract returned to its author with your comments."))

    return _action(request, contract_id, send_back)


@login_required
@require_POST
def contract_void(request: AuthedRequest, contract_id: int) -> HttpResponse:
    def void(contract: Contract) -> None:
        services.contract_void(
            actor=request.user,
            contract=contract,
            reason=request.POST.get("reason", "")[:1000],
            version=posted_version(request),
        )
        messages.success(request, _("Contract voided."))

    return _action(request, contract_id, void)


@login_required
def contract_file(request: AuthedRequest, contract_id: int) -> FileResponse:
    contract = selectors.contract_get(user=request.user, contract_id=contract_id)
    if not contract.file:
        raise Http404
    try:
        handle = contract.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404 from missing
    return FileResponse(
        handle, as_attachment=True, filename=(contract.file.name or "contract").rsplit("/", 1)[-1]
    )


urlpatterns: list[URLPattern] = [
    path("", contract_list, name="list"),
    path("new/<int:opportunity_id>/", contract_new, name="contract_new"),
    path("<int:contract_id>/", contract_detail, name="contract_detail"),
    path("<int:contract_id>/edit/", contract_edit, name="contract_edit"),
    path("<int:contract_id>/submit/", contract_submit, name="contract_submit"),
    path("<int:contract_id>/approve/", contract_approve, name="contract_approve"),
    path("<int:contract_id>/return/", contract_return, name="contract_return"),
    path("<int:contract_id>/void/", contract_void, name="contract_void"),
    path("<int:contract_id>/file/", contract_file, name="contract_file"),
]


# --- dashboard panel ----------------------------------------------------------------------------

PANEL_ROWS = 8


def review_panel(request: Any) -> Panel | None:
    """Managers and admins: the contracts waiting for their review (nothing waiting: no panel)."""
    user = request.user
    if not (getattr(user, "is_crm_admin", False) or getattr(user, "role", "") == "manager"):
        return None
    rows = list(
        selectors.contract_list(
            user=user, filters=selectors.ContractFilters(box="to_review")
        ).order_by("submitted_at", "id")[: PANEL_ROWS + 1]
    )
    if not rows:
        return None
    return Panel(
        template="contracts/contracts/panel.html",
        context={"rows": rows[:PANEL_ROWS], "more": len(rows) > PANEL_ROWS},
        order=22,
    )
