"""The pipeline's admin-editable numbers (kehu.core.config)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kehu.core import config

STALLED_DAYS = config.define(
    "opportunities.stalled_days", 7, _("Days without a stage change after which a deal is stalled")
)
PROBABILITY_WINDOW_MONTHS = config.define(
    "opportunities.probability_window_months",
    12,
    _("Months of closed deals used to compute win probabilities"),
)
PROBABILITY_MIN_SAMPLE = config.define(
    "opportunities.probability_min_sample",
    20,
    _("Closed deals a stage needs before its historical win rate replaces the default"),
)
MAX_PAST_CLOSE_DAYS = config.define(
    "opportunities.max_past_close_days",
    30,
    _("How many days in the past an open deal's expected close date may be"),
)
