"""The leads app's business settings (the handbooks' numbers), editable by admins."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kehu.core import config

ASSIGN_ON_CAPTURE = config.define(
    "leads.assign_on_capture", True, _("Assign new leads by the rules as soon as they arrive")
)
BATCH_TIME = config.define(
    "leads.batch_time",
    "09:00",
    _("Daily time (HH:MM, local) of the batch assignment of pooled leads"),
)
CONFIRM_SLA_MINUTES = config.define(
    "leads.confirm_sla_minutes", 60, _("Minutes the assignee has to confirm a lead is contactable")
)
DEADLINE_HOURS = config.define(
    "leads.first_contact_hours",
    {"S": 24, "A": 72, "B": 168},
    _("Hours to first contact per priority (S, A, B)"),
)
DEFAULT_PRIORITY = config.define(
    "leads.default_priority", "B", _("Priority of leads no priority rule matches")
)
WEBFORM_RATE_LIMIT = config.define(
    "leads.webform_rate_limit", 5, _("Web form posts allowed per address and form in the window")
)
WEBFORM_RATE_WINDOW = config.define(
    "leads.webform_rate_window_seconds", 600, _("Web form rate-limit window in seconds")
)
