"""Satisfaction surveys (反馈闭环): sent when a ticket is resolved, answered once by a link.

The link carries ``django.core.signing`` of (survey id, nonce) with its own salt; the survey
row holds the nonce and the expiry, so a link is refused when it is forged (bad signature or
a nonce that is not the row's), expired, or already used, and nothing is written then.
The mail has one link per score 1–5: each opens the page with that score pre-selected (a GET
never records anything, so mail scanners that open links cannot answer for the customer).
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core import config, links
from kehu.core.errors import Conflict, InvalidInput, KehuError
from kehu.service.models import Survey, Ticket, TicketEvent, TicketEventKind

log = logging.getLogger(__name__)

SURVEY_VALID_DAYS = config.define(
    "service.survey_valid_days",
    14,
    gettext_lazy("Days a satisfaction survey link stays valid after the ticket is resolved"),
    unit=config.DAYS,
    minimum=1,
    maximum=365,
    help=gettext_lazy(
        "After a ticket is resolved, the customer can answer the satisfaction survey for this long."
    ),
)
SURVEY_BASE_URL = config.define(
    "service.survey_base_url",
    "",
    gettext_lazy(
        "Address of Kehu as customers reach it, for the links in satisfaction survey e-mails "
        "(e.g. https://crm.example.cn)"
    ),
    group="service",
    check=config.http_url_or_empty,
    help=gettext_lazy(
        "Leave empty to use Kehu's address (KEHU_BASE_URL or the system setting "
        "system.base_url); set it when customers reach Kehu at another address."
    ),
)
TOKEN_SALT = "kehu.service.survey"
SCORES = (1, 2, 3, 4, 5)
COMMENT_MAX = 2000


class SurveyLinkInvalid(KehuError):
    """A token that was not issued by us (bad signature) or names no such survey."""

    status = 400
    code = "survey_invalid"
    default_detail = gettext_lazy("This survey link is not valid.")


class SurveyExpired(KehuError):
    status = 410
    code = "survey_expired"
    default_detail = gettext_lazy("This survey link has expired.")


class SurveyUsed(Conflict):
    code = "survey_used"
    default_detail = gettext_lazy("This survey has already been answered. Thank you!")


# --- The link --------------------------------------------------------------------------------


def survey_token(survey: Survey) -> str:
    return signing.dumps([survey.pk, survey.nonce], salt=TOKEN_SALT, compress=False)


def survey_path(survey: Survey) -> str:
    return reverse("service:survey", args=[survey_token(survey)])


def survey_url(survey: Survey, score: int | None = None) -> str:
    base = str(config.get("service.survey_base_url") or "").strip().rstrip("/")
    url = base + survey_path(survey) if base else links.absolute(survey_path(survey))
    return f"{url}?score={score}" if score is not None else url


def survey_recipient(ticket: Ticket) -> str:
    """The requester's address, else the contact's."""
    if ticket.requester_email:
        return ticket.requester_email
    contact = ticket.contact
    return contact.email if contact is not None and contact.email else ""


# --- Sending ---------------------------------------------------------------------------------


def survey_send(ticket: Ticket) -> Survey | None:
    """Create a survey for a resolved ticket and e-mail its link; None when there is no address.

    Registered with ``on_ticket_resolved`` (runs on commit). A ticket resolved again after a
    reopen gets a new survey; the earlier unanswered links of the ticket stop working.
    """
    if ticket.merged_into_id is not None:
        return None
    recipient = survey_recipient(ticket)
    if not recipient:
        return None
    now = timezone.now()
    days = max(int(config.get("service.survey_valid_days") or 14), 1)
    with transaction.atomic():
        Survey.objects.filter(ticket=ticket, answered_at__isnull=True, expires_at__gt=now).update(
            expires_at=now
        )
        survey = Survey.objects.create(
            ticket=ticket,
            customer_id=ticket.customer_id,
            nonce=secrets.token_hex(16),
            sent_to=recipient,
            sent_at=now,
            expires_at=now + timedelta(days=days),
        )
    try:
        _send_mail(survey, ticket)
    except Exception:  # smtplib, socket and SSL errors alike: the survey stays, unsent
        log.exception("survey %s: the e-mail to %s failed", survey.pk, recipient)
    return survey


def send_on_resolution(ticket: Ticket) -> None:
    """The ``on_ticket_resolved`` listener: ``survey_send`` without its answer. A resolution
    recorded for an earlier day (an imported ticket's history, ``ticket_set_status(at=…)``)
    gets no survey once its answering time is over: resolved longer ago than the survey
    stays valid."""
    days = max(int(config.get("service.survey_valid_days") or 14), 1)
    if ticket.resolved_at is not None and ticket.resolved_at < timezone.now() - timedelta(
        days=days
    ):
        return
    survey_send(ticket)


def _send_mail(survey: Survey, ticket: Ticket) -> None:
    with translation.override(settings.LANGUAGE_CODE):
        context: dict[str, Any] = {
            "ticket": ticket,
            "survey": survey,
            "url": survey_url(survey),
            "scores": [(score, survey_url(survey, score)) for score in SCORES],
            "valid_days": (survey.expires_at - survey.sent_at).days,
        }
        subject = _("[%(number)s] How did we do? %(subject)s") % {
            "number": ticket.number,
            "subject": ticket.subject,
        }
        text = render_to_string("service/surveys/email.txt", context)
        html = render_to_string("service/surveys/email.html", context)
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[survey.sent_to]
    )
    message.attach_alternative(html, "text/html")
    message.send()


# --- Answering -------------------------------------------------------------------------------


def survey_from_token(token: str) -> Survey:
    """The survey a link names, still open for an answer; raises the refusal otherwise."""
    try:
        value = signing.loads(token, salt=TOKEN_SALT)
    except signing.BadSignature as error:
        raise SurveyLinkInvalid() from error
    if not (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int)
        and isinstance(value[1], str)
    ):
        raise SurveyLinkInvalid()
    survey = Survey.objects.select_related("ticket").filter(pk=value[0]).first()
    if survey is None or not constant_time_compare(survey.nonce, value[1]):
        raise SurveyLinkInvalid()
    _check_open(survey)
    return survey


def _check_open(survey: Survey) -> None:
    if survey.answered_at is not None:
        raise SurveyUsed()
    if survey.expires_at <= timezone.now():
        raise SurveyExpired()


def clean_answer(score: Any, comment: Any) -> tuple[int, str]:
    errors: dict[str, list[str]] = {}
    number: int | None = None
    try:
        number = int(score) if not isinstance(score, bool) else None
    except (TypeError, ValueError):
        number = None
    if number not in SCORES:
        errors["score"] = [_("Choose a score from 1 to 5.")]
    text = comment if isinstance(comment, str) else ""
    if comment is not None and not isinstance(comment, str):
        errors["comment"] = [_("The comment must be text.")]
    text = text.strip()
    if len(text) > COMMENT_MAX:
        errors["comment"] = [
            _("Keep the comment within %(max)d characters.") % {"max": COMMENT_MAX}
        ]
    if errors or number is None:
        raise InvalidInput(errors=errors)
    return number, text


def survey_answer(*, token: str, score: Any, comment: Any = "") -> Survey:
    """Record the customer's answer: on the survey, on the ticket (satisfaction, SURVEYED event)
    and so on the customer (``selectors.surveys.customer_satisfaction``).

    Forged, expired or used links and bad scores are refused and nothing is written.
    """
    survey = survey_from_token(token)
    number, text = clean_answer(score, comment)
    now = timezone.now()
    with transaction.atomic():
        locked = Survey.objects.select_for_update().get(pk=survey.pk)
        _check_open(locked)  # a second answer racing the first loses here
        locked.score = number
        locked.comment = text
        locked.answered_at = now
        locked.save(update_fields=["score", "comment", "answered_at"])
        ticket = Ticket.objects.select_for_update().get(pk=locked.ticket_id)
        ticket.satisfaction = number
        ticket.save(update_fields=["satisfaction", "updated_at"])
        TicketEvent.objects.create(
            ticket=ticket,
            kind=TicketEventKind.SURVEYED,
            data={"score": number, "survey": locked.pk, "comment": text[:200]},
            at=now,
        )
    return locked
