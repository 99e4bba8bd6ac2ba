"""The import job (Huey): runs a dry run or an import to its end, recording the outcome."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from kehu.core.context import acting_context, new_request_id
from kehu.transfer.engine import run_job
from kehu.transfer.models import ImportJob


@db_task()
def run_import(job_id: int) -> str:
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    with acting_context(new_request_id("import")):
        return str(run_job(job).status)
