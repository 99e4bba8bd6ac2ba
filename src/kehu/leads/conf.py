"""The leads app's business settings (the handbooks' numbers), editable by admins."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kehu.core import config

ASSIGN_ON_CAPTURE = config.define(
    "leads.assign_on_capture",
    True,
    _("Assign new leads by the rules as soon as they arrive"),
    help=_(
        "On: a new lead is assigned by the rules the moment it arrives. Off: leads wait in the "
        "pool for the daily batch."
    ),
)
BATCH_TIME = config.define(
    "leads.batch_time",
    "09:00",
    _("Daily time (HH:MM, local) of the batch assignment of pooled leads"),
    unit=config.TIME_OF_DAY,
    check=config.time_of_day,
    help=_(
        "The pooled leads are assigned by region and industry at this time every day (handbook: "
        "before 09:00)."
    ),
)
CONFIRM_SLA_MINUTES = config.define(
    "leads.confirm_sla_minutes",
    60,
    _("Minutes the assignee has to confirm a lead is contactable"),
    unit=config.MINUTES,
    minimum=5,
    maximum=1440,
    help=_(
        "The assignee confirms within this time whether a lead is contactable; later, the lead is "
        "flagged (handbook: 1 hour)."
    ),
)
DEADLINE_HOURS = config.define(
    "leads.first_contact_hours",
    {"S": 24, "A": 72, "B": 168},
    _("Hours to first contact per priority (S, A, B)"),
    unit=config.HOURS,
    minimum=1,
    maximum=2160,
    help=_(
        "Deadline for the first contact of a lead by priority: S 24 h, A 3 days, B 7 days in the "
        "handbook; a missed deadline raises an overdue warning."
    ),
)
DEFAULT_PRIORITY = config.define(
    "leads.default_priority",
    "B",
    _("Priority of leads no priority rule matches"),
    choices=("S", "A", "B"),
    help=_("The priority of a lead that no priority rule matches."),
)
WEBFORM_RATE_LIMIT = config.define(
    "leads.webform_rate_limit",
    5,
    _("Web form posts allowed per address and form in the window"),
    unit=_("posts"),
    minimum=1,
    maximum=1000,
    help=_(
        "More posts from one address to one web form within the window are refused (spam "
        "protection)."
    ),
)
WEBFORM_RATE_WINDOW = config.define(
    "leads.webform_rate_window_seconds",
    600,
    _("Web form rate-limit window in seconds"),
    unit=config.SECONDS,
    minimum=10,
    maximum=86400,
    help=_("The window of the web form rate limit."),
)
