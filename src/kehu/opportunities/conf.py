"""The pipeline's admin-editable numbers (kehu.core.config)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kehu.core import config
from kehu.customers.entry import Rule

# The deal's entry rules (kehu.customers.entry): 待核实 is an ordinary value of a text field.
OPPORTUNITY_RULES = {
    rule.name: rule
    for rule in (
        Rule("amount", _("Expected amount (预计成交金额)"), ("amount",), verifiable=False),
        Rule(
            "expected_close",
            _("Expected close date"),
            ("expected_close",),
            verifiable=False,
        ),
        Rule("needs", _("Products / needs"), ("needs",)),
        Rule("competitors", _("Competitors (竞争对手信息)"), ("competitors",)),
        Rule("source", _("Source (信息来源)"), ("source",), verifiable=False),
        Rule("next_step", _("Next step"), ("next_step",)),
    )
}
REQUIRED_FIELDS = config.define(
    "opportunities.required_fields",
    ["needs"],
    _("Required fields of a new opportunity"),
    group="opportunities",
    choices=tuple((name, rule.label) for name, rule in OPPORTUNITY_RULES.items()),
    help=_(
        "Checked when a deal is created (form, API, import) and when an edit touches the "
        "field; needs, competitors and the next step may be entered as 待核实."
    ),
)

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
