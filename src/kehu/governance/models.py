"""Data governance records: retention policies and legal holds, destruction runs (tombstones),
personal-data requests (PIPL) and backups. The audit trail itself lives in ``kehu.core``
(``core/audit.py``) because every app records into it."""

from __future__ import annotations
