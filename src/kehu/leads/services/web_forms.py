"""Web-to-lead forms: their management and the public submission."""

from __future__ import annotations

import hmac
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import Role, User
from kehu.core import audit, config
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, KehuError
from kehu.core.history import stamp
from kehu.core.services import validate
from kehu.customers.models import Source
from kehu.leads import conf
from kehu.leads.models import (
    Lead,
    WebForm,
)
from kehu.leads.services.capture import lead_capture


class RateLimited(KehuError):
    status = 429
    code = "rate_limited"
    default_detail = gettext_lazy("Too many submissions from your address; try again later.")


# --- Web forms -------------------------------------------------------------------------------
def web_forms_may_manage(user: User) -> bool:
    """Web forms are managed by admins and marketing."""
    return is_admin(user) or user.role == Role.MARKETING


def _check_form_admin(actor: User) -> None:
    if not web_forms_may_manage(actor):
        raise Forbidden(_("Only admins and marketing manage web forms."))


@audit.audited("leads.web_form_created")
@transaction.atomic
def web_form_create(*, actor: User, data: dict[str, Any]) -> WebForm:
    _check_form_admin(actor)
    form = WebForm(
        name=str(data.get("name", "")).strip(),
        source=str(data.get("source", "") or Source.WEBSITE),
        source_detail=str(data.get("source_detail", "")).strip(),
        campaign=str(data.get("campaign", "")).strip(),
        redirect_url=str(data.get("redirect_url", "")).strip(),
        created_by=actor,
    )

    validate(form, exclude=["key", "secret"])
    stamp(form, actor=actor, reason=_("web form created"))
    form.save()
    return form


@audit.audited("leads.web_form_changed", target="form")
@transaction.atomic
def web_form_update(*, actor: User, form: WebForm, data: dict[str, Any]) -> WebForm:
    _check_form_admin(actor)
    for name in ("name", "source", "source_detail", "campaign", "redirect_url", "is_active"):
        if name in data:
            setattr(form, name, data[name])

    validate(form)
    stamp(form, actor=actor, reason=_("web form changed"))
    form.save()
    return form


@audit.audited("leads.web_form_secret_rotated", target="form")
@transaction.atomic
def web_form_rotate_secret(*, actor: User, form: WebForm) -> WebForm:
    _check_form_admin(actor)
    form.secret = ""
    stamp(form, actor=actor, reason=_("secret replaced"))
    form.save()
    return form


HONEYPOT_FIELD = "website"
WEB_FIELDS = (
    "company_name",
    "contact_name",
    "mobile",
    "email",
    "region",
    "industry",
    "need",
    "urgency",
    "estimated_value",
)


def _rate_limited(form_key: str, ip: str) -> bool:
    """Count this post; True when the address exceeded the form's limit in the window."""
    key = f"kehu:leads:webform:{form_key}:{ip}"
    window = int(config.get(conf.WEBFORM_RATE_WINDOW.key))
    limit = int(config.get(conf.WEBFORM_RATE_LIMIT.key))
    if cache.add(key, 1, timeout=window):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=window)
            count = 1
    return count > limit


def web_form_submit(*, form_key: str, secret: str, data: dict[str, Any], ip: str) -> Lead | None:
    """A public web-to-lead post: rate-limited per form and address, verified by the secret.

    Returns None for a post that filled the honeypot (a bot): it is answered like a success
    but nothing is stored. Unknown fields are kept on the lead (nothing typed is lost).
    """
    if _rate_limited(form_key, ip):
        raise RateLimited()
    form = WebForm.objects.filter(key=form_key, is_active=True).first()
    if form is None or not hmac.compare_digest(form.secret.encode(), str(secret or "").encode()):
        raise Forbidden(_("This form is not accepting submissions."), code="bad_form_secret")
    if str(data.get(HONEYPOT_FIELD) or "").strip():
        return None
    fields = {name: data[name] for name in WEB_FIELDS if name in data}
    ignored = {"secret", HONEYPOT_FIELD, "csrfmiddlewaretoken"}
    extra = {
        name: str(value)[:1000]
        for name, value in data.items()
        if name not in WEB_FIELDS and name not in ignored
    }
    extra["submitted_from"] = ip
    return lead_capture(actor=None, data=fields, form=form, extra=extra)
