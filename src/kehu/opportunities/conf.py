"""The pipeline's admin-editable numbers (kehu.core.config)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kehu.core import config

STALLED_DAYS = config.define(
    "opportunities.stalled_days",
    7,
    _("Days without a stage change after which a deal is stalled"),
    unit=config.DAYS,
    minimum=1,
    maximum=365,
    help=_(
        "A deal without a stage change for longer is listed as stalled (停滞) for the weekly "
        "review (handbook: 7 days)."
    ),
)
PROBABILITY_WINDOW_MONTHS = config.define(
    "opportunities.probability_window_months",
    12,
    _("Months of closed deals used to compute win probabilities"),
    unit=config.MONTHS,
    minimum=1,
    maximum=120,
    help=_(
        "Win probabilities per stage are learnt from the deals closed in this many recent months."
    ),
)
PROBABILITY_MIN_SAMPLE = config.define(
    "opportunities.probability_min_sample",
    20,
    _("Closed deals a stage needs before its historical win rate replaces the default"),
    unit=config.DEALS,
    minimum=1,
    maximum=10000,
    help=_(
        "Until a stage has seen this many closed deals, its configured default probability is "
        "used instead of the history."
    ),
)
MAX_PAST_CLOSE_DAYS = config.define(
    "opportunities.max_past_close_days",
    30,
    _("How many days in the past an open deal's expected close date may be"),
    unit=config.DAYS,
    minimum=0,
    maximum=3650,
    help=_(
        "An open deal's expected close date may lie at most this far in the past; older dates "
        "must be updated."
    ),
)
