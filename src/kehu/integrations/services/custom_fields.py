"""Custom fields (自定义字段): definitions, their indexes, soft delete and restore
(docs/custom-fields.md).

Administrators only. The record apps read the active definitions through
``kehu.core.custom_fields`` (``active_specs`` is its provider, installed in ready()). A field
marked filterable gets an expression index on its value (``index_expression``), and one on
(owner, value) where a rep's list is scoped by owner, on SQLite and PostgreSQL alike,
created in the transaction that marks it and dropped with the mark or the field;
``ensure_indexes`` (after every ``migrate``) puts back any a table rebuild dropped.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from django.db import connection, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts.models import Role, User
from kehu.core import audit, custom_fields
from kehu.core.access import is_admin
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.core.services import bump_version, check_version
from kehu.customers.models import Contact, Customer
from kehu.customers.services import search_texts
from kehu.customers.tasks import refresh_custom_search
from kehu.integrations.models import CustomField, CustomFieldKind
from kehu.leads.models import Lead
from kehu.opportunities.models import Opportunity
from kehu.service.models import Ticket

RESTORE_DAYS = 30
MAX_CHOICES = 100
RECORD_MODELS: dict[str, type[models.Model]] = {
    "customer": Customer,
    "contact": Contact,
    "lead": Lead,
    "opportunity": Opportunity,
    "ticket": Ticket,
}
# Types a filter compares as a whole value (long text is not indexed).
FILTERABLE_TYPES = frozenset(custom_fields.TYPE_NAMES - {custom_fields.LONG_TEXT})
CHOICE_TYPES = frozenset({custom_fields.CHOICE, custom_fields.MULTI_CHOICE})

__all__ = [
    "RESTORE_DAYS",
    "active_specs",
    "custom_field_create",
    "custom_field_delete",
    "custom_field_get",
    "custom_field_restore",
    "custom_field_update",
    "custom_fields_may_manage",
    "custom_fields_purge",
    "deleted_fields",
    "ensure_indexes",
]


def active_specs() -> list[custom_fields.FieldSpec]:
    """The provider of ``kehu.core.custom_fields``: every active definition (one query)."""
    return [f.spec() for f in CustomField.objects.filter(deleted_at__isnull=True)]


def _changed() -> None:
    """Readers in this process see the change at once, the other processes after the commit."""
    custom_fields.changed()
    transaction.on_commit(custom_fields.changed)


def _in_stored_search(field: CustomField) -> bool:
    """Whether customers' and contacts' stored search texts hold the field's values."""
    return field.deleted_at is None and custom_fields.stored_searchable(field.spec())


def _refresh_stored_search(field: CustomField, was_in: bool) -> None:
    """Rewrite, in a job after the commit, the stored search texts of the records holding a
    value when the change put the field in or out of them (``customers.services.
    search_texts``); the lists that search custom values live need nothing."""
    if field.kind in search_texts.KINDS and _in_stored_search(field) != was_in:
        transaction.on_commit(partial(refresh_custom_search, field.kind, field.key))


def custom_fields_may_manage(user: User) -> bool:
    return is_admin(user)


def _require_admin(actor: User) -> None:
    if not custom_fields_may_manage(actor):
        raise Forbidden(_("Only administrators manage custom fields."))


def custom_field_get(*, user: User, field_id: int) -> CustomField:
    _require_admin(user)
    field = CustomField.objects.filter(pk=field_id).first()
    if field is None:
        raise NotFound()
    return field


def deleted_fields(*, user: User, kind: str) -> list[CustomField]:
    """The deleted fields of ``kind`` that may still be restored (administrators)."""
    _require_admin(user)
    since = timezone.now() - timedelta(days=RESTORE_DAYS)
    return list(CustomField.objects.filter(kind=kind, deleted_at__gte=since).order_by("key"))


def has_values(kind: str, key: str) -> bool:
    """Whether any record of ``kind`` holds a value under ``key``."""
    return RECORD_MODELS[kind]._default_manager.filter(custom__has_key=key).exists()


# --- Validation --------------------------------------------------------------------------------

_TEXT_LIMITS = {"label_zh": 100, "label_en": 100, "help": 300}
_ROLES = frozenset(Role.values)


def _clean(data: dict[str, Any], current: CustomField | None) -> dict[str, Any]:
    known = {
        "kind",
        "key",
        "label_zh",
        "label_en",
        "type",
        "required",
        "help",
        "order",
        "choices",
        "see_roles",
        "edit_roles",
        "sensitive",
        "filterable",
    }
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(data) - known)
    for name in unknown:
        errors[name] = [_("This field cannot be set here.")]
    values: dict[str, Any] = {name: getattr(current, name) for name in known if current is not None}
    values.update({k: v for k, v in data.items() if k in known})

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if values.get("kind") not in CustomFieldKind.values:
        bad(
            "kind",
            _("Choose one of: %(choices)s.") % {"choices": ", ".join(CustomFieldKind.values)},
        )
    key = values.get("key")
    if not isinstance(key, str) or not custom_fields.KEY_PATTERN.fullmatch(key):
        bad(
            "key",
            _("Use 1–40 lower-case letters, digits and _, starting with a letter (dealer_level)."),
        )
    if values.get("type") not in custom_fields.TYPE_NAMES:
        bad(
            "type",
            _("Choose one of: %(choices)s.")
            % {"choices": ", ".join(sorted(custom_fields.TYPE_NAMES))},
        )
    for name, limit in _TEXT_LIMITS.items():
        text = values.get(name, "")
        if text is None:
            text = ""
        if not isinstance(text, str) or len(text.strip()) > limit:
            bad(name, _("Enter at most %(limit)d characters.") % {"limit": limit})
        else:
            values[name] = text.strip()
    if not values.get("label_zh") and not errors.get("label_zh"):
        bad("label_zh", _("Enter the label in Chinese."))
    for name in ("required", "sensitive", "filterable"):
        values[name] = values.get(name, False)
        if not isinstance(values[name], bool):
            bad(name, _("Enter true or false."))
    order = values.get("order", 0)
    if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= 32767:
        bad("order", _("Enter a whole number from 0 to 32767."))
    choices = values.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        bad("choices", _("Send a list of choices."))
        choices = []
    choices = [c.strip() for c in choices if c.strip()]
    if values.get("type") in CHOICE_TYPES:
        if not choices:
            bad("choices", _("A choice field needs at least one choice."))
        elif len(choices) != len(set(choices)):
            bad("choices", _("Each choice may appear once."))
        elif len(choices) > MAX_CHOICES or any(len(c) > 100 or ":" in c for c in choices):
            bad(
                "choices",
                _("At most %(count)d choices of at most 100 characters, without a colon.")
                % {"count": MAX_CHOICES},
            )
    else:
        choices = []
    values["choices"] = choices
    for name in ("see_roles", "edit_roles"):
        roles = values.get(name) or []
        if not isinstance(roles, list) or not set(roles) <= _ROLES:
            bad(name, _("Choose among: %(roles)s.") % {"roles": ", ".join(sorted(_ROLES))})
            roles = []
        values[name] = sorted(set(roles))
    if values.get("filterable") and values.get("type") not in FILTERABLE_TYPES:
        bad("filterable", _("A long text cannot be a filter."))
    if errors:
        raise InvalidInput(errors=errors)
    return values


# --- Writes ------------------------------------------------------------------------------------


# The column a rep's list is scoped by: a filterable field also gets an index on (it, value),
# so "my records at level X" reads that index instead of scanning the rep's whole book (at
# size L the biggest book's filtered count fell from 43 to 12 ms; bench/RESULTS.md round r).
OWNER_COLUMNS = {
    "customer": "owner",
    "lead": "assignee",
    "opportunity": "owner",
    "ticket": "assignee",
}


def _index_name(field: CustomField) -> str:
    return f"custom_field_{field.pk}"


def _indexes(field: CustomField) -> list[models.Index]:
    expression = custom_fields.index_expression(field.key)
    indexes = [models.Index(expression, name=_index_name(field))]
    owner = OWNER_COLUMNS.get(field.kind)
    if owner is not None:
        indexes.append(models.Index(F(owner), expression, name=f"{_index_name(field)}_owner"))
    return indexes


def _add_index(field: CustomField) -> None:
    """Create the field's indexes in the caller's transaction. The schema editor only writes
    the statements: entering it is refused on SQLite inside a transaction (it would switch
    foreign key checks off), and an index needs no such switch. Indexes already there (one
    a table rebuild kept) are left as they are."""
    editor = connection.schema_editor()
    present = _index_names(field)
    for index in _indexes(field):
        if index.name not in present:
            _execute_ddl(str(index.create_sql(RECORD_MODELS[field.kind], editor)))


def _execute_ddl(sql: str) -> None:
    """Run an index statement in the current transaction. PostgreSQL refuses DDL on a table
    with deferred foreign-key checks pending (rows written earlier in the same transaction):
    those checks run first, then later ones are deferred again."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql)
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _drop_index(field: CustomField) -> None:
    editor: Any = connection.schema_editor()
    editor.deferred_sql = []  # set on entering, which _add_index explains is not done
    present = _index_names(field)
    for index in _indexes(field):
        if index.name in present:
            _execute_ddl(str(index.remove_sql(RECORD_MODELS[field.kind], editor)))


def _index_names(field: CustomField) -> set[str]:
    table = RECORD_MODELS[field.kind]._meta.db_table
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, table))


def _has_index(field: CustomField) -> bool:
    return {index.name for index in _indexes(field)} <= _index_names(field)


@transaction.atomic
def custom_field_create(*, actor: User, data: dict[str, Any]) -> CustomField:
    """Define a field. The key is unique per kind, among deleted fields too (restorable)."""
    _require_admin(actor)
    values = _clean(dict(data), None)
    if CustomField.objects.filter(kind=values["kind"], key=values["key"]).exists():
        raise InvalidInput(errors={"key": [_("This kind already has a field with this key.")]})
    field = CustomField(**values, created_by=actor)
    field.save()
    if field.filterable:
        _add_index(field)
    _changed()
    audit.record("integrations.custom_field_created", actor=actor, target=field)
    return field


@transaction.atomic
def custom_field_update(
    *, actor: User, field: CustomField, changes: dict[str, Any], version: int | None = None
) -> CustomField:
    """Change a definition. Its kind never changes; its key and type are refused once any
    record holds a value for it (the values would be lost or misread)."""
    _require_admin(actor)
    locked = CustomField.objects.select_for_update().get(pk=field.pk)
    check_version(locked, version)
    if "kind" in changes and changes["kind"] != locked.kind:
        raise InvalidInput(errors={"kind": [_("A field's record kind cannot change.")]})
    values = _clean(dict(changes), locked)
    errors: dict[str, list[str]] = {}
    for name in ("key", "type"):
        if values[name] != getattr(locked, name) and has_values(locked.kind, locked.key):
            errors[name] = [_("Records already hold values of this field: it cannot change.")]
    if values["key"] != locked.key and (
        CustomField.objects.filter(kind=locked.kind, key=values["key"]).exists()
    ):
        errors["key"] = [_("This kind already has a field with this key.")]
    if errors:
        raise InvalidInput(errors=errors)
    indexed = locked.filterable and locked.deleted_at is None
    was_searched = _in_stored_search(locked)
    rekeyed = values["key"] != locked.key
    for name, value in values.items():
        setattr(locked, name, value)
    if indexed and (rekeyed or not locked.filterable):
        _drop_index(locked)
    if locked.deleted_at is None and locked.filterable and (rekeyed or not indexed):
        _add_index(locked)
    bump_version(locked)
    locked.save()
    _changed()
    _refresh_stored_search(locked, was_searched)
    audit.record("integrations.custom_field_changed", actor=actor, target=locked)
    return locked


@transaction.atomic
def custom_field_delete(*, actor: User, field: CustomField) -> CustomField:
    """Soft delete: the field leaves forms, lists and the API; records keep their values for
    ``RESTORE_DAYS`` days (``custom_field_restore``), then the purge job removes them."""
    _require_admin(actor)
    locked = CustomField.objects.select_for_update().get(pk=field.pk)
    if locked.deleted_at is not None:
        return locked
    if locked.filterable:
        _drop_index(locked)
    was_searched = _in_stored_search(locked)
    locked.deleted_at = timezone.now()
    bump_version(locked)
    locked.save()
    _changed()
    _refresh_stored_search(locked, was_searched)
    audit.record("integrations.custom_field_deleted", actor=actor, target=locked)
    return locked


@transaction.atomic
def custom_field_restore(*, actor: User, field: CustomField) -> CustomField:
    _require_admin(actor)
    locked = CustomField.objects.select_for_update().get(pk=field.pk)
    if locked.deleted_at is None:
        return locked
    if locked.deleted_at < timezone.now() - timedelta(days=RESTORE_DAYS):
        raise InvalidInput(
            _("This field was deleted more than %(days)d days ago.") % {"days": RESTORE_DAYS}
        )
    locked.deleted_at = None
    if locked.filterable:
        _add_index(locked)
    bump_version(locked)
    locked.save()
    _changed()
    _refresh_stored_search(locked, was_in=False)
    audit.record("integrations.custom_field_restored", actor=actor, target=locked)
    return locked


class _WithoutKey(models.Func):
    """``custom`` without one key (the purge): ``json_remove`` / jsonb's ``-``."""

    output_field = models.JSONField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="JSON_REMOVE(%(expressions)s)", **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="(%(expressions)s)", arg_joiner=" - ", **extra
        )


def custom_fields_purge(*, now: Any = None) -> int:
    """Remove the fields deleted more than ``RESTORE_DAYS`` days ago and their values from
    every record (the periodic job). Returns how many fields went."""
    now = now or timezone.now()
    due = list(CustomField.objects.filter(deleted_at__lt=now - timedelta(days=RESTORE_DAYS)))
    for field in due:
        with transaction.atomic():
            model = RECORD_MODELS[field.kind]
            path = f'$."{field.key}"' if connection.vendor == "sqlite" else field.key
            model._default_manager.filter(custom__has_key=field.key).update(
                custom=_WithoutKey("custom", models.Value(path))
            )
            field.delete()
            _changed()
            audit.record(
                "integrations.custom_field_purged",
                target=("integrations.customfield", field.pk),
                details={"kind": field.kind},
            )
    return len(due)


def ensure_indexes(**_kwargs: Any) -> None:
    """Create the missing indexes of filterable fields (after ``migrate``: a SQLite table
    rebuild drops expression indexes the migrations do not know)."""
    if CustomField._meta.db_table not in connection.introspection.table_names():
        return
    for field in CustomField.objects.filter(filterable=True, deleted_at__isnull=True):
        if not _has_index(field):
            _add_index(field)
