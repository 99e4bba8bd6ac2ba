"""A user's saved list filters: the query string of a list page under a name, per list
(``SavedFilter.ListName``: customers, leads, deals, tickets)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core import audit
from kehu.core.errors import NotFound
from kehu.customers.models import (
    SavedFilter,
)
from kehu.customers.services._cleaning import _field_error


@transaction.atomic
def saved_filter_save(
    *, user: User, name: str, query: str, list_name: str = SavedFilter.ListName.CUSTOMERS
) -> SavedFilter:
    """Save ``query`` (the list's query string) as the user's filter ``name`` of the list
    ``list_name``; a name the user already gave a filter of that list is an error."""
    if list_name not in SavedFilter.ListName.values:
        raise NotFound("list")
    name = name.strip()
    if not name or len(name) > 60:
        raise _field_error("name", _("Give the filter a name of at most 60 characters."))
    if len(query) > 1000:
        raise _field_error("query", _("This filter is too long to save."))
    try:
        with transaction.atomic():
            return SavedFilter.objects.create(
                user=user, list_name=list_name, name=name, query=query.lstrip("?")
            )
    except IntegrityError:  # the constraint: one name per user and list
        raise _field_error("name", _("You already have a saved filter of this name.")) from None


@audit.audited("customers.savedfilter_deleted", target="filter_id", model="customers.savedfilter")
def saved_filter_delete(*, user: User, filter_id: int) -> str:
    """Delete one of the user's own saved filters; another user's is not found (404).
    Answers the list the filter belonged to."""
    saved = SavedFilter.objects.filter(user=user, pk=filter_id).first()
    if saved is None:
        raise NotFound("saved filter")
    saved.delete()
    return saved.list_name
