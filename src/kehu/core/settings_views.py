"""Pages of the settings area (后台配置): the chapters, one setting's editor, the history."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core import settings_area
from kehu.core.errors import InvalidInput, KehuError
from kehu.core.http import HtmxRequest, form_errors, raise_refusal
from kehu.core.numbers import whole_number
from kehu.core.pagination import page_of
from kehu.core.settings_forms import ReasonForm, SettingForm

HISTORY_PAGE = 50
KEY_HISTORY = 20


def _refused(error: KehuError) -> None:
    raise_refusal(error)  # NotFound is the 404 page, a Forbidden the 403 page


@login_required
def index(request: HtmxRequest) -> HttpResponse:
    try:
        groups = settings_area.setting_groups(user=request.user)
    except KehuError as error:
        _refused(error)
        raise
    return render(request, "core/settings/index.html", {"groups": groups})


@login_required
def edit(request: HtmxRequest, key: str) -> HttpResponse:
    try:
        row = settings_area.setting_get(user=request.user, key=key)
    except KehuError as error:
        _refused(error)
        raise
    form = SettingForm(row.spec, row.value, request.POST or None)
    if request.method == "POST" and form.is_valid():
        value = form.value()
        if not form.errors:
            try:
                settings_area.setting_update(
                    actor=request.user,
                    key=key,
                    value=value,
                    reason=form.cleaned_data["reason"],
                )
            except InvalidInput as error:
                form.show_errors(error.errors.pop(key, []))
                form_errors(form, error)
            else:
                messages.success(request, _("“%(label)s” was saved.") % {"label": row.spec.label})
                return redirect("settings:edit", key=key)
    history = settings_area.setting_history(user=request.user, key=key)[:KEY_HISTORY]
    context = {
        "row": row,
        "form": form,
        "reset_form": ReasonForm(auto_id="reset_%s"),
        "history": settings_area.change_rows(history),
    }
    return render(request, "core/settings/edit.html", context, status=422 if form.errors else 200)


@login_required
@require_POST
def reset(request: HtmxRequest, key: str) -> HttpResponse:
    try:
        row = settings_area.setting_get(user=request.user, key=key)
    except KehuError as error:
        _refused(error)
        raise
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the setting goes back to its default."))
        return redirect("settings:edit", key=key)
    settings_area.setting_reset(actor=request.user, key=key, reason=form.cleaned_data["reason"])
    messages.success(request, _("“%(label)s” is back to its default.") % {"label": row.spec.label})
    return redirect("settings:edit", key=key)


@login_required
def history(request: HtmxRequest) -> HttpResponse:
    try:
        changes = settings_area.setting_history(user=request.user)
    except KehuError as error:
        _refused(error)
        raise
    offset = whole_number(request.GET.get("offset")) or 0
    page = page_of(changes, offset=offset, limit=HISTORY_PAGE)
    context = {
        "page": page,
        "changes": settings_area.change_rows(page["items"]),
        "offset": offset,
        "next_offset": offset + HISTORY_PAGE if len(page["items"]) == HISTORY_PAGE else None,
        "previous_offset": max(offset - HISTORY_PAGE, 0) if offset else None,
    }
    return render(request, "core/settings/history.html", context)
