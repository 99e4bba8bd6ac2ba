"""Customer UI: thin views over the same services and selectors the API uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Field
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_POST
from pydantic import ValidationError

from kehu.accounts.http import AuthedRequest
from kehu.accounts.models import Role, User
from kehu.core import custom_fields, masking
from kehu.core.access import is_admin, policy_of
from kehu.core.errors import InvalidInput, KehuError, StaleVersion
from kehu.core.filters import named_problems, refused_filters
from kehu.core.http import error_message, form_errors, is_htmx
from kehu.core.numbers import id_or_404, whole_number
from kehu.core.pagination import BoundedPaginator, page_number
from kehu.customers import contact_display, sections, selectors, services, timeline
from kehu.customers.forms import (
    AttachmentForm,
    BulkForm,
    ContactForm,
    CustomerCreateForm,
    CustomerEditForm,
    GradeForm,
    MergeForm,
    ReassignForm,
    SavedFilterForm,
    ShareForm,
    StatusForm,
    VerifyForm,
    field_label,
)
from kehu.customers.models import (
    Customer,
    CustomerStatus,
    Grade,
    Priority,
    SavedFilter,
    Source,
    Tag,
)
from kehu.customers.widgets import picker_label

PAGE_SIZES = (25, 50, 100)
CONTACT_ERROR_FIELDS = {
    "name": "contact_name",
    "title": "contact_title",
    "mobile": "contact_mobile",
    "work_phone": "contact_work_phone",
    "mobile_reason": "contact_mobile_reason",
    "contacts": "contact_mobile",
    "email": "contact_email",
}


def _is_manager(user: Any) -> bool:
    return is_admin(user) or getattr(user, "role", "") == Role.MANAGER


# --- List ---------------------------------------------------------------------------------------


def _customer_filter_labels() -> dict[str, Any]:
    """The customer list's filters by their labels on the page (the model's field names for
    the choices)."""
    fields = ("status", "owner", "department", "industry", "region", "source", "priority")
    return {
        **{name: cast(Field, Customer._meta.get_field(name)).verbose_name for name in fields},
        "q": _("Search"),
        "grade": _("Grade"),
        "tags": _("Tags"),
        "created_from": _("Created from"),
        "created_to": _("Created to"),
        "updated_from": _("Updated from"),
        "updated_to": _("Updated to"),
        "stale": _("Contact information stale"),
        "unverified": _("Not verified in time after first contact"),
        "sort": pgettext("list", "Sort"),
        "cf": _("Custom fields"),
        "columns": _("Columns"),
    }


def _list_context(request: AuthedRequest) -> dict[str, Any]:
    user = request.user
    try:
        filters = selectors.CustomerFilters.from_querydict(request.GET)
        filter_error = ""
    except ValidationError as error:
        filters = selectors.CustomerFilters()
        filter_error = refused_filters(error, _customer_filter_labels())
    try:
        per_page = int(request.GET.get("per_page", PAGE_SIZES[0]))
    except ValueError:
        per_page = PAGE_SIZES[0]
    per_page = per_page if per_page in PAGE_SIZES else PAGE_SIZES[0]
    wanted = request.GET.get("page")
    rows, known = selectors.narrowed_search(
        selectors.customer_list(user=user, filters=filters), filters
    )
    page = BoundedPaginator(rows, per_page, page=wanted, known=known).get_page(wanted)
    query = request.GET.copy()
    query.pop("page", None)
    base_query = query.urlencode()
    sort_query = query.copy()
    sort_query.pop("sort", None)
    contact_display.show_all_on_page(user, [(c, c.primary_contacts) for c in page.object_list])
    custom = custom_fields.list_columns("customer", user, filters.columns, filters.cf)
    policy = policy_of(Customer)
    customers = list(page.object_list)
    cells = custom.cells(customers, lambda row: not policy.has_full_access(user, row))
    return {
        "filters": filters,
        **custom.context(),
        "filter_error": filter_error,
        "page": page,
        "rows": [
            {
                "customer": customer,
                "completeness": customer.completeness,
                "contact": (customer.primary_contacts or [None])[0],
                "custom": row_cells,
            }
            for customer, row_cells in zip(customers, cells, strict=True)
        ],
        "base_query": base_query,
        "sort_query": sort_query.urlencode(),
        "per_page": per_page,
        "page_sizes": PAGE_SIZES,
        "team": selectors.team_completeness_cached(user=user, filters=filters),
        "team_cache_minutes": selectors.TEAM_COMPLETENESS_TTL // 60,
    }


@login_required
@require_GET
def customer_list(request: AuthedRequest) -> HttpResponse:
    context = _list_context(request)
    if is_htmx(request) and request.headers.get("HX-Target") == "customer-results":
        return render(request, "customers/_results.html", context)
    user = request.user
    context.update(
        statuses=CustomerStatus.choices,
        sources=Source.choices,
        priorities=Priority.choices,
        grades=Grade.choices,
        tags=Tag.objects.all(),
        owners=selectors.assignable_owners(user=user) if _is_manager(user) else [],
        saved_filters=selectors.saved_filters(user=user),
        bulk_form=BulkForm(owners=selectors.assignable_owners(user=user)),
        is_manager=_is_manager(user),
        may_create=services.customer_may_create(user),
        sorts=selectors.SORTS,
    )
    return render(request, "customers/list.html", context)


@login_required
@require_POST
def bulk_action(request: AuthedRequest) -> HttpResponse:
    user = request.user
    form = BulkForm(request.POST, owners=selectors.assignable_owners(user=user))
    back = reverse("customers:list") + "?" + request.POST.get("back", "")
    ids = [pk for pk in map(whole_number, request.POST.getlist("selected")) if pk is not None]
    if not form.is_valid() or not ids:
        messages.error(request, _("Choose customers and an action."))
        return redirect(back)
    customers = list(Customer.objects.visible_to(user).filter(pk__in=ids))
    data = form.cleaned_data
    try:
        if data["action"] == "tag":
            done = services.customers_add_tags_bulk(
                actor=user, customers=customers, tags=data["tags"].split(",")
            )
        else:
            done = services.customers_reassign_bulk(
                actor=user, customers=customers, owner=data["owner"], reason=data["reason"]
            )
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(request, _("%(count)d customers updated.") % {"count": done})
    return redirect(back)


# The page of each list that saves filters (``SavedFilter.ListName``), by URL name: where a
# save or a delete goes back to when the form does not name its own page (``back``).
SAVED_FILTER_LISTS = {
    SavedFilter.ListName.CUSTOMERS: "customers:list",
    SavedFilter.ListName.LEADS: "leads:list",
    SavedFilter.ListName.OPPORTUNITIES: "opportunities:list",
    SavedFilter.ListName.TICKETS: "service:tickets",
    SavedFilter.ListName.CONTACTS: "customers:contact_list",
}


def _saved_filter_page(request: AuthedRequest, list_name: str) -> str:
    """The list page to go back to: the form's ``back`` when it is a path on this site (the
    deal board or a lead tab), else the list's own page."""
    back = str(request.POST.get("back") or "")
    if back.startswith("/") and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}
    ):
        return back.split("?", 1)[0]
    return reverse(SAVED_FILTER_LISTS[SavedFilter.ListName(list_name)])


@login_required
@require_POST
def saved_filter_save(
    request: AuthedRequest, list_name: str = SavedFilter.ListName.CUSTOMERS
) -> HttpResponse:
    """Save the list's query string under a name (``list_name``: customers, leads,
    opportunities or tickets; another one is 404); back to the list, filtered."""
    if list_name not in SavedFilter.ListName.values:
        raise Http404(list_name)
    form = SavedFilterForm(request.POST)
    if form.is_valid():
        try:
            services.saved_filter_save(
                user=request.user,
                name=form.cleaned_data["name"],
                query=form.cleaned_data["query"],
                list_name=list_name,
            )
            messages.success(request, _("Filter saved."))
        except KehuError as error:
            messages.error(request, error_message(error))
    else:
        messages.error(request, _("Give the filter a name."))
    page = _saved_filter_page(request, list_name)
    return redirect(page + "?" + str(form.data.get("query", "")).lstrip("?"))


@login_required
@require_POST
def saved_filter_delete(request: AuthedRequest, filter_id: int) -> HttpResponse:
    list_name = services.saved_filter_delete(user=request.user, filter_id=filter_id)
    return redirect(_saved_filter_page(request, list_name))


# --- Contact list -------------------------------------------------------------------------------

CONTACT_ROW_FIELDS = (
    "id",
    "customer_id",
    "customer__name",
    "name",
    "title",
    "mobile",
    "work_phone",
    "email",
    "wechat",
    "is_primary",
    "is_decision_maker",
    "is_active",
    "left_at",
    "created_at",
    "custom",
)


@dataclass(frozen=True)
class ContactPages:
    """Where a page of the contact list is among the others, with the bounded count."""

    number: int
    per_page: int
    count: int
    count_capped: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def has_next(self) -> bool:
        return self.count_capped or self.number * self.per_page < self.count

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.per_page))


def _contact_filter_labels() -> dict[str, str]:
    return {
        "q": _("Search"),
        "customer_id": _("Customer"),
        "active": pgettext("contact filter", "Still at the customer"),
        "decision_maker": _("Decision maker"),
        "sort": pgettext("list", "Sort"),
        "cf": _("Custom fields"),
        "columns": _("Columns"),
    }


def _contact_filters(request: AuthedRequest) -> tuple[selectors.ContactFilters, str]:
    """The list's filters from the query string, and what was wrong with those that were not
    valid (the list is then shown unfiltered, with a message naming them)."""
    try:
        return selectors.ContactFilters.from_querydict(request.GET), ""
    except ValidationError as error:
        return selectors.ContactFilters(), refused_filters(error, _contact_filter_labels())


def _contact_rows(
    request: AuthedRequest, filters: selectors.ContactFilters, per_page: int
) -> tuple[list[SimpleNamespace], ContactPages]:
    """The page of contacts the request asks for, as rows a template reads (``shown``,
    ``masked``, ``reveal_at`` as ``contact_display`` attaches them); past the last page, the
    last page."""
    number = page_number(request.GET.get("page"), per_page) or 1
    while True:
        found = selectors.contact_page(
            user=request.user,
            offset=(number - 1) * per_page,
            limit=per_page,
            fields=CONTACT_ROW_FIELDS,
            filters=filters,
        )
        pages = ContactPages(number, per_page, found["count"], found["count_capped"])
        if found["items"] or number == 1 or found["count_capped"]:
            break
        number = pages.num_pages  # beyond the end: the last page (one more query, rarely)
    rows: list[SimpleNamespace] = []
    held: list[tuple[Any, list[SimpleNamespace]]] = []
    for item in found["items"]:
        customer = SimpleNamespace(
            pk=item["customer_id"],
            name=item.pop("customer__name"),
            owner_id=item.pop("owner_id"),
            department_id=item.pop("department_id"),
        )
        row = SimpleNamespace(pk=item["id"], customer=customer, **item)
        rows.append(row)
        held.append((customer, [row]))
    contact_display.show_all_on_page(request.user, held)
    return rows, pages


@login_required
@require_GET
def contact_list(request: AuthedRequest) -> HttpResponse:
    """联系人: every contact of the customers the user sees, searched and filtered like the
    API's list (``ContactFilters``), masked as on the customer page."""
    user = request.user
    filters, filter_error = _contact_filters(request)
    per_page = whole_number(request.GET.get("per_page", ""))
    per_page = per_page if per_page in PAGE_SIZES else PAGE_SIZES[0]
    try:
        rows, pages = _contact_rows(request, filters, per_page)
    except InvalidInput as error:  # a custom field this role may not filter on
        filter_error = named_problems(error.errors or {"cf": []}, _contact_filter_labels())
        filters = selectors.ContactFilters(sort=filters.sort, columns=filters.columns)
        rows, pages = _contact_rows(request, filters, per_page)
    custom = custom_fields.list_columns("contact", user, filters.columns, filters.cf)
    for row, cells in zip(rows, custom.labelled(rows, lambda row: row.masked), strict=True):
        row.custom_cells = cells
    query = request.GET.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("sort", None)
    context = {
        **custom.context(),
        "filters": filters,
        "filter_error": filter_error,
        "rows": rows,
        "page": pages,
        "any_masked": any(row.masked for row in rows),
        "base_query": query.urlencode(),
        "sort_query": sort_query.urlencode(),
        "per_page": per_page,
        "page_sizes": PAGE_SIZES,
        "saved_filters": selectors.saved_filters(
            user=user, list_name=SavedFilter.ListName.CONTACTS
        ),
    }
    if is_htmx(request) and request.headers.get("HX-Target") == "contact-results":
        return render(request, "customers/_contact_results.html", context)
    return render(request, "customers/contact_list.html", context)


# --- Create / edit --------------------------------------------------------------------------------


def _duplicates_context(user: Any, error: services.DuplicateCustomer) -> list[dict[str, Any]]:
    return services.duplicate_payload(error.matches, user)


@login_required
@require_GET
def customer_pick(request: AuthedRequest) -> HttpResponse:
    """The options of a customer picker (``widgets.CustomerPicker``) for what the user typed:
    the newest customers they may edit that match."""
    editable = Customer.objects.editable_by(request.user)
    customers = selectors.customer_choices(editable, request.GET.get("q", "")[:100])
    options = [(customer.pk, picker_label(customer)) for customer in customers]
    return render(request, "customers/_pick_options.html", {"options": options})


@login_required
def customer_create(request: AuthedRequest) -> HttpResponse:
    user = request.user
    if not services.customer_may_create(user):
        raise PermissionDenied(_("Your role may not create customers."))
    owners = selectors.assignable_owners(user=user) if _is_manager(user) else None
    duplicates: list[dict[str, Any]] = []
    custom_specs = custom_fields.editable_fields("customer", user)
    if request.method == "POST":
        form = CustomerCreateForm(request.POST, owners=owners, custom_specs=custom_specs)
        if form.is_valid():
            try:
                customer = services.customer_create(
                    actor=user,
                    data=form.service_data(),
                    contacts=form.contact_data(),
                    tags=form.tag_names(),
                    force=form.cleaned_data["force"],
                )
            except services.DuplicateCustomer as error:
                duplicates = _duplicates_context(user, error)
                form.add_error(None, error.detail)
            except KehuError as error:
                form_errors(form, error, CONTACT_ERROR_FIELDS)
            else:
                messages.success(
                    request, _("Customer %(number)s created.") % {"number": customer.number}
                )
                return redirect("customers:detail", customer.pk)
    else:
        form = CustomerCreateForm(
            owners=owners,
            initial={"status": CustomerStatus.POTENTIAL, "owner": user.pk},
            custom_specs=custom_specs,
        )
    return render(
        request,
        "customers/form.html",
        {"form": form, "duplicates": duplicates, "creating": True},
    )


@login_required
@require_POST
def check_duplicates(request: AuthedRequest) -> HttpResponse:
    """Live warning while typing a new customer (htmx): matches the user may open are links."""
    exclude = request.POST.get("customer_id", "")
    matches = services.find_duplicates(
        name=request.POST.get("name", "")[:200],
        phones=[request.POST.get(k, "")[:40] for k in ("contact_mobile", "contact_work_phone")],
        emails=[request.POST.get("contact_email", "")[:254]],
        credit_code=_safe_code(request.POST.get("credit_code", "")),
        exclude_id=whole_number(exclude),
    )
    payload = services.duplicate_payload(matches, request.user)
    return render(request, "customers/_duplicates.html", {"duplicates": payload})


def _safe_code(value: str) -> str:
    try:
        return services.clean_credit_code(value) or ""
    except KehuError:
        return ""


@login_required
def customer_edit(request: AuthedRequest, customer_id: int) -> HttpResponse:
    user = request.user
    customer = selectors.customer_get_editable(user=user, customer_id=customer_id)
    hidden = selectors.masked_fields(user, customer)
    custom_specs = custom_fields.editable_fields(
        "customer", user, masked=custom_fields.masked_for(user, customer)
    )
    duplicates: list[dict[str, Any]] = []
    if request.method == "POST":
        form = CustomerEditForm(request.POST, hidden_fields=hidden, custom_specs=custom_specs)
        if form.is_valid():
            try:
                services.customer_update(
                    actor=user,
                    customer=customer,
                    changes=form.service_data(),
                    version=form.cleaned_data["version"],
                    force=form.cleaned_data["force"],
                    tags=form.tag_names(),
                )
            except services.DuplicateCustomer as error:
                duplicates = _duplicates_context(user, error)
                form.add_error(None, error.detail)
            except StaleVersion as error:
                form.add_error(None, error.detail)
            except KehuError as error:
                form_errors(form, error)
            else:
                messages.success(request, _("Customer saved."))
                return redirect("customers:detail", customer.pk)
    else:
        initial = {
            name: getattr(customer, name)
            for name in CustomerEditForm.base_fields
            if hasattr(customer, name) and name not in {"industry", "region", "tags"}
        }
        initial.update(
            industry=customer.industry_id or "",
            region=customer.region_id or "",
            tags=", ".join(customer.tags.values_list("name", flat=True)),
            version=customer.version,
            reason="",
        )
        form = CustomerEditForm(
            initial=initial,
            hidden_fields=hidden,
            custom_specs=custom_specs,
            custom=customer.custom,
        )
    return render(
        request,
        "customers/form.html",
        {"form": form, "customer": customer, "duplicates": duplicates, "creating": False},
    )


def _contact_columns(user: Any, contacts: list[Any], *, masked: bool) -> dict[str, Any]:
    """The contacts tab's custom columns: every contact field ``user`` sees, as (label, text)
    per contact (``contact.custom_cells``), sensitive ones masked where ``masked``."""
    columns = custom_fields.list_columns("contact", user, [], [])
    columns.columns = columns.visible
    cells = columns.labelled(contacts, lambda _contact: masked)
    for contact, row in zip(contacts, cells, strict=True):
        contact.custom_cells = row
    return {"contact_columns": columns.columns}


# --- Detail and actions ---------------------------------------------------------------------------


@login_required
def customer_detail(request: AuthedRequest, customer_id: int) -> HttpResponse:
    user = request.user
    tab = request.GET.get("tab", "profile")
    customer = selectors.customer_get(user=user, customer_id=customer_id)
    hidden = selectors.masked_fields(user, customer)
    editable = selectors.can_edit(user, customer)
    full_access = policy_of(Customer).has_full_access(user, customer)
    contacts = list(customer.contacts.all())
    contact_display.show_all_on_page(user, [(customer, contacts)])
    context = {
        "customer": customer,
        "hidden": hidden,
        "editable": editable,
        "is_admin": is_admin(user),
        "is_manager": _is_manager(user),
        "full_access": full_access,
        "may_reveal": not full_access and contact_display.may_reveal(user),
        "completeness": customer.completeness,
        "custom_values": custom_fields.shown_rows(
            "customer", user, customer.custom, masked=not full_access
        ),
        "contacts": contacts,
        "tags": customer.tags.all(),
        "status_history": selectors.status_history(customer=customer),
        "attachments": selectors.attachment_list(customer=customer),
        "shares": selectors.customer_shares(customer=customer),
        "to_verify_labels": [
            field_label(name)
            for name in customer.to_verify
            if name in {f.name for f in Customer._meta.fields}
        ],
        "contact_form": ContactForm(
            custom_specs=custom_fields.editable_fields("contact", user) if editable else ()
        ),
        **_contact_columns(user, contacts, masked=not full_access),
        "status_form": StatusForm(initial={"status": customer.status}),
        "verify_form": VerifyForm(),
        "grade_form": GradeForm(initial={"grade": customer.grade_override}),
        "attachment_form": AttachmentForm(),
        "merge_form": MergeForm(),
        "reassign_form": ReassignForm(owners=selectors.assignable_owners(user=user))
        if _is_manager(user)
        else None,
        "share_form": ShareForm(users=selectors.share_candidates(customer=customer))
        if full_access
        else None,
        "tab": tab,
        "sections": sections.shown_to(user),
    }
    if tab in LAZY_TABS:  # a link straight to the tab: shown with the page
        context[tab] = LAZY_TABS[tab](user, customer)
    return render(request, "customers/detail.html", context)


# The tabs whose rows the page loads only when they are first shown (``_lazy_tab.html``): the
# timeline's providers and the change history were a third of the page's CPU.
LAZY_TABS: dict[str, Callable[[User, Customer], list[Any]]] = {
    "timeline": lambda user, customer: timeline.items_for(customer, user),
    "history": lambda user, customer: selectors.customer_history(user=user, customer=customer),
}


@login_required
def customer_tab(request: AuthedRequest, customer_id: int, tab: str) -> HttpResponse:
    section = sections.get(tab)
    if tab not in LAZY_TABS and section is None:
        raise Http404(tab)
    user = request.user
    customer = selectors.customer_get(
        user=user, customer_id=customer_id, related=selectors.OWNER_RELATED
    )
    if section is not None and tab not in LAZY_TABS:  # another app's section of the page
        extra = section.context(customer, user) if section.shown(user) else None
        if extra is None:
            return HttpResponse("")
        return render(request, section.template, {"customer": customer, **extra})
    context = {"customer": customer, tab: LAZY_TABS[tab](user, customer)}
    return render(request, f"customers/_{tab}.html", context)


def _back(customer_id: int, tab: str = "profile") -> HttpResponse:
    return redirect(reverse("customers:detail", args=[customer_id]) + f"?tab={tab}")


def _run(request: AuthedRequest, action: Any, success: str) -> None:
    try:
        action()
    except KehuError as error:
        messages.error(request, error_message(error))
    else:
        messages.success(request, success)


@login_required
@require_POST
def change_status(request: AuthedRequest, customer_id: int) -> HttpResponse:
    user = request.user
    customer = selectors.customer_get_editable(user=user, customer_id=customer_id)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a valid status."))
        return _back(customer_id)
    _run(
        request,
        lambda: services.customer_change_status(
            actor=user,
            customer=customer,
            status=form.cleaned_data["status"],
            reason=form.cleaned_data["reason"],
        ),
        _("Status changed."),
    )
    return _back(customer_id, "status")


@login_required
@require_POST
def verify(request: AuthedRequest, customer_id: int) -> HttpResponse:
    user = request.user
    customer = selectors.customer_get_editable(user=user, customer_id=customer_id)
    form = VerifyForm(request.POST)
    if form.is_valid():
        _run(
            request,
            lambda: services.customer_mark_verified(
                actor=user, customer=customer, via=form.cleaned_data["via"]
            ),
            _("Marked as verified."),
        )
    return _back(customer_id)


@login_required
@require_POST
def reassign(request: AuthedRequest, customer_id: int) -> HttpResponse:
    user = request.user
    customer = selectors.customer_get_editable(user=user, customer_id=customer_id)
    form = ReassignForm(request.POST, owners=selectors.assignable_owners(user=user))
    if not form.is_valid():
        messages.error(request, _("Choose the new owner and give a reason."))
        return _back(customer_id)
    _run(
        request,
        lambda: services.customer_reassign(
            actor=user,
            customer=customer,
            owner=form.cleaned_data["owner"],
            reason=form.cleaned_data["reason"],
        ),
        _("Customer reassigned."),
    )
    if not Customer.objects.visible_to(user).filter(pk=customer_id).exists():
        return redirect("customers:list")
    return _back(customer_id)


@login_required
@require_POST
def share(request: AuthedRequest, customer_id: int) -> HttpResponse:
    user = request.user
    customer = selectors.customer_get_editable(user=user, customer_id=customer_id)
    if request.POST.get("revoke"):
        target = User.objects.filter(pk=id_or_404(request.POST["revoke"])).first()
        if target is not None:
            _run(
                request,
                lambda: services.customer_unshare(actor=user, customer=customer, user=target),
                _("Sharing removed."),
            )
        return _back(customer_id)
    form = ShareForm(request.POST, users=selectors.share_candidates(customer=customer))
    if not form.is_valid():
        messages.error(request, _("Choose a colleague."))
        return _back(customer_id)
    _run(
        request,
        lambda: services.customer_share(
            actor=user,
            customer=customer,
            user=form.cleaned_data["user"],
            can_edit=form.cleaned_data["can_edit"],
        ),
        _("Customer shared."),
    )
    return _back(customer_id)


@login_required
@require_POST
def set_grade(request: AuthedRequest, customer_id: int) -> HttpResponse:
    user = request.user
    customer = selectors.customer_get_editable(user=user, customer_id=customer_id)
    form = GradeForm(request.POST)
    if form.is_valid():
        _run(
            request,
            lambda: services.customer_set_grade(
                actor=user,
                customer=customer,
                grade=form.cleaned_data["grade"],
                reason=form.cleaned_data["reason"],
            ),
            _("Grade saved."),
        )
    return _back(customer_id)


@login_required
@require_POST
def merge(request: AuthedRequest, customer_id: int) -> HttpResponse:
    user = request.user
    survivor = selectors.customer_get_editable(user=user, customer_id=customer_id)
    form = MergeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the number of the customer to merge."))
        return _back(customer_id)
    merged = (
        Customer.objects.visible_to(user)
        .filter(number=form.cleaned_data["merged_number"].strip())
        .first()
    )
    if merged is None:
        messages.error(request, _("No customer you can see has this number."))
        return _back(customer_id)
    _run(
        request,
        lambda: services.customer_merge(
            actor=user, survivor=survivor, merged=merged, reason=form.cleaned_data["reason"]
        ),
        _("Customers merged."),
    )
    return _back(customer_id)


@login_required
@require_POST
def delete(request: AuthedRequest, customer_id: int) -> HttpResponse:
    user = request.user
    customer = selectors.customer_get_editable(user=user, customer_id=customer_id)
    try:
        services.customer_delete(actor=user, customer=customer)
    except KehuError as error:
        messages.error(request, error_message(error))
        return _back(customer_id)
    messages.success(request, _("Customer deleted."))
    return redirect("customers:list")


# --- Contacts -------------------------------------------------------------------------------------


@login_required
@require_POST
def contact_add(request: AuthedRequest, customer_id: int) -> HttpResponse:
    user = request.user
    customer = selectors.customer_get_editable(user=user, customer_id=customer_id)
    form = ContactForm(request.POST, custom_specs=custom_fields.editable_fields("contact", user))
    if not form.is_valid():
        messages.error(request, form.problems())
        return _back(customer_id, "contacts")
    try:
        services.contact_create(
            actor=user,
            customer=customer,
            data=form.service_data(),
            force=request.POST.get("force") == "on",
        )
    except KehuError as error:
        if any(name.startswith("custom.") for name in error.errors):
            form_errors(form, error)  # named by the fields' labels
            messages.error(request, form.problems())
        else:
            messages.error(request, error_message(error))
    else:
        messages.success(request, _("Contact added."))
    return _back(customer_id, "contacts")


@login_required
def contact_edit(request: AuthedRequest, contact_id: int) -> HttpResponse:
    user = request.user
    contact = selectors.contact_get(user=user, contact_id=contact_id)
    selectors.require_editable(user, contact.customer)
    # Masked values are left out of the form: a sharee who may edit must not read them there.
    hidden = masking.CONTACT_FIELDS if selectors.contacts_masked(user, contact.customer) else ()
    custom_specs = custom_fields.editable_fields(
        "contact", user, masked=custom_fields.masked_for(user, contact.customer)
    )
    status = 200
    if request.method == "POST":
        form = ContactForm(
            request.POST, instance=contact, hidden_fields=hidden, custom_specs=custom_specs
        )
        version = _posted_version(request)
        if form.is_valid() and version is None:
            # without the version the page was read at, the check of concurrent edits
            # would be skipped: refuse rather than overwrite someone else's change
            form.add_error(None, _("The form lacks the contact's version; reload the page."))
            status = 409
        elif form.is_valid():
            try:
                services.contact_update(
                    actor=user, contact=contact, changes=form.service_data(), version=version
                )
            except KehuError as error:
                contact.refresh_from_db()
                form_errors(form, error)
            else:
                messages.success(request, _("Contact saved."))
                return _back(contact.customer_id, "contacts")
    else:
        form = ContactForm(instance=contact, hidden_fields=hidden, custom_specs=custom_specs)
    return render(
        request,
        "customers/contact_form.html",
        {"form": form, "contact": contact, "masked": bool(hidden)},
        status=status,
    )


def _posted_version(request: AuthedRequest) -> int | None:
    """The record version a form was read at; None when missing or not a number."""
    return whole_number(request.POST.get("version"))


@login_required
@require_POST
def contact_deactivate(request: AuthedRequest, contact_id: int) -> HttpResponse:
    user = request.user
    contact = selectors.contact_get(user=user, contact_id=contact_id)
    selectors.require_editable(user, contact.customer)
    _run(
        request,
        lambda: services.contact_deactivate(
            actor=user, contact=contact, reason=request.POST.get("reason", "")[:100]
        ),
        _("Contact marked as left; it stays in the history."),
    )
    return _back(contact.customer_id, "contacts")


# --- Attachments ----------------------------------------------------------------------------------


@login_required
@require_POST
def attachment_upload(request: AuthedRequest, customer_id: int) -> HttpResponse:
    user = request.user
    customer = selectors.customer_get_editable(user=user, customer_id=customer_id)
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a file to upload."))
        return _back(customer_id, "attachments")
    _run(
        request,
        lambda: services.attachment_add(
            actor=user,
            customer=customer,
            upload=form.cleaned_data["file"],
            description=form.cleaned_data["description"],
        ),
        _("File attached."),
    )
    return _back(customer_id, "attachments")


@login_required
@require_GET
def attachment_download(request: AuthedRequest, attachment_id: int) -> FileResponse:
    attachment = selectors.attachment_get(user=request.user, attachment_id=attachment_id)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404(_("The file is missing from storage.")) from missing
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def attachment_delete(request: AuthedRequest, attachment_id: int) -> HttpResponse:
    user = request.user
    attachment = selectors.attachment_get(user=user, attachment_id=attachment_id)
    selectors.require_editable(user, attachment.customer)
    _run(
        request,
        lambda: services.attachment_delete(actor=user, attachment=attachment),
        _("Attachment deleted."),
    )
    return _back(attachment.customer_id, "attachments")
