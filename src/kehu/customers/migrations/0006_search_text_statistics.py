"""PostgreSQL only: a finer sample of ``search_text`` for the planner's LIKE estimates.

The planner estimates ``search_text LIKE '%term%'`` as the share of the column's histogram
that matches. With the default 100 entries that share comes in steps of 1 %: a term matching
225 of 1,000,000 customers was estimated at 10,000 rows, so the search walked the primary key
backwards through 511,000 rows (235 ms) instead of reading its 225 trigram matches (4 ms).
1,000 entries give steps of 0.1 % for about 1 ms more planning (bench/RESULTS.md, 2026-12-03).
"""

from typing import Any

from django.db import migrations

TABLE_COLUMN = "customers_customer ALTER COLUMN search_text"


def _statistics(target: int) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE {TABLE_COLUMN} SET STATISTICS {target}")

    return run


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_fewer_write_indexes")]

    operations = [migrations.RunPython(_statistics(1000), _statistics(-1), elidable=False)]
