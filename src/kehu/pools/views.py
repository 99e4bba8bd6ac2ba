"""UI of the pools app: thin views over the services and selectors."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.accounts.http import AuthedRequest
from kehu.core.access import get_editable_or_404, is_admin
from kehu.core.errors import KehuError, NotFound
from kehu.core.http import error_message, form_errors, raise_not_found
from kehu.core.masking import CONTACT_FIELDS
from kehu.core.numbers import id_or_404, posted_version, whole_number
from kehu.core.pagination import bounded_page
from kehu.customers import contact_display
from kehu.customers.models import Contact, Customer
from kehu.customers.normalize import phone_display
from kehu.pools import selectors, services
from kehu.pools.forms import OffboardingForm, PoolForm, ReleaseForm
from kehu.pools.models import Pool

PAGE_SIZE = 50


def _int_or_none(value: str | None) -> int | None:
    return id_or_404(value) if value else None


@login_required
def pool_list(request: AuthedRequest) -> HttpResponse:
    pools = list(selectors.pool_list(user=request.user))
    rows = [
        {"pool": pool, "usage": services.usage_for(user=request.user, pool=pool)} for pool in pools
    ]
    context = {
        "rows": rows,
        "warnings": selectors.my_warnings(user=request.user)[:5],
        "is_admin": is_admin(request.user),
        "may_audit_reveals": selectors.may_audit_reveals(request.user),
    }
    return render(request, "pools/list.html", context)


@login_required
def pool_detail(request: AuthedRequest, pool_id: int) -> HttpResponse:
    try:
        pool = selectors.pool_get(user=request.user, pool_id=pool_id)
    except NotFound as missing:
        raise Http404 from missing
    q = request.GET.get("q", "")[:100]
    page = bounded_page(
        selectors.pool_customers(
            user=request.user, pool=pool, filters=selectors.PoolCustomerFilters(q=q)
        ),
        PAGE_SIZE,
        request.GET.get("page"),
    )
    may_assign = selectors.may_assign(user=request.user, pool=pool)
    contact_display.show_all_on_page(
        request.user,
        [(e.customer, e.customer.primary_contacts) for e in page],
    )
    cooling = {
        entry.pk: until
        for entry in page
        if (until := services.cooling_until(user=request.user, pool=pool, entry=entry))
    }
    context = {
        "pool": pool,
        "page": page,
        "rows": [(entry, cooling.get(entry.pk)) for entry in page],
        "q": q,
        "usage": services.usage_for(user=request.user, pool=pool),
        "may_assign": may_assign,
        "is_admin": is_admin(request.user),
        "assignees": selectors.assignable_users(user=request.user, pool=pool) if may_assign else [],
    }
    return render(request, "pools/detail.html", context)


@login_required
@require_POST
def claim(request: AuthedRequest, pool_id: int, customer_id: int) -> HttpResponse:
    try:
        customer = services.pool_claim(
            actor=request.user,
            pool_id=pool_id,
            customer_id=customer_id,
        )
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(request, _("You claimed %(customer)s.") % {"customer": customer.name})
    return redirect("pools:detail", pool_id=pool_id)


@login_required
@require_POST
def assign(request: AuthedRequest, pool_id: int, customer_id: int) -> HttpResponse:
    try:
        customer = services.pool_assign(
            actor=request.user,
            pool_id=pool_id,
            customer_id=customer_id,
            assignee=request.POST.get("assignee", ""),
            reason=request.POST.get("reason", ""),
        )
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(
            request,
            _("%(customer)s was assigned to %(user)s.")
            % {"customer": customer.name, "user": customer.owner},
        )
    return redirect("pools:detail", pool_id=pool_id)


@login_required
@require_POST
def put(request: AuthedRequest, pool_id: int) -> HttpResponse:
    """Admins put a customer, named by its number, into the pool."""
    _require_pool_admin(request, pool_id)
    number = request.POST.get("number", "").strip()[:40]
    customer = Customer.objects.filter(number=number).first() if number else None
    if customer is None:
        messages.error(request, _("No customer has the number %(number)s.") % {"number": number})
        return redirect("pools:detail", pool_id=pool_id)
    try:
        services.pool_put(
            actor=request.user,
            customer_id=customer.pk,
            pool_id=pool_id,
            reason=request.POST.get("reason", ""),
        )
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(
            request, _("%(customer)s was put into the pool.") % {"customer": customer.name}
        )
    return redirect("pools:detail", pool_id=pool_id)


@login_required
def release(request: AuthedRequest, customer_id: int) -> HttpResponse:
    customer = get_editable_or_404(Customer.objects.all(), request.user, pk=customer_id)
    pools = selectors.pool_list(user=request.user).filter(is_active=True)
    form = ReleaseForm(request.POST if request.method == "POST" else None, pools=pools)
    if form.is_bound and form.is_valid():
        pool = form.cleaned_data["pool"]
        try:
            entry = services.pool_release(
                actor=request.user,
                customer_id=customer.pk,
                reason=form.cleaned_data["reason"],
                pool_id=pool.pk if pool is not None else None,
            )
        except KehuError as failure:
            form_errors(form, failure, {"pool_id": "pool"})
        else:
            messages.success(
                request,
                _("%(customer)s was released to pool %(pool)s.")
                % {"customer": customer.name, "pool": entry.pool.name},
            )
            return redirect("pools:warnings")
    context = {"customer": customer, "form": form}
    return render(request, "pools/release.html", context, status=422 if form.errors else 200)


@login_required
def warnings(request: AuthedRequest) -> HttpResponse:
    return render(
        request, "pools/warnings.html", {"warnings": selectors.my_warnings(user=request.user)}
    )


@login_required
def duplicate_check(request: AuthedRequest) -> HttpResponse:
    fields = ("name", "phone", "email", "credit_code")
    values = {name: request.GET.get(name, "")[:200] for name in fields}
    context: dict[str, Any] = {"values": values, "checked": False, "errors": {}, "matches": []}
    if any(values.values()):
        try:
            context["matches"] = selectors.duplicate_check(user=request.user, **values)
            context["checked"] = True
            if values["credit_code"]:
                context["credit_code"] = selectors.credit_code_info(values["credit_code"])
        except KehuError as error:
            context["errors"] = error.errors
            context["general_error"] = "" if error.errors else error.detail
    status = 422 if context["errors"] else 200
    return render(request, "pools/duplicate_check.html", context, status=status)


def _require_admin(request: AuthedRequest) -> None:
    if not is_admin(request.user):
        raise Http404


def _require_pool_admin(request: AuthedRequest, pool_id: int) -> None:
    """Only admins change a pool: a member, who sees it, gets 403; anyone else 404."""
    if is_admin(request.user):
        return
    try:
        selectors.pool_get(user=request.user, pool_id=pool_id)
    except NotFound as missing:
        raise Http404 from missing
    raise PermissionDenied(_("Only CRM administrators may do this."))


@login_required
def pool_edit(request: AuthedRequest, pool_id: int | None = None) -> HttpResponse:
    if pool_id is None:
        _require_admin(request)
    else:
        _require_pool_admin(request, pool_id)
    pool = Pool.objects.filter(pk=pool_id).first() if pool_id else None
    if pool_id and pool is None:
        raise Http404
    form = PoolForm(request.POST or None, instance=pool)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in services.POOL_FIELDS}
        departments = list(form.cleaned_data["departments"])
        try:
            if pool is None:
                saved = services.pool_create(actor=request.user, data=data, departments=departments)
            else:
                saved = services.pool_update(
                    actor=request.user,
                    pool=pool,
                    changes=data,
                    departments=departments,
                    version=posted_version(request, pool.version),
                )
        except KehuError as error:
            form_errors(form, error)
        else:
            messages.success(request, _("Pool %(pool)s saved.") % {"pool": saved.name})
            return redirect("pools:list")
    status = 422 if form.errors else 200
    return render(request, "pools/pool_form.html", {"form": form, "pool": pool}, status=status)


@login_required
def offboarding(request: AuthedRequest) -> HttpResponse:
    _require_admin(request)
    form = OffboardingForm(request.POST or None)
    plan = None
    if request.method == "POST" and form.is_valid():
        action = request.POST.get("action", "preview")
        try:
            if action == "apply":
                record = services.offboarding_apply(
                    actor=request.user,
                    note=form.cleaned_data.get("note", ""),
                    **form.service_args(),
                )
                messages.success(
                    request,
                    _("The records of %(user)s were handed over and the account deactivated.")
                    % {"user": record.user},
                )
                return redirect("pools:offboarding")
            plan = services.offboarding_plan(actor=request.user, **form.service_args())
        except KehuError as error:
            form_errors(form, error)
    context = {
        "form": form,
        "plan": plan,
        "counts": plan.counts() if plan else [],
        "records": selectors.offboarding_list(user=request.user)[:20],
    }
    return render(request, "pools/offboarding.html", context, status=422 if form.errors else 200)


# --- Contact reveal (查看) ------------------------------------------------------------------


@login_required
@require_POST
def reveal_contact(request: AuthedRequest, contact_id: int) -> HttpResponse:
    """htmx: swap the "Show" button for a note, and the masked values for the full ones."""
    try:
        shown = services.contact_reveal(actor=request.user, contact_id=contact_id)
    except KehuError as error:
        raise_not_found(error)
        # htmx swaps 2xx answers only; the refusal replaces the button where the user looks.
        return render(request, "pools/_reveal_refused.html", {"message": error.detail})
    values = dict(shown.values)
    for name in ("mobile", "work_phone"):
        values[name] = phone_display(values[name])
    context = {"contact": shown.contact, "values": values, "shown": shown}
    return render(request, "pools/_revealed.html", context)


def _date_or_none(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@login_required
def reveal_log(request: AuthedRequest) -> HttpResponse:
    """The audit list of reveals, for admins (all) and managers (their departments)."""
    if not selectors.may_audit_reveals(request.user):
        raise PermissionDenied
    user_id = request.GET.get("user", "")
    # The page is lenient: a malformed value is dropped rather than answered with an error.
    filters = selectors.RevealFilters(
        user_id=whole_number(user_id),
        date_from=_date_or_none(request.GET.get("date_from")),
        date_to=_date_or_none(request.GET.get("date_to")),
    )
    page = bounded_page(
        selectors.reveal_list(user=request.user, filters=filters),
        PAGE_SIZE,
        request.GET.get("page"),
    )
    labels = {name: str(Contact._meta.get_field(name).verbose_name) for name in CONTACT_FIELDS}  # type: ignore[union-attr]
    for reveal in page:
        reveal.field_names = [labels.get(name, name) for name in reveal.fields.split(",") if name]
    context = {
        "page": page,
        "filters": filters,
        "users": selectors.reveal_users(user=request.user),
    }
    return render(request, "pools/reveals.html", context)
