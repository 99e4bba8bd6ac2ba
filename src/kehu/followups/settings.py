"""The follow-up rules' numbers (SEED_NOTES §1-3), each an admin-editable setting."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kehu.core import config

FUTURE_TOLERANCE_MINUTES = config.define(
    "followups.future_tolerance_minutes",
    10,
    _("How far in the future a follow-up time may lie (minutes)"),
)
ATTACHMENT_MAX_MB = config.define(
    "followups.attachment_max_mb", 10, _("Largest follow-up attachment (MB)")
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
)
NEXT_STEP_HOUR = config.define(
    "followups.next_step_hour", 10, _("Hour of the day a next-step task is due")
)
RECORD_WITHIN_HOURS = config.define(
    "followups.record_within_hours", 2, _("Hours after a contact to write the follow-up record")
)
ESCALATE_AFTER_HOURS = config.define(
    "followups.escalate_after_hours",
    24,
    _("Hours after a task is overdue before the manager is told"),
)
REMIND_AHEAD_HOURS = config.define(
    "followups.remind_ahead_hours", 24, _("Hours before a task is due to remind its assignee")
)
FIRST_CONTACT_SLA_HOURS = config.define(
    "followups.first_contact_sla_hours",
    {"S": 24, "A": 72, "B": 168},
    _("First-contact deadline per priority (hours)"),
)
CARE_DAYS_AHEAD = config.define(
    "followups.care_days_ahead", 3, _("Days ahead of a holiday or anniversary to remind")
)
CARE_YEARS_AHEAD = config.define(
    "followups.care_years_ahead", 2, _("Years of holidays kept in the care calendar")
)
MONTHLY_REVIEW_DAY = config.define(
    "followups.monthly_review_day", 1, _("Day of the month owners get their review task")
)
