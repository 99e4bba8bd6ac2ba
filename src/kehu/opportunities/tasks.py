"""Pipeline jobs: nightly win probabilities, morning stalled-deal notices."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from kehu.core.context import acting_context, new_request_id
from kehu.opportunities import services


@db_periodic_task(crontab(hour="2", minute="15"))
def recompute_win_probabilities() -> int:
    with acting_context(new_request_id("job")):
        return len(services.probabilities_recompute())


@db_periodic_task(crontab(hour="8", minute="30"))
def notify_stalled_deals() -> int:
    with acting_context(new_request_id("job")):
        return services.stalled_notify()
