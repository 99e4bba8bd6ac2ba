"""The tasks a leaving user hands over (离职交接), registered with accounts' offboarding.

Open tasks move; done and cancelled ones stay with the user, as history.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from kehu.accounts.models import User
from kehu.accounts.offboarding import HandoverKind, register_handover
from kehu.followups.models import Task, TaskStatus
from kehu.followups.services import task_reassign


def open_tasks(user: User) -> QuerySet[Task]:
    return Task.objects.filter(assignee_id=user.pk).exclude(
        status__in=(TaskStatus.DONE, TaskStatus.CANCELLED)
    )


def reassign_tasks(*, actor: User, records: Sequence[Task], successor: User, reason: str) -> None:
    for task in records:
        task_reassign(actor=actor, task=task, assignee=successor, reason=reason)


def register() -> None:
    register_handover(
        HandoverKind(
            key="tasks",
            label=Task._meta.verbose_name_plural,
            rows=open_tasks,
            reassign=reassign_tasks,
            order=40,
        )
    )
