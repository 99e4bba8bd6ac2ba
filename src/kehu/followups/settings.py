"""The follow-up rules' numbers (SEED_NOTES §1-3), each an admin-editable setting."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kehu.core import config

FUTURE_TOLERANCE_MINUTES = config.define(
    "followups.future_tolerance_minutes",
    10,
    _("How far in the future a follow-up time may lie (minutes)"),
    unit=config.MINUTES,
    minimum=0,
    maximum=1440,
    help=_(
        "A follow-up is a record of what happened: its time may lie at most this far in the "
        "future (clock differences)."
    ),
)
ATTACHMENT_MAX_MB = config.define(
    "followups.attachment_max_mb",
    10,
    _("Largest follow-up attachment (MB)"),
    unit=config.MEGABYTES,
    minimum=1,
    maximum=500,
    help=_(
        "Uploads to a follow-up above this size are refused (e-mail screenshots, visit photos, "
        "brochures)."
    ),
)
ATTACHMENT_EXTENSIONS = config.define(
    "followups.attachment_extensions",
    [
        "jpg",
        "jpeg",
        "png",
        "gif",
        "webp",
        "heic",
        "pdf",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "ppt",
        "pptx",
        "txt",
        "csv",
        "eml",
        "msg",
        "zip",
    ],
    _("Allowed attachment file types"),
    check=config.not_empty,
    help=_(
        "File name endings accepted on follow-ups, one per line, without the dot; the content is "
        "checked as well."
    ),
)
NEXT_STEP_HOUR = config.define(
    "followups.next_step_hour",
    10,
    _("Hour of the day a next-step task is due"),
    unit=config.HOUR_OF_DAY,
    minimum=0,
    maximum=23,
    help=_("A next step given as a date only becomes a task due at this hour."),
)
RECORD_WITHIN_HOURS = config.define(
    "followups.record_within_hours",
    2,
    _("Hours after a contact to write the follow-up record"),
    unit=config.HOURS,
    minimum=1,
    maximum=72,
    help=_(
        "The follow-up record is written within this time after the contact, or a reminder fires "
        "(handbook: 2 hours)."
    ),
)
ESCALATE_AFTER_HOURS = config.define(
    "followups.escalate_after_hours",
    24,
    _("Hours after a task is overdue before the manager is told"),
    unit=config.HOURS,
    minimum=1,
    maximum=720,
    help=_("A task this long overdue is reported to the assignee's manager."),
)
REMIND_AHEAD_HOURS = config.define(
    "followups.remind_ahead_hours",
    24,
    _("Hours before a task is due to remind its assignee"),
    unit=config.HOURS,
    minimum=1,
    maximum=720,
    help=_("The assignee is reminded this long before a task is due."),
)
FIRST_CONTACT_SLA_HOURS = config.define(
    "followups.first_contact_sla_hours",
    {"S": 24, "A": 72, "B": 168},
    _("First-contact deadline per priority (hours)"),
    unit=config.HOURS,
    minimum=1,
    maximum=2160,
    help=_(
        "Deadline of the first-contact task per customer priority (handbook: S 24 h, A 3 days, B "
        "7 days)."
    ),
)
CARE_DAYS_AHEAD = config.define(
    "followups.care_days_ahead",
    3,
    _("Days ahead of a holiday or anniversary to remind"),
    unit=config.DAYS,
    minimum=0,
    maximum=60,
    help=_(
        "Reminders for traditional holidays and customer anniversaries come this many days ahead, "
        "for greetings or gifts."
    ),
)
CARE_YEARS_AHEAD = config.define(
    "followups.care_years_ahead",
    2,
    _("Years of holidays kept in the care calendar"),
    unit=config.YEARS,
    minimum=1,
    maximum=10,
    help=_("How many years of holiday dates the care calendar holds."),
)
MONTHLY_REVIEW_DAY = config.define(
    "followups.monthly_review_day",
    1,
    _("Day of the month owners get their review task"),
    unit=config.DAY_OF_MONTH,
    minimum=1,
    maximum=28,
    help=_(
        "Owners get their monthly customer review task (status, need changes, key contacts) on "
        "this day."
    ),
)
