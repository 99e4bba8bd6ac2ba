"""The payments pages: the deal page's "Payments" card, the forms that plan installments and
record payments, the payments list in scope with collected vs expected, the dashboard panel and
the forecast's collections table. Views parse input, call one service or selector, render."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import User
from kehu.contracts.models import Contract, Payment, PaymentPlan
from kehu.contracts.payments_forms import DeleteForm, InvoiceForm, PaymentForm, PlanForm
from kehu.contracts.selectors import payments as selectors
from kehu.contracts.services import payments as services
from kehu.core.access import get_editable_or_404, get_visible_or_404
from kehu.core.dashboard import Panel
from kehu.core.errors import KehuError
from kehu.core.filters import invalid_input
from kehu.core.formatting import money_unit_of
from kehu.core.http import error_message, form_errors
from kehu.core.pagination import bounded_page

PAGE_SIZE = 50
WRITER_ROLES = {"sales", "manager", "admin"}


def _deal_url(contract: Contract) -> str:
    return (
        reverse("opportunities:detail", args=[contract.opportunity_id]) + "#deal-section-payments"
    )


def _writable_contract(request: AuthedRequest, contract_id: int) -> Contract:
    """The contract for a payments write: 404 outside the scope, 403 for a read-only viewer
    or a role that does not record money."""
    contract = get_editable_or_404(Contract.objects.all(), request.user, pk=contract_id)
    if not services.payment_may_write(request.user, contract):
        raise PermissionDenied(
            _("Only the deal's owner, their managers and administrators may do this.")
        )
    return contract


# --- the deal page's card -----------------------------------------------------------------------


def deal_card_context(opportunity: Any, user: Any) -> dict[str, Any] | None:
    data = selectors.deal_payments(user=user, opportunity=opportunity)
    if data is None:
        return None
    return {"deal": opportunity, "summary": data, "today": timezone.localdate()}


# --- plans ------------------------------------------------------------------------------------


@login_required
def plan_add(request: AuthedRequest, contract_id: int) -> HttpResponse:
    contract = _writable_contract(request, contract_id)
    form = PlanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            plan = services.plan_create(
                actor=request.user, contract=contract, data=form.service_data()
            )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Installment %(n)s planned.") % {"n": plan.sequence})
            return redirect(_deal_url(contract))
    return render(
        request,
        "contracts/payments/form.html",
        {
            "form": form,
            "contract": contract,
            "title": _("Plan an installment of %(contract)s") % {"contract": contract.number},
            "form_id": "plan-form",
        },
    )


def _plan_of(request: AuthedRequest, plan_id: int) -> PaymentPlan:
    plan = selectors.plan_get(user=request.user, plan_id=plan_id)
    if plan is None:
        raise Http404("payment plan")
    _writable_contract(request, plan.contract_id)
    return plan


@login_required
def plan_edit(request: AuthedRequest, plan_id: int) -> HttpResponse:
    plan = _plan_of(request, plan_id)
    initial = {"due_on": plan.due_on, "amount": plan.amount, "note": plan.note}
    form = PlanForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.plan_update(actor=request.user, plan=plan, data=form.service_data())
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Installment saved."))
            return redirect(_deal_url(plan.contract))
    return render(
        request,
        "contracts/payments/form.html",
        {
            "form": form,
            "contract": plan.contract,
            "title": _("Installment %(n)s of %(contract)s")
            % {"n": plan.sequence, "contract": plan.contract.number},
            "form_id": "plan-form",
        },
    )


@login_required
@require_POST
def plan_delete(request: AuthedRequest, plan_id: int) -> HttpResponse:
    plan = _plan_of(request, plan_id)
    try:
        services.plan_delete(actor=request.user, plan=plan)
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(request, _("Installment removed."))
    return redirect(_deal_url(plan.contract))


# --- payments ---------------------------------------------------------------------------------


@login_required
def payment_record(request: AuthedRequest, contract_id: int) -> HttpResponse:
    contract = _writable_contract(request, contract_id)
    plans = list(contract.plans.order_by("due_on", "sequence"))
    form = PaymentForm(request.POST or None, plans=plans)
    if request.method == "POST" and form.is_valid():
        try:
            payment = services.payment_record(
                actor=request.user, contract=contract, data=form.service_data()
            )
        except KehuError as error:
            form_errors(form, error)
        else:
            deal = payment.contract.opportunity
            deal.refresh_from_db(fields=["stage"])
            messages.success(
                request,
                _("Payment of %(amount)s recorded.") % {"amount": payment.amount}
                + (
                    " " + _("The deal is now in %(stage)s.") % {"stage": deal.stage.label}
                    if deal.stage.code == services.paid_stage_code()
                    else ""
                ),
            )
            return redirect(_deal_url(contract))
    return render(
        request,
        "contracts/payments/form.html",
        {
            "form": form,
            "contract": contract,
            "title": _("Record a payment on %(contract)s") % {"contract": contract.number},
            "form_id": "payment-form",
            "open_amount": contract.amount - services.received_total(contract),
        },
    )


def _payment_of(request: AuthedRequest, payment_id: int) -> Payment:
    payment = get_visible_or_404(
        Payment.objects.select_related("contract"), request.user, pk=payment_id
    )
    _writable_contract(request, payment.contract_id)
    return payment


@login_required
def payment_invoice(request: AuthedRequest, payment_id: int) -> HttpResponse:
    payment = _payment_of(request, payment_id)
    initial = {
        "invoice_number": payment.invoice_number,
        "invoice_status": payment.invoice_status,
        "note": payment.note,
    }
    form = InvoiceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.payment_update_invoice(
                actor=request.user, payment=payment, data=form.service_data()
            )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Invoice saved."))
            return redirect(_deal_url(payment.contract))
    return render(
        request,
        "contracts/payments/form.html",
        {
            "form": form,
            "contract": payment.contract,
            "title": _("Invoice of the payment of %(day)s") % {"day": payment.received_on},
            "form_id": "invoice-form",
        },
    )


@login_required
@require_POST
def payment_delete(request: AuthedRequest, payment_id: int) -> HttpResponse:
    payment = _payment_of(request, payment_id)
    form = DeleteForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.payment_delete(actor=request.user, payment=payment, reason=reason)
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(request, _("Payment deleted."))
    return redirect(_deal_url(payment.contract))


# --- the list -------------------------------------------------------------------------------------


def _this_year() -> tuple[date, date]:
    today = timezone.localdate()
    return date(today.year, 1, 1), date(today.year, 12, 31)


@login_required
def payment_list(request: AuthedRequest) -> HttpResponse:
    try:
        filters = selectors.PaymentFilters.from_querydict(request.GET)
    except ValidationError as error:
        messages.error(request, error_message(invalid_input(error)))
        filters = selectors.PaymentFilters()
    rows = selectors.payment_list(user=request.user, filters=filters)
    page = bounded_page(rows, PAGE_SIZE, request.GET.get("page"))
    masked = {
        payment.pk
        for payment in page.object_list
        if selectors.payment_masked(request.user, payment)
    }
    start, end = filters.date_from or _this_year()[0], filters.date_to or _this_year()[1]
    if end < start:
        start, end = end, start
    group = request.GET.get("group", "month")
    summary = selectors.collections(
        user=request.user, start=start, end=end, group=group, owner_id=filters.owner_id
    )
    owners = User.objects.filter(
        pk__in=selectors.payment_list(user=request.user)
        .order_by()
        .values("contract__opportunity__owner_id")
    ).order_by("username")
    return render(
        request,
        "contracts/payments/list.html",
        {
            "page": page,
            "filters": filters,
            "masked": masked,
            "summary": summary,
            "owners": owners,
            "group": summary.group,
            "methods": selectors.PaymentMethod.choices,
            "invoice_statuses": selectors.InvoiceStatus.choices,
        },
    )


# --- the dashboard panel and the forecast ------------------------------------------------------


def collections_panel(request: HttpRequest) -> Panel | None:
    """This month's collected vs expected and what is overdue, in the viewer's scope."""
    user: Any = request.user
    if getattr(user, "role", "") not in WRITER_ROLES and not user.is_superuser:
        return None
    today = timezone.localdate()
    start = today.replace(day=1)
    month = selectors.collections(user=user, start=start, end=_month_end(today), group="none")
    year = selectors.collections(
        user=user, start=date(today.year, 1, 1), end=date(today.year, 12, 31), group="month"
    )
    chart = {
        "categories": [row.label for row in year.rows],
        "unit": money_unit_of(user),
        "series": [
            {
                "name": _("Expected"),
                "type": "bar",
                "money": True,
                "data": [float(row.expected) for row in year.rows],
            },
            {
                "name": _("Collected"),
                "type": "bar",
                "money": True,
                "data": [float(row.collected) for row in year.rows],
            },
        ],
    }
    return Panel(
        template="contracts/payments/panel.html",
        context={"month": month, "year": year, "chart": chart},
        order=45,
    )


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def forecast_collections(user: Any, start: date, end: date) -> dict[str, Any] | None:
    """The forecast page's table: collected vs expected of won deals' contracts by month."""
    if getattr(user, "role", "") not in WRITER_ROLES and not user.is_superuser:
        return None
    summary = selectors.collections(user=user, start=start, end=end, group="month")
    return {"template": "contracts/payments/forecast.html", "summary": summary}


urlpatterns: list[URLPattern] = [
    path("payments/", payment_list, name="payments"),
    path("payments/contract/<int:contract_id>/plan/", plan_add, name="plan_add"),
    path("payments/plans/<int:plan_id>/", plan_edit, name="plan_edit"),
    path("payments/plans/<int:plan_id>/delete/", plan_delete, name="plan_delete"),
    path("payments/contract/<int:contract_id>/record/", payment_record, name="payment_record"),
    path("payments/<int:payment_id>/invoice/", payment_invoice, name="payment_invoice"),
    path("payments/<int:payment_id>/delete/", payment_delete, name="payment_delete"),
]
