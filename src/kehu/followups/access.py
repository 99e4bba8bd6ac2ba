"""Row scope of follow-ups and tasks: delegated to the customer's own access policy.

A follow-up is visible exactly when its customer is; a task when its customer is, when it is
assigned to the user, or (for managers) when its assignee belongs to a department they manage.
The filters are subqueries on ``Customer.objects.visible_to(user)`` so every list stays one query.

Roles in ``CONVERSATION_WITHHELD`` (marketing) read customers for segments and campaigns, not
the sales conversation: they reach no follow-up, attachment or task through a customer, only
the tasks assigned to them; the customer page gives them the last activity and the counts
(``selectors.customer_activity``), and the services refuse their writes on a customer's records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q

from kehu.accounts.models import Role
from kehu.core.access import ALL_ROWS, NO_ROWS, AccessPolicy, is_admin, managed_department_ids
from kehu.customers.models import Customer


class ExistsPerRow(Exists):
    """``EXISTS`` that PostgreSQL evaluates for each row it reaches, never by hashing first.

    ORed with other terms an ``EXISTS`` cannot become a join, so PostgreSQL plans it both
    ways and picks one by the rows it expects from the whole table, blind to the page's
    ``LIMIT``. For a sales rep's task list it hashed all 152,029 of the rep's customers (a
    90 ms scan at size L) to check the 352 tasks the page reached. ``OFFSET 0`` keeps the
    subquery from being simplified, which the hashed form requires (``simplify_EXISTS_query``
    in PostgreSQL's planner); the rows and the result are unchanged.
    """

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        return self.as_sql(compiler, connection, template="EXISTS(%(subquery)s OFFSET 0)", **extra)


# Roles that see customers but not their conversation (docs/permissions.md).
CONVERSATION_WITHHELD: frozenset[str] = frozenset({Role.MARKETING})


def conversation_withheld(user: Any) -> bool:
    """True for a user whose role reads no follow-ups or tasks of the customers it sees."""
    return not is_admin(user) and getattr(user, "role", "") in CONVERSATION_WITHHELD


@dataclass(frozen=True)
class CustomerDelegatedPolicy(AccessPolicy):
    """Scope rows through a customer foreign key (``via``); optionally also by an assignee."""

    via: str = "customer"
    assignee_field: str | None = None

    def _delegated(self, user: Any, *, write: bool) -> Q:
        if not (user and user.is_authenticated and user.is_active):
            return NO_ROWS
        if is_admin(user):
            return ALL_ROWS
        if conversation_withheld(user):
            return self.own_filter(user)

        customers = (
            Customer.objects.editable_by(user) if write else Customer.objects.visible_to(user)
        )
        of_customer = customers.filter(pk=OuterRef(self.via))
        if not self.assignee_field:
            return Q(Exists(of_customer))  # alone, PostgreSQL turns it into a semi-join
        # EXISTS on the row's own customer rather than IN (every visible customer): ORed
        # with the assignee terms, IN made PostgreSQL hash a manager's 443,132 customers
        # before the first task of a page (size L); EXISTS looks up each row's customer,
        # row by row for every user (ExistsPerRow). It comes last: PostgreSQL evaluates OR
        # terms in order, so a row the assignee terms already admit skips the lookup (a
        # manager's task count: 2,215 → 1,214 lookups).
        by_customer = Q(ExistsPerRow(of_customer))
        scope = Q(**{self.assignee_field: user})
        departments = managed_department_ids(user)
        if departments:
            # The team's members as a subquery, which PostgreSQL hashes once (53 users for
            # the bench's regional manager), not a join it probes for each task.
            members = get_user_model().objects.filter(department__in=departments)
            scope |= Q(**{f"{self.assignee_field}__in": members.values("pk")})
        return scope | by_customer

    def view_filter(self, user: Any) -> Q:
        return self._delegated(user, write=False)

    def edit_filter(self, user: Any) -> Q:
        return self._delegated(user, write=True)

    def own_filter(self, user: Any) -> Q:
        """Assigned rows are the user's own; without an assignee nothing is (the customer's)."""
        if not (self.assignee_field and user and user.is_authenticated and user.is_active):
            return NO_ROWS
        return Q(**{self.assignee_field: user})
