"""PostgreSQL only: drop the customer table's ``varchar_pattern_ops`` indexes that no query uses.

Django adds a ``…_like`` pattern index beside the index of every indexed ``CharField``, for
``LIKE 'x%'`` lookups. On the customer table no query does such a lookup on ``number``,
``credit_code``, ``industry_id`` or ``region_id`` (search goes through ``search_text``'s
trigram index, the rest are equality and ``IN``), and ``name_key``'s duplicates
``customer_name_key_prefix`` (0003), which the name-prefix dedup uses. Each is one more B-tree
insert per customer written: dropping the five took the PostgreSQL server's CPU for a
100,000-row import from 26.9–28.1 s to 25.4–26.4 s. A later ``AlterField`` of one of these
fields would add its ``_like`` index back.
"""

from typing import Any

from django.db import migrations

FIELDS = ["number", "credit_code", "name_key", "industry", "region"]


def _pattern_indexes(schema_editor: Any, table: str, column: str) -> list[str]:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s "
            "AND indexname <> 'customer_name_key_prefix' "
            "AND indexdef LIKE %s",
            [table, f"%({column} varchar_pattern_ops)"],
        )
        return [name for (name,) in cursor.fetchall()]


def drop_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("customers", "customer")
    for name in FIELDS:
        column = model._meta.get_field(name).column
        for index in _pattern_indexes(schema_editor, model._meta.db_table, column):
            schema_editor.execute(schema_editor._delete_index_sql(model, index))


def create_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("customers", "customer")
    for name in FIELDS:
        like = schema_editor._create_like_index_sql(model, model._meta.get_field(name))
        if like is not None:
            schema_editor.execute(like)


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_search_text_statistics")]

    operations = [migrations.RunPython(drop_indexes, create_indexes, elidable=False)]
