"""The governance pages: retention policies, the destruction reviews and legal holds
(administrators). Thin: every write is a ``kehu.governance.services`` call."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import User
from kehu.core.access import get_visible_or_404, is_admin
from kehu.core.errors import KehuError
from kehu.core.http import error_message
from kehu.core.numbers import posted_version, whole_number
from kehu.core.pagination import bounded_page
from kehu.customers.models import Customer
from kehu.governance.models import MAX_YEARS, MIN_YEARS, BatchStatus, ItemStatus
from kehu.governance.selectors import retention as selectors
from kehu.governance.services import holds, retention

PAGE_SIZE = 100


class PolicyForm(forms.Form):
    years = forms.IntegerField(
        label=gettext_lazy("Years kept"),
        min_value=MIN_YEARS,
        max_value=MAX_YEARS,
        widget=forms.NumberInput(attrs={"style": "width: 6rem"}),
    )
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False)


def _admin(request: AuthedRequest) -> User:
    if not is_admin(request.user):
        raise PermissionDenied
    return request.user


@login_required
def retention_home(request: AuthedRequest) -> HttpResponse:
    """The policies with their forms, and what falls due next month per policy."""
    user = _admin(request)
    retention.ensure_default_policies()
    due = selectors.due_list(user=user)
    counts: dict[str, int] = {}
    held: dict[str, int] = {}
    for row in due:
        target = held if row.held else counts
        target[row.policy_key] = target.get(row.policy_key, 0) + 1
    policies = [
        {
            "policy": policy,
            "label": retention.policy_label(policy.key),
            "form": PolicyForm(
                initial={"years": policy.years, "is_active": policy.is_active},
                auto_id=f"id_policy{policy.pk}_%s",
            ),
            "due": counts.get(policy.key, 0),
            "held": held.get(policy.key, 0),
        }
        for policy in selectors.policy_list(user=user)
    ]
    context = {
        "policies": policies,
        "month": selectors.next_month(timezone.localdate()),
        "batches": selectors.batch_list(user=user)[:12],
        "min_years": MIN_YEARS,
        "max_years": MAX_YEARS,
    }
    return render(request, "governance/retention.html", context)


@login_required
@require_POST
def retention_policy(request: AuthedRequest, retention_policy_id: int) -> HttpResponse:
    user = _admin(request)
    policy = selectors.policy_get(user=user, policy_id=retention_policy_id)
    form = PolicyForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(error) for error in errors))
        return redirect("governance:retention")
    try:
        retention.policy_update(
            actor=user,
            policy=policy,
            data={"years": form.cleaned_data["years"], "is_active": form.cleaned_data["is_active"]},
            version=posted_version(request),
        )
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(request, _("Retention policy saved."))
    return redirect("governance:retention")


@login_required
def retention_batches(request: AuthedRequest) -> HttpResponse:
    """The review lists; POST prepares next month's list now."""
    user = _admin(request)
    if request.method == "POST":
        try:
            batch = retention.batch_prepare(actor=user)
        except KehuError as error:
            messages.error(request, error_message(error))
        else:
            messages.success(request, _("The review list was prepared."))
            return redirect("governance:retention_batch", batch.pk)
        return redirect("governance:retention_batches")
    page = bounded_page(selectors.batch_list(user=user), PAGE_SIZE, request.GET.get("page"))
    return render(request, "governance/retention_batches.html", {"page": page})


@login_required
def retention_batch(request: AuthedRequest, batch_id: int) -> HttpResponse:
    """One review list with the live names of its records; POST approves (excluding the
    ticked records) or cancels it."""
    user = _admin(request)
    batch = selectors.batch_get(user=user, batch_id=batch_id)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "cancel":
                retention.batch_cancel(actor=user, batch=batch, version=posted_version(request))
                messages.success(request, _("The review list was cancelled."))
            else:
                exclude = [whole_number(value) for value in request.POST.getlist("exclude")]
                retention.batch_approve(
                    actor=user,
                    batch=batch,
                    version=posted_version(request),
                    exclude=[-1 if pk is None else pk for pk in exclude],
                )
                messages.success(
                    request,
                    _(
                        "Approved: the records whose date has come are destroyed now, the others "
                        "on their date."
                    ),
                )
        except KehuError as error:
            messages.error(request, error_message(error))
        return redirect("governance:retention_batch", batch.pk)
    counts = selectors.counts_of(batch)
    page = bounded_page(selectors.batch_items(batch), PAGE_SIZE, request.GET.get("page"))
    items = list(page.object_list)
    names = selectors.item_names(items)
    rows = [
        {
            "item": item,
            "name": names.get((item.kind, item.object_id), ""),
            "policy": retention.policy_label(item.policy_key),
        }
        for item in items
    ]
    context = {
        "batch": batch,
        "page": page,
        "rows": rows,
        "counts": [
            (label, counts[status]) for status, label in ItemStatus.choices if status in counts
        ],
        "pending": batch.status == BatchStatus.PENDING,
    }
    return render(request, "governance/retention_batch.html", context)


@login_required
def legal_holds(request: AuthedRequest) -> HttpResponse:
    user = _admin(request)
    state = request.GET.get("state", "active")
    active = {"active": True, "removed": False}.get(state)
    if state not in ("active", "removed", "all"):
        state = "active"
        active = True
    page = bounded_page(
        selectors.hold_list(user=user, active=active), PAGE_SIZE, request.GET.get("page")
    )
    return render(request, "governance/legal_holds.html", {"page": page, "state": state})


@login_required
@require_POST
def hold_set(request: AuthedRequest, customer_id: int) -> HttpResponse:
    user = _admin(request)
    customer = get_visible_or_404(Customer.objects.all(), user, pk=customer_id)
    try:
        holds.hold_set(actor=user, customer_id=customer.pk, reason=request.POST.get("reason", ""))
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(request, _("The customer is under legal hold."))
    return redirect("customers:detail", customer.pk)


@login_required
@require_POST
def hold_remove(request: AuthedRequest, hold_id: int) -> HttpResponse:
    user = _admin(request)
    hold = holds.hold_get(user=user, hold_id=hold_id)
    try:
        holds.hold_remove(actor=user, hold=hold, reason=request.POST.get("reason", ""))
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(request, _("The legal hold was removed."))
    return redirect("customers:detail", hold.customer_id)


urlpatterns: list[URLPattern] = [
    path("retention/", retention_home, name="retention"),
    path(
        "retention/policies/<int:retention_policy_id>/", retention_policy, name="retention_policy"
    ),
    path("retention/reviews/", retention_batches, name="retention_batches"),
    path("retention/reviews/<int:batch_id>/", retention_batch, name="retention_batch"),
    path("retention/holds/", legal_holds, name="legal_holds"),
    path("retention/holds/customer/<int:customer_id>/", hold_set, name="hold_set"),
    path("retention/holds/<int:hold_id>/remove/", hold_remove, name="hold_remove"),
]
