"""PostgreSQL only: trigram index for the search box, pattern index for name-prefix dedup.

SQLite needs neither (LIKE scans are fine at its scale), so the operations check the vendor.
"""

from django.db import migrations

from kehu.core.postgres import postgresql_only

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS customer_search_trgm "
    "ON customers_customer USING gin (search_text gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS customer_name_key_prefix "
    "ON customers_customer (name_key varchar_pattern_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS customer_search_trgm",
    "DROP INDEX IF EXISTS customer_name_key_prefix",
]


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_attachments_saved_filters")]

    operations = [
        migrations.RunPython(postgresql_only(FORWARD), postgresql_only(BACKWARD), elidable=False)
    ]
