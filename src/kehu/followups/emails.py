"""The first-talk e-mail (首次沟通后24小时内发送个性化邮件) and its templates.

Within 24 hours of the first talk the rep sends the customer's contact a personalised e-mail
that sums up the need and proposes the next meeting. From a follow-up the rep picks a template
(managers and administrators keep them), the contact and the merge values, previews the result
and sends it through the configured SMTP server (``KEHU_EMAIL_URL``); the message is kept as a
``SentEmail`` on the customer's timeline. A template or text naming an unknown merge field is
refused before anything is sent (422 naming the field and the unknown names).

``first_email_reminders`` (a periodic rule of ``reminders``) gives the owner a task when the
customer's first contact is 24 hours old (``followups.first_email_within_hours``) and no e-mail
went out since; sending one completes that task.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import Role, User
from kehu.core import config
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, InvalidInput, KehuError, NotFound
from kehu.core.history import stamp
from kehu.customers.models import Contact, Customer
from kehu.followups.access import conversation_withheld
from kehu.followups.models import (
    EmailTemplate,
    FollowUp,
    SentEmail,
    Task,
    TaskKind,
    TaskPriority,
    TaskStatus,
)
from kehu.followups.services import reminder_once, task_create

FIRST_EMAIL_WITHIN_HOURS = config.define(
    "followups.first_email_within_hours",
    24,
    gettext_lazy("First-talk e-mail within"),
    group="followups",
    unit=gettext_lazy("hours"),
    minimum=1,
    maximum=240,
    help=gettext_lazy(
        "After a customer's first contact, the owner gets a task when no e-mail went out "
        "to the customer within these hours (handbook: 24 hours)."
    ),
)
FIRST_EMAIL_LOOKBACK_DAYS = 7  # first contacts older than this get no late reminder

MERGE_FIELDS: dict[str, Any] = {
    "salutation": gettext_lazy("How the contact is addressed (王先生, 李女士, 张经理)"),
    "contact_name": gettext_lazy("The contact's full name"),
    "customer_name": gettext_lazy("The customer's name"),
    "need_summary": gettext_lazy("The need as understood in the talk"),
    "next_meeting": gettext_lazy("The next meeting proposed"),
    "owner_name": gettext_lazy("Your name"),
    "owner_phone": gettext_lazy("Your phone"),
    "owner_email": gettext_lazy("Your e-mail"),
}
ROLE_WORDS = ("经理", "总监", "主任", "主管", "总经理", "董事长", "工程师", "总")


class MailNotSent(KehuError):
    """The mail server refused the message or could not be reached (nothing was recorded)."""

    status = 502
    code = "mail_not_sent"


# --- merge fields ----------------------------------------------------------------------------


def merge_problems(text: str) -> list[str]:
    """What is wrong with ``text``'s merge fields, in words (empty: fine)."""
    try:
        names = [name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name]
    except ValueError:
        return [_("A brace is not closed; write {{ and }} for a brace itself.")]
    unknown = sorted({name for name in names if name not in MERGE_FIELDS})
    if unknown:
        return [
            _("Unknown merge field: %(names)s. Known: %(known)s.")
            % {
                "names": ", ".join(f"{{{name}}}" for name in unknown),
                "known": ", ".join(f"{{{name}}}" for name in MERGE_FIELDS),
            }
        ]
    if any(spec or conv for _lit, name, spec, conv in string.Formatter().parse(text) if name):
        return [_("Merge fields take no format, e.g. {salutation}.")]
    return []


def _check_texts(subject: str, body: str) -> None:
    errors: dict[str, list[str]] = {}
    for field, text in (("subject", subject), ("body", body)):
        problems = merge_problems(text)
        if problems:
            errors[field] = problems
    if errors:
        raise InvalidInput(_("Fix the merge fields before sending."), errors=errors)


def render(text: str, values: dict[str, str]) -> str:
    return text.format_map({name: values.get(name, "") for name in MERGE_FIELDS})


def salutation_for(contact: Contact | None) -> str:
    """王经理 from 王伟 + 采购经理; the full name when the title names no role."""
    if contact is None:
        return ""
    name = contact.name.strip()
    title = (contact.title or "").strip()
    surname = name[:1] if name and "\u4e00" <= name[0] <= "\u9fff" else ""
    for word in ROLE_WORDS:
        if surname and title.endswith(word):
            return surname + word
    return name


def initial_values(followup: FollowUp, contact: Contact | None, actor: User) -> dict[str, str]:
    """The merge values the form starts from: the contact, the customer's need, the next step
    of the follow-up and the sender's name and phone."""
    next_meeting = ""
    if followup.next_step_on:
        next_meeting = f"{followup.next_step_on:%Y-%m-%d}"
        if followup.next_step_action:
            next_meeting += " " + followup.next_step_action
    customer = followup.customer
    return {
        "salutation": salutation_for(contact),
        "contact_name": contact.name if contact else "",
        "customer_name": customer.name,
        "need_summary": (customer.initial_need or "").strip()[:1000],
        "next_meeting": next_meeting,
        "owner_name": actor.display_name or actor.get_full_name() or actor.username,
        "owner_phone": actor.mobile,
        "owner_email": actor.email,
    }


# --- templates -------------------------------------------------------------------------------


def template_may_manage(user: User) -> bool:
    return is_admin(user) or getattr(user, "role", "") == Role.MANAGER


def active_templates() -> list[EmailTemplate]:
    return list(EmailTemplate.objects.filter(is_active=True).order_by("name"))


@transaction.atomic
def email_template_save(
    *, actor: User, template: EmailTemplate | None = None, data: dict[str, Any]
) -> EmailTemplate:
    """Create or change a template (managers and administrators)."""
    if not template_may_manage(actor):
        raise Forbidden(_("Only managers and administrators edit e-mail templates."))
    item = template or EmailTemplate()
    if template is not None:
        item = EmailTemplate.objects.select_for_update().get(pk=template.pk)
    errors: dict[str, list[str]] = {}
    for field, limit in (("name", 100), ("subject", 200), ("body", 10000)):
        value = str(data.get(field, getattr(item, field)) or "").strip()
        if not value:
            errors[field] = [_("This field is required.")]
        elif len(value) > limit:
            errors[field] = [_("Keep it under %(limit)d characters.") % {"limit": limit}]
        setattr(item, field, value)
    for field in ("subject", "body"):
        if field not in errors:
            problems = merge_problems(getattr(item, field))
            if problems:
                errors[field] = problems
    if "is_active" in data:
        item.is_active = bool(data["is_active"])
    if (
        "name" not in errors
        and EmailTemplate.objects.filter(name=item.name).exclude(pk=item.pk).exists()
    ):
        errors["name"] = [_("Another template has this name.")]
    if errors:
        raise InvalidInput(errors=errors)
    item.updated_by = actor
    stamp(item, actor=actor, reason=_("E-mail template saved"))
    item.save()
    return item


# --- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A first-talk e-mail ready to preview or send."""

    followup: FollowUp
    contact: Contact
    template: EmailTemplate | None
    subject: str
    body: str

    @property
    def to(self) -> str:
        return self.contact.email


def email_may_send(user: User, followup: FollowUp) -> bool:
    """The customer's editors (owner, their managers, admins, an edit share) write to it."""
    if conversation_withheld(user):
        return False
    return Customer.objects.editable_by(user).filter(pk=followup.customer_id).exists()


def compose(
    *,
    actor: User,
    followup: FollowUp,
    contact_id: int | None,
    template_id: int | None,
    subject: str,
    body: str,
    values: dict[str, str],
) -> Draft:
    """Check everything and merge: the contact (of this customer, with an e-mail address),
    the template, the merge fields (unknown ones refused), the lengths."""
    if not email_may_send(actor, followup):
        raise Forbidden(_("Only those who may edit the customer write to it."))
    errors: dict[str, list[str]] = {}
    contact = (
        Contact.objects.filter(pk=contact_id, customer_id=followup.customer_id, is_active=True)
        .only("pk", "name", "title", "email", "customer_id")
        .first()
        if contact_id
        else None
    )
    if contact is None:
        errors["contact"] = [_("Choose a contact of this customer.")]
    elif not contact.email:
        errors["contact"] = [_("This contact has no e-mail address; add one first.")]
    template = None
    if template_id:
        template = EmailTemplate.objects.filter(pk=template_id, is_active=True).first()
        if template is None:
            errors["template"] = [_("Choose one of the active templates.")]
    subject = (subject or (template.subject if template else "")).strip()
    body = (body or (template.body if template else "")).strip()
    if not subject:
        errors["subject"] = [_("Write a subject.")]
    if not body:
        errors["body"] = [_("Write the message.")]
    for name, value in values.items():
        if name in MERGE_FIELDS and len(value) > 1000:
            errors[name] = [_("Keep it under %(limit)d characters.") % {"limit": 1000}]
    if errors:
        raise InvalidInput(errors=errors)
    _check_texts(subject, body)
    assert contact is not None
    merged = {name: str(values.get(name, "")).strip() for name in MERGE_FIELDS}
    rendered_subject = " ".join(render(subject, merged).split())[:300]
    rendered_body = render(body, merged)[:20000]
    try:
        validate_email(contact.email)
    except Exception as error:  # a stored address that no longer validates
        raise InvalidInput(errors={"contact": [_("The contact's e-mail is not valid.")]}) from error
    return Draft(followup, contact, template, rendered_subject, rendered_body)


def first_talk_send(*, actor: User, draft: Draft) -> SentEmail:
    """Send ``draft`` through the configured SMTP server, then record it (and complete the
    first-talk reminder of the customer). Nothing is recorded when the server refuses."""
    reply_to = [actor.email] if actor.email else []
    message = EmailMessage(
        subject=draft.subject,
        body=draft.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[draft.to],
        reply_to=reply_to,
    )
    try:
        sent = message.send()
    except Exception as error:  # smtplib, socket and SSL errors alike
        raise MailNotSent(
            _("The mail server did not take the message: %(error)s")
            % {"error": f"{type(error).__name__}: {error}"[:200]}
        ) from error
    if sent != 1:
        raise MailNotSent(_("The mail server did not take the message."))
    return _record(actor=actor, draft=draft)


@transaction.atomic
def _record(*, actor: User, draft: Draft) -> SentEmail:
    row = SentEmail.objects.create(
        followup=draft.followup,
        customer_id=draft.followup.customer_id,
        contact=draft.contact,
        template=draft.template,
        to_address=draft.to,
        subject=draft.subject,
        body=draft.body,
        sent_by=actor,
    )
    now = timezone.now()
    for task in Task.objects.select_for_update().filter(
        customer_id=draft.followup.customer_id, kind=TaskKind.FIRST_EMAIL, status=TaskStatus.OPEN
    ):
        task.status = TaskStatus.DONE
        task.completed_at = now
        task.version += 1
        stamp(task, actor=actor, reason=_("First-talk e-mail sent"))
        task.save()
    return row


def sent_email_get(*, user: User, email_id: int) -> SentEmail:
    row = (
        SentEmail.objects.visible_to(user)
        .select_related("customer", "contact", "sent_by", "followup")
        .filter(pk=email_id)
        .first()
    )
    if row is None or conversation_withheld(user):
        raise NotFound()
    return row


# --- the reminder ----------------------------------------------------------------------------


def first_email_reminders(*, now: datetime | None = None) -> int:
    """A task for the owner of each customer whose first contact is older than the setting's
    hours (and at most a week) with no e-mail sent since; once per customer."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=int(config.get(FIRST_EMAIL_WITHIN_HOURS.key)))
    since = cutoff - timedelta(days=FIRST_EMAIL_LOOKBACK_DAYS)
    sent = SentEmail.objects.filter(
        customer_id=OuterRef("pk"), sent_at__gte=OuterRef("first_contact_at")
    )
    created = 0
    customers = (
        Customer.objects.filter(
            owner__isnull=False,
            owner__is_active=True,
            first_contact_at__lte=cutoff,
            first_contact_at__gte=since,
        )
        .filter(~Exists(sent))
        .select_related("owner")[:5000]
    )
    for customer in customers:
        assert customer.owner is not None
        if not reminder_once(f"first_email:{customer.pk}"):
            continue
        first = FollowUp.objects.filter(customer=customer).order_by("occurred_at", "id").first()
        task_create(
            actor=None,
            assignee=customer.owner,
            title=_("Send %(customer)s the first-talk e-mail") % {"customer": customer.name[:150]},
            description=_(
                "The first talk was more than %(hours)d hours ago and no e-mail went out: "
                "sum up the need and propose the next meeting (首次沟通后24小时内发送个性化邮件)."
            )
            % {"hours": int(config.get(FIRST_EMAIL_WITHIN_HOURS.key))},
            due_at=now + timedelta(hours=2),
            customer=customer,
            kind=TaskKind.FIRST_EMAIL,
            priority=TaskPriority.HIGH,
            dedupe_key=f"first_email:{customer.pk}",
            followup=first,
        )
        created += 1
    return created
