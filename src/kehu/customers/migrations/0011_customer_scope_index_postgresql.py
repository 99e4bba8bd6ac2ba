"""PostgreSQL only: the access scope's columns beside each customer's key.

Follow-ups, tasks and attachments are scoped by their customer (``followups.access``): a list
checks each row's customer by its key, ``owner = me OR department IN (…)``. From the primary
key PostgreSQL then read every customer's heap row (1.2 GB at size L); with the two columns in
an index of the key (~30 MB) the check is index-only. A manager's capped task count at size L:
20.0–20.8 → 9.8–10.4 ms while the machine was busy, the whole task page 9.2 / 9.6 → 8.3 / 8.0 ms
with everything cached (bench/RESULTS.md, 2026-12-06 d); the less of the table fits in memory,
the more it saves. SQLite keeps its rows in the key's own B-tree, so it needs no such index and
the operations check the vendor.
"""

from django.db import migrations

from kehu.core.postgres import postgresql_only

FORWARD = [
    "CREATE INDEX IF NOT EXISTS customer_scope "
    "ON customers_customer (id) INCLUDE (owner_id, department_id)",
]
BACKWARD = ["DROP INDEX IF EXISTS customer_scope"]


class Migration(migrations.Migration):
    dependencies = [("customers", "0010_search_text_han_pairs")]

    operations = [
        migrations.RunPython(postgresql_only(FORWARD), postgresql_only(BACKWARD), elidable=False)
    ]
