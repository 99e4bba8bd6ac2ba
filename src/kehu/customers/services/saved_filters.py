"""A user's saved customer-list filters."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core import audit
from kehu.core.errors import NotFound
from kehu.customers.models import (
    SavedFilter,
)
from kehu.customers.services._cleaning import _field_error


@transaction.atomic
def saved_filter_save(*, user: User, name: str, query: str) -> SavedFilter:
    name = name.strip()
    if not name or len(name) > 60:
        raise _field_error("name", _("Give the filter a name of at most 60 characters."))
    if len(query) > 1000:
        raise _field_error("query", _("This filter is too long to save."))
    saved, _created = SavedFilter.objects.update_or_create(
        user=user, name=name, defaults={"query": query.lstrip("?")}
    )
    return saved


@audit.audited("customers.savedfilter_deleted", target="filter_id", model="customers.savedfilter")
def saved_filter_delete(*, user: User, filter_id: int) -> None:
    """Delete one of the user's own saved filters; another user's is not found (404)."""
    deleted, _rows = SavedFilter.objects.filter(user=user, pk=filter_id).delete()
    if not deleted:
        raise NotFound("saved filter")
