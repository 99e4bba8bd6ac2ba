"""Existing customers' search text gains the paired spelling of its Han runs
(``normalize.han_pairs``: 瑞德 → 瑞x德), which two-character searches look up in the trigram
index; every later save writes it with the rest of the text."""

from typing import Any

from django.db import migrations

BATCH = 2000


def add_han_pairs(apps: Any, schema_editor: Any) -> None:
    from kehu.customers.normalize import han_pairs

    Customer = apps.get_model("customers", "Customer")
    last = 0
    while True:
        rows = list(
            Customer.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "search_text")[:BATCH]
        )
        if not rows:
            return
        last = rows[-1][0]
        changed = []
        for pk, text in rows:
            pairs = han_pairs(text)
            if pairs and not text.endswith(pairs):  # not written by the new code already
                changed.append(Customer(pk=pk, search_text=f"{text} {pairs}"))
        Customer.objects.bulk_update(changed, ["search_text"])


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0009_list_sort_indexes"),
    ]

    operations = [migrations.RunPython(add_han_pairs, migrations.RunPython.noop)]
