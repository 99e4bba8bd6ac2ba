"""Reads of the transfer app: a user's import jobs and mappings; the export audit log."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from kehu.core.access import is_admin
from kehu.transfer.models import ExportLog, ImportJob, ImportMapping


def import_job_list(*, user: Any) -> QuerySet[ImportJob]:
    """Administrators see every import; everyone else the imports they started."""
    jobs = ImportJob.objects.select_related("created_by").order_by("-id")
    if not (user and user.is_authenticated and user.is_active):
        return jobs.none()
    return jobs if is_admin(user) else jobs.filter(created_by=user)


def import_job_get(*, user: Any, job_id: int) -> ImportJob:
    job = import_job_list(user=user).filter(pk=job_id).first()
    if job is None:
        raise Http404("import")
    return job


def mapping_list(*, kind: str = "") -> QuerySet[ImportMapping]:
    mappings = ImportMapping.objects.all()
    return mappings.filter(kind=kind) if kind else mappings


def export_log_list(*, user: Any) -> QuerySet[ExportLog]:
    logs = ExportLog.objects.select_related("user").order_by("-id")
    return logs if is_admin(user) else logs.filter(user=user)
