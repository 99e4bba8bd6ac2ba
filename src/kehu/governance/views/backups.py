"""The governance pages: backups (administrators). The list of runs of ``kehu backup`` and the
daily job, with the archive's size, time and state; backing up and restoring are commands
(``kehu backup``, ``kehu restore``), not buttons, since a restore replaces the database."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path

from kehu.accounts.http import AuthedRequest
from kehu.core import config
from kehu.core.pagination import bounded_page
from kehu.governance.selectors import backups as selectors
from kehu.governance.services import backups as services

PAGE_SIZE = 50


@login_required
def backup_list(request: AuthedRequest) -> HttpResponse:
    if not services.backups_may_view(request.user):
        raise PermissionDenied
    page = bounded_page(
        selectors.backup_list(user=request.user), PAGE_SIZE, request.GET.get("page")
    )
    rows = [(run, selectors.archive_present(run)) for run in page.object_list]
    context = {
        "page": page,
        "rows": rows,
        "directory": services.backup_directory(),
        "keep": config.get(services.BACKUP_KEEP.key),
        "time": config.get(services.BACKUP_TIME.key),
    }
    return render(request, "governance/backups.html", context)


urlpatterns: list[URLPattern] = [path("backups/", backup_list, name="backups")]
