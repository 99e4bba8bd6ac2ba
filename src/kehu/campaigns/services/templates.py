"""Message templates (邮件/短信/企业微信模板): create, change, delete.

Marketing, managers and admins write templates (reps do not send campaigns); the model's
policy scopes them (marketing every template, a manager their departments'). Merge fields are
checked on save: an unknown one is a 422 naming it.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kehu.campaigns.models import Channel, MessageTemplate, Send
from kehu.campaigns.services import merge
from kehu.core import audit
from kehu.core.access import lock_editable
from kehu.core.errors import Conflict, Forbidden, InvalidInput
from kehu.core.services import bump_version, check_version

WRITER_ROLES = frozenset({"marketing", "manager", "admin"})
FIELDS = ("name", "channel", "subject", "body", "provider_template")
LIMITS = {"name": 100, "subject": 200, "body": 20000, "provider_template": 64}


def template_may_write(user: Any) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in WRITER_ROLES))


def _clean(data: dict[str, Any], current: MessageTemplate | None = None) -> dict[str, Any]:
    values = {key: (data[key] if key in data else getattr(current, key, "")) for key in FIELDS}
    errors: dict[str, list[str]] = {}
    for key in FIELDS:
        values[key] = ("" if values[key] is None else str(values[key])).strip()
    for key, limit in LIMITS.items():
        if len(values[key]) > limit:
            errors.setdefault(key, []).append(_("At most %(limit)d characters.") % {"limit": limit})
    if not values["name"]:
        errors.setdefault("name", []).append(_("Give the template a name."))
    if not values["body"]:
        errors.setdefault("body", []).append(_("Write the message text."))
    if values["channel"] not in Channel.values:
        errors.setdefault("channel", []).append(_("Choose e-mail, SMS or WeCom."))
    if values["channel"] == Channel.EMAIL and not values["subject"]:
        errors.setdefault("subject", []).append(_("An e-mail needs a subject."))
    for key in ("subject", "body"):
        found = merge.problems(values[key])
        if found:
            errors.setdefault(key, []).extend(found)
    if errors:
        raise InvalidInput(next(iter(errors.values()))[0], errors=errors)
    return values


def _require_writer(actor: Any) -> None:
    if not template_may_write(actor):
        raise Forbidden(_("Only marketing, managers and administrators write templates."))


@transaction.atomic
def template_create(*, actor: Any, data: dict[str, Any]) -> MessageTemplate:
    _require_writer(actor)
    values = _clean(data)
    return MessageTemplate.objects.create(
        **values, owner=actor, department_id=getattr(actor, "department_id", None)
    )


@transaction.atomic
def template_update(
    *, actor: Any, template_id: int, data: dict[str, Any], version: int | None = None
) -> MessageTemplate:
    template = lock_editable(MessageTemplate.objects.all(), actor, pk=template_id)
    _require_writer(actor)
    if version is not None:
        check_version(template, version)
    values = _clean(data, template)
    for key, value in values.items():
        setattr(template, key, value)
    bump_version(template)
    template.save()
    return template


@audit.audited(
    "campaigns.messagetemplate_deleted", target="template_id", model="campaigns.messagetemplate"
)
@transaction.atomic
def template_delete(*, actor: Any, template_id: int) -> None:
    template = lock_editable(MessageTemplate.objects.all(), actor, pk=template_id)
    _require_writer(actor)
    if Send.objects.filter(template=template).exists():
        raise Conflict(_("This template was sent; it stays for the record of its sends."))
    template.delete()
