"""Campaign e-mail throughput: N recipients through a local SMTP sink (aiosmtpd).

    KEHU_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/kehu_bench_send \
        .venv/bin/python -m bench.sends --recipients 100000 --runs 3

In its own database (migrated on the first run): one campaign whose members are generated
contacts (200 per customer) with an e-mail address and a granted e-mail consent. Each run
creates a send through ``services.sends.send_create`` (what the web request does: validation
and a check that one member is reachable; timed apart as the request time) and then runs the
job body ``send_run`` in this process, as the huey worker does: preparation (partition of
all members, bulk Message rows; timed apart) and delivery against an aiosmtpd sink in a
separate process, with ``campaigns.send_per_minute`` at its maximum so the throttle does not
bind. Reports per run the request time, the preparation time, messages/s of the whole job
(preparation included) and of the delivery alone, the load average, and the medians. The web
processes only create the send; preparation and delivery run in the job worker.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import sys
import time
from typing import Any


def _sink(port: int, ready: Any, counter: Any) -> None:
    import asyncio
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            with counter.get_lock():
                counter.value += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        asyncio.run(asyncio.sleep(10**6))
    finally:
        controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _setup(recipients: int) -> tuple[Any, Any, Any]:
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0)
    import dataclasses

    from kehu.core import config
    from kehu.core.testing.entry_rules import RELAXED

    # Generated customers carry a name only (the bench is about sending, not data entry)
    for key, value in RELAXED.items():
        if key in config.DEFAULTS:
            config.DEFAULTS[key] = dataclasses.replace(config.DEFAULTS[key], default=value)
    from kehu.accounts.models import Role, User
    from kehu.campaigns.models import (
        Campaign,
        CampaignKind,
        CampaignMember,
        Channel,
        Consent,
        ConsentSource,
        ConsentStatus,
        MessageTemplate,
    )
    from kehu.customers import services as customer_services
    from kehu.customers.models import Contact, Customer

    user = User.objects.filter(username="bench.marketing").first()
    if user is None:
        user = User.objects.create_user(
            "bench.marketing", email="marketing@example.cn", role=Role.MARKETING
        )
    owner = User.objects.filter(username="bench.rep").first()
    if owner is None:
        owner = User.objects.create_user(
            "bench.rep", role=Role.SALES, mobile="13900000000", display_name="李销售"
        )
    campaign = Campaign.objects.filter(name=f"bench sends {recipients}").first()
    if campaign is not None and campaign.members.count() < recipients:
        campaign.delete()  # an interrupted generation: start again
        campaign = None
    if campaign is None:
        from django.utils import timezone

        today = timezone.localdate()
        campaign = Campaign.objects.create(
            name=f"bench sends {recipients}",
            kind=CampaignKind.EMAIL,
            starts_on=today,
            ends_on=today,
            owner=user,
        )
        per_customer = 200
        made = 0
        started = time.monotonic()
        while made < recipients:
            with transaction.atomic():
                customer = customer_services.customer_create(
                    actor=owner, data={"name": f"测速客户{campaign.pk}-{made}"}, force=True
                )
                contacts = Contact.objects.bulk_create(
                    Contact(
                        customer=customer,
                        name=f"王{n}",
                        gender="m" if n % 2 else "f",
                        email=f"p{campaign.pk}.{made + n}@example.cn",
                    )
                    for n in range(min(per_customer, recipients - made))
                )
                Consent.objects.bulk_create(
                    Consent(
                        contact=contact,
                        channel=Channel.EMAIL,
                        status=ConsentStatus.GRANTED,
                        source=ConsentSource.IMPORT,
                    )
                    for contact in contacts
                )
                CampaignMember.objects.bulk_create(
                    CampaignMember(campaign=campaign, contact=contact, customer=customer)
                    for contact in contacts
                )
            made += len(contacts)
        print(
            f"generated {made} members in {time.monotonic() - started:.1f} s "
            f"({Customer.objects.count()} customers)",
            flush=True,
        )
    template = MessageTemplate.objects.filter(
        name="bench"
    ).first() or MessageTemplate.objects.create(
        name="bench",
        channel=Channel.EMAIL,
        subject="{{ salutation }}，诚邀您参加{{ campaign }}",
        body="{{ salutation }}您好：\n{{ company }}…\n{{ owner_name }} {{ owner_phone }}\n"
        "退订：{{ unsubscribe_url }}",
        owner=user,
    )
    return user, campaign, template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    if not os.environ.get("KEHU_DATABASE_URL"):
        print("set KEHU_DATABASE_URL to the bench's own database", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    import django

    django.setup()
    from django.conf import settings

    from kehu.campaigns.services import sends
    from kehu.core import config

    port = _free_port()
    ready = multiprocessing.Event()
    counter = multiprocessing.Value("l", 0)
    sink = multiprocessing.Process(target=_sink, args=(port, ready, counter), daemon=True)
    sink.start()
    ready.wait(30)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    user, campaign, template = _setup(args.recipients)
    config.put(sends.SEND_PER_MINUTE.key, sends.SEND_PER_MINUTE.maximum)
    # The job runs here, timed, instead of in a worker
    sends.enqueue = lambda send_id: None
    prepare = sends._prepare
    prepared: list[float] = []

    def timed_prepare(send: Any) -> None:
        started = time.monotonic()
        prepare(send)
        prepared.append(time.monotonic() - started)

    sends._prepare = timed_prepare  # type: ignore[assignment]
    rates, delivery_rates, requests, preparations = [], [], [], []
    try:
        for run in range(args.runs):
            before = counter.value
            started = time.monotonic()
            send = sends.send_create(actor=user, campaign_id=campaign.pk, template_id=template.pk)
            created = time.monotonic() - started
            started = time.monotonic()
            done = sends.send_run(send.pk)
            elapsed = time.monotonic() - started
            assert done is not None
            received = counter.value - before
            preparation = prepared[-1]
            rate = done.sent / elapsed
            delivery = done.sent / (elapsed - preparation)
            rates.append(rate)
            delivery_rates.append(delivery)
            requests.append(created)
            preparations.append(preparation)
            load = " ".join(f"{value:.1f}" for value in os.getloadavg())
            print(
                f"run {run + 1}: request {created * 1000:.0f} ms; job prepared {done.total} "
                f"messages in {preparation:.1f} s, sent {done.sent} (failed {done.failed}, "
                f"sink got {received}) in {elapsed:.1f} s = {rate:.0f} msgs/s "
                f"(delivery alone {delivery:.0f} msgs/s); load average {load}",
                flush=True,
            )
    finally:
        sink.terminate()
    print(
        f"median over {len(rates)} runs: {statistics.median(rates):.0f} msgs/s "
        f"(delivery alone {statistics.median(delivery_rates):.0f}); request "
        f"{statistics.median(requests) * 1000:.0f} ms; preparation "
        f"{statistics.median(preparations):.1f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
