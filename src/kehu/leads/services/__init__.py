"""Every write on leads: capture, assignment, confirmation, invalidation/review, conversion.

Keyword-only functions with an explicit acting user; the UI, the API, the public web form,
imports and the scheduled jobs all call these, so they behave identically.

The package is split by concern (``capture``, ``assignment``, ``rules``, ``web_forms``,
``convert``); callers keep importing ``kehu.leads.services`` and the names below.
"""

from __future__ import annotations

from kehu.leads.models import AssignmentRun
from kehu.leads.services._common import lead_may_manage, managers_of
from kehu.leads.services.assignment import (
    BATCH_CHUNK,
    Proposal,
    ReviewDecision,
    assignment_batch,
    assignment_batch_if_due,
    assignment_dry_run,
    batch_time,
    lead_assign,
    lead_confirm,
    lead_invalidate,
    lead_may_act,
    lead_may_review,
    lead_review,
    leads_may_plan,
    overdue_check,
    sla_check,
)
from kehu.leads.services.capture import (
    EDITABLE_FIELDS,
    TEXT_FIELDS,
    clean_lead_data,
    lead_capture,
    lead_may_capture,
    lead_may_edit,
    lead_update,
)
from kehu.leads.services.convert import lead_convert, lead_may_convert
from kehu.leads.services.rules import (
    rule_create,
    rule_delete,
    rule_move,
    rule_update,
    rules_may_edit,
    rules_reorder,
)
from kehu.leads.services.web_forms import (
    HONEYPOT_FIELD,
    WEB_FIELDS,
    RateLimited,
    web_form_create,
    web_form_rotate_secret,
    web_form_submit,
    web_form_update,
    web_forms_may_manage,
)

__all__ = [
    "BATCH_CHUNK",
    "EDITABLE_FIELDS",
    "HONEYPOT_FIELD",
    "TEXT_FIELDS",
    "WEB_FIELDS",
    "AssignmentRun",
    "Proposal",
    "RateLimited",
    "ReviewDecision",
    "assignment_batch",
    "assignment_batch_if_due",
    "assignment_dry_run",
    "batch_time",
    "clean_lead_data",
    "lead_assign",
    "lead_capture",
    "lead_confirm",
    "lead_convert",
    "lead_invalidate",
    "lead_may_act",
    "lead_may_capture",
    "lead_may_convert",
    "lead_may_edit",
    "lead_may_manage",
    "lead_may_review",
    "lead_review",
    "lead_update",
    "leads_may_plan",
    "managers_of",
    "overdue_check",
    "rule_create",
    "rule_delete",
    "rule_move",
    "rule_update",
    "rules_may_edit",
    "rules_reorder",
    "sla_check",
    "web_form_create",
    "web_form_rotate_secret",
    "web_form_submit",
    "web_form_update",
    "web_forms_may_manage",
]
