"""Public ticket forms (like the lead web forms): their management and the public submission.

The form is hosted by Kehu at /service/forms/<slug>/ (no login; a CSRF token, a honeypot field
and a per-address rate limit keep robots out). A submission becomes a ticket of the WEB_FORM
channel; the customer is found by the e-mail address among the contacts, else the ticket waits
in triage.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from kehu.accounts.models import Department, User
from kehu.core import audit, config
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, InvalidInput
from kehu.core.services import validate
from kehu.leads import conf as lead_conf
from kehu.leads.services.web_forms import RateLimited
from kehu.service.models import (
    Ticket,
    TicketChannel,
    TicketPriority,
    TicketType,
    TicketWebForm,
)
from kehu.service.services import tickets
from kehu.service.services.mail import contact_for_address

HONEYPOT_FIELD = "website"
FORM_FIELDS = ("name", "slug", "department", "default_type", "thank_you", "is_active")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")


def ticket_forms_may_manage(user: User) -> bool:
    """Public ticket forms are set up by admins."""
    return is_admin(user)


def _check_admin(actor: User) -> None:
    if not ticket_forms_may_manage(actor):
        raise Forbidden(_("Only admins manage the public ticket forms."))


def _apply(form: TicketWebForm, data: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    for name in ("name", "slug", "thank_you", "default_type"):
        if name in data and data[name] is not None:
            setattr(form, name, str(data[name]).strip())
    if "is_active" in data and data["is_active"] is not None:
        form.is_active = bool(data["is_active"])
    form.slug = form.slug.lower()
    if form.slug and not SLUG.match(form.slug):
        errors["slug"] = [_("Use lower-case letters, digits and hyphens.")]
    if "department" in data:
        department = data["department"]
        if department in (None, ""):
            form.department = None
        elif isinstance(department, Department):
            form.department = department
        else:
            found = Department.objects.filter(pk=department).first()
            if found is None:
                errors["department"] = [_("No such department.")]
            form.department = found
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)
    validate(form, exclude=["department"])


@audit.audited("service.ticket_form_created")
@transaction.atomic
def ticket_form_create(*, actor: User, data: dict[str, Any]) -> TicketWebForm:
    _check_admin(actor)
    form = TicketWebForm()
    _apply(form, {"name": "", "slug": "", **data})
    form.save()
    return form


@audit.audited("service.ticket_form_changed", target="form")
@transaction.atomic
def ticket_form_update(*, actor: User, form: TicketWebForm, data: dict[str, Any]) -> TicketWebForm:
    _check_admin(actor)
    form = TicketWebForm.objects.select_for_update().get(pk=form.pk)
    _apply(form, data)
    form.save()
    return form


@audit.audited("service.ticketwebform_deleted", target="form")
@transaction.atomic
def ticket_form_delete(*, actor: User, form: TicketWebForm) -> None:
    _check_admin(actor)
    form.delete()


def _rate_limited(slug: str, ip: str) -> bool:
    """Count this post; True when the address exceeded the limit (the lead forms' settings)."""
    key = f"kehu:service:ticketform:{slug}:{ip}"
    window = int(config.get(lead_conf.WEBFORM_RATE_WINDOW.key))
    limit = int(config.get(lead_conf.WEBFORM_RATE_LIMIT.key))
    if cache.add(key, 1, timeout=window):
        return limit < 1
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=window)
        count = 1
    return count > limit


def _text(
    data: dict[str, Any], name: str, errors: dict[str, list[str]], *, required: bool, maximum: int
) -> str:
    value = str(data.get(name) or "").strip()
    if required and not value:
        errors[name] = [_("This field is required.")]
    elif len(value) > maximum:
        errors[name] = [_("At most %(limit)d characters.") % {"limit": maximum}]
    return value


def ticket_form_submit(*, form: TicketWebForm, data: dict[str, Any], ip: str) -> Ticket | None:
    """A public post: a new ticket, or None for a robot that filled the honeypot (answered like
    a success, nothing stored). Bad input raises InvalidInput with per-field errors."""

    if not form.is_active:
        raise Forbidden(_("This form is not accepting submissions."), code="form_inactive")
    if _rate_limited(form.slug, ip):
        raise RateLimited()
    if str(data.get(HONEYPOT_FIELD) or "").strip():
        return None
    errors: dict[str, list[str]] = {}
    name = _text(data, "name", errors, required=True, maximum=100)
    email = _text(data, "email", errors, required=True, maximum=254).lower()
    if email and "email" not in errors:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = [_("Enter a valid e-mail address.")]
    company = _text(data, "company", errors, required=False, maximum=200)
    phone = _text(data, "phone", errors, required=False, maximum=32)
    subject = _text(data, "subject", errors, required=True, maximum=200)
    content = _text(data, "content", errors, required=True, maximum=5000)
    product = _text(data, "product", errors, required=False, maximum=100)
    ticket_type = str(data.get("ticket_type") or form.default_type or TicketType.CONSULTATION)
    if ticket_type not in TicketType.values:
        errors["ticket_type"] = [_("Select a valid choice.")]
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)
    # What the customer typed beside the ticket's fields is kept in its content.
    details = [
        line
        for line in (
            _("Company: %(value)s") % {"value": company} if company else "",
            _("Phone: %(value)s") % {"value": phone} if phone else "",
        )
        if line
    ]
    if details:
        content = content + "\n\n" + "\n".join(details)
    contact = contact_for_address(email)
    return tickets.ticket_create(
        actor=None,
        data={
            "subject": subject,
            "content": content,
            "ticket_type": ticket_type,
            "priority": TicketPriority.MEDIUM,
            "product": product,
        },
        channel=TicketChannel.WEB_FORM,
        customer=contact.customer if contact else None,
        contact=contact,
        requester_name=name,
        requester_email=email,
        department=form.department,
    )
