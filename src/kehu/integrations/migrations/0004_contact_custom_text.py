"""Existing contacts' ``custom_text`` (``customers 0021``): the searchable custom values of
each contact that has any, by the rule of that time (``custom_fields.stored_searchable``: a
text, long text, URL, choice or multiple choice field, not sensitive, seen by every role, not
deleted); every later write of a contact's values sets it with them."""

from typing import Any

from django.db import migrations

BATCH = 2000
SEARCHED_TYPES = ("text", "long_text", "url", "choice", "multi_choice")


def _searched_keys(apps: Any) -> list[str]:
    CustomField = apps.get_model("integrations", "CustomField")
    fields = CustomField.objects.filter(
        kind="contact", type__in=SEARCHED_TYPES, sensitive=False, deleted_at__isnull=True
    ).order_by("order", "key")
    return [field.key for field in fields if not field.see_roles]


def _text(custom: dict[str, Any], keys: list[str]) -> str:
    from kehu.customers.normalize import fold, han_pairs

    parts: list[str] = []
    for key in keys:
        value = custom.get(key)
        if value in (None, "", []):
            continue
        parts.extend(map(str, value) if isinstance(value, list) else [str(value)])
    text = fold(" ".join(parts))
    pairs = han_pairs(text)
    return f"{text} {pairs}" if pairs else text


def fill_custom_text(apps: Any, schema_editor: Any) -> None:
    keys = _searched_keys(apps)
    if not keys:
        return
    Contact = apps.get_model("customers", "Contact")
    last = 0
    while True:
        rows = list(
            Contact.objects.filter(pk__gt=last)
            .exclude(custom={})
            .order_by("pk")
            .values_list("pk", "custom")[:BATCH]
        )
        if not rows:
            return
        last = rows[-1][0]
        changed = [Contact(pk=pk, custom_text=_text(custom or {}, keys)) for pk, custom in rows]
        Contact.objects.bulk_update(changed, ["custom_text"])


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0003_custom_fields"),
        ("customers", "0021_contact_custom_text"),
    ]

    operations = [migrations.RunPython(fill_custom_text, migrations.RunPython.noop)]
