"""Time ``campaigns.services.consent.partition`` for a campaign of N members (default
100,000 contacts, 90% with e-mail consent, 2% withdrawn), in one transaction rolled back at
the end, so the database is left as it was. Run against your own migrated database::

    KEHU_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test_consent \\
        kehu manage shell -c "from bench.consent_partition import main; main()"

Prints the seconds of each of 3 runs, their median, the query count and the reasons.
"""

from __future__ import annotations

import datetime
import statistics
import time

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from kehu.accounts.models import Role, User
from kehu.campaigns.models import (
    Campaign,
    CampaignKind,
    CampaignMember,
    Channel,
    Consent,
    ConsentStatus,
)
from kehu.campaigns.services.consent import partition
from kehu.customers.models import Contact, Customer


class _Rollback(Exception):
    pass


def main(members: int = 100_000, runs: int = 3) -> None:
    try:
        with transaction.atomic():
            _measure(members, runs)
            raise _Rollback()
    except _Rollback:
        pass


def _measure(members: int, runs: int) -> None:
    user = User.objects.create(username="bench_consent_partition", role=Role.MARKETING)
    customer = Customer.objects.create(name="分区基准客户", owner=user, number="BENCH-CONSENT")
    contacts = Contact.objects.bulk_create(
        (
            Contact(customer=customer, name=f"基准{i}", email=f"b{i}@bench.example.cn")
            for i in range(members)
        ),
        batch_size=5000,
    )
    Consent.objects.bulk_create(
        (
            Consent(
                contact=contact,
                channel=Channel.EMAIL,
                status=ConsentStatus.WITHDRAWN if i % 50 == 0 else ConsentStatus.GRANTED,
                source="import",
            )
            for i, contact in enumerate(contacts)
            if i % 10
        ),
        batch_size=5000,
    )
    campaign = Campaign.objects.create(
        name="基准活动",
        kind=CampaignKind.EMAIL,
        starts_on=datetime.date(2026, 12, 1),
        ends_on=datetime.date(2026, 12, 31),
        owner=user,
    )
    CampaignMember.objects.bulk_create(
        (CampaignMember(campaign=campaign, contact=c, customer=customer) for c in contacts),
        batch_size=5000,
    )
    queryset = CampaignMember.objects.filter(campaign=campaign)
    seconds = []
    for _run in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = partition(Channel.EMAIL, queryset)
            seconds.append(time.perf_counter() - started)
    timings = ", ".join(f"{s:.2f}" for s in seconds)
    print(
        f"{connection.vendor} partition of {members:,} members: runs {timings} s, "
        f"median {statistics.median(seconds):.2f} s, {len(queries)} queries, "
        f"{len(result.recipients):,} recipients, skipped {result.skipped}"
    )
