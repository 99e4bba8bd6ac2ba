"""A writer for the backup tests: ``python -m kehu.governance.tests.write_load STOP_FILE``
creates customers, each with a contact and a PDF attachment, through the services (one
transaction for the three), against the database and data dir of its
environment (KEHU_DATA_DIR, KEHU_DATABASE_URL), until STOP_FILE exists. It prints the number
committed after each customer, so the test knows the load is running."""

# ruff: noqa: T201  (a test driver: it reports progress on standard output)

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path


def main(stop_file: Path) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction

    from kehu.accounts import services as accounts
    from kehu.accounts.models import User
    from kehu.core import config
    from kehu.core.testing.entry_rules import RELAXED
    from kehu.customers import services as customers

    for key, value in RELAXED.items():  # a name and a contact name are enough here
        if key in config.DEFAULTS:
            config.DEFAULTS[key] = dataclasses.replace(config.DEFAULTS[key], default=value)
    actor = User.objects.filter(username="loader").first() or accounts.user_create(
        username="loader", role="admin", password="load-Pass-2026"
    )
    count = 0
    started = time.monotonic()
    while not stop_file.exists() and time.monotonic() - started < 300:
        count += 1
        body = b"%PDF-1.4\n" + os.urandom(2048 + count % 4096) + b"\n%%EOF\n"
        with transaction.atomic():  # one unit: the snapshot has all of it or none
            customer = customers.customer_create(
                actor=actor,
                data={"name": f"负载测试公司{count:05d}"},
                contacts=[{"name": f"联系人{count:05d}", "mobile": f"1390000{count % 10000:04d}"}],
                force=True,  # similar names on purpose: no duplicate check
            )
            customers.attachment_add(
                actor=actor,
                customer=customer,
                upload=SimpleUploadedFile(f"合同{count}.pdf", body, content_type="application/pdf"),
            )
        print(count, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
