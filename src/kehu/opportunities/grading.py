"""The deals won feed the customer grade (客户分级): amount and orders in the grading window.

``won_grade_input`` is registered with ``customers.grading.register_grade_input``: per
customer, the sum of the amounts of its deals won (a won stage: 成交 or 回款/复购) in the last
``customers.grade_window_months`` months and how many they are, in one query. Amounts are read
as yuan, like the forecast (deals in another currency count at face value).

Winning a deal regrades its customer in the winning transaction (``regrade_on_win``, an
``on_deal_won`` callback), so the grade the customer page shows is the business's at once; the
nightly job (``customers.tasks``) catches the rest (the window sliding, an amount edited).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.customers import grading
from kehu.customers.services import customer_recompute_grades
from kehu.opportunities.models import Opportunity, StageKind

if TYPE_CHECKING:
    from kehu.accounts.models import User

DAYS_A_MONTH = 30.4375  # a year of 365.25 days in 12 months


def window_start() -> datetime:
    return timezone.now() - timedelta(days=round(grading.window_months() * DAYS_A_MONTH))


def won_grade_input(customer_ids: Sequence[int]) -> dict[int, grading.GradeInput]:
    """{customer id: GradeInput(amount won, deals won)} in the grading window; one query."""
    rows = (
        Opportunity.objects.filter(
            customer_id__in=list(customer_ids),
            stage__kind=StageKind.WON,
            closed_at__gte=window_start(),
        )
        .order_by()
        .values("customer_id")
        .annotate(won=Sum("amount"), orders=Count("id"))
    )
    return {
        row["customer_id"]: grading.GradeInput(
            amount=Decimal(row["won"] or 0), orders=int(row["orders"])
        )
        for row in rows
    }


def regrade_on_win(opportunity: Opportunity, actor: User) -> None:
    """A deal won: its customer's grade follows at once (history names the deal)."""
    customer_recompute_grades(
        customer_ids=[opportunity.customer_id],
        reason=_("Grade recomputed: deal won (%(name)s)") % {"name": opportunity.name[:60]},
    )
