from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowupsConfig(AppConfig):
    name = "kehu.followups"
    label = "followups"
    verbose_name = _("Follow-ups")

    def ready(self) -> None:
        from kehu.core import dashboard
        from kehu.customers import hooks
        from kehu.followups import dashboard as panels
        from kehu.followups import settings as _rules  # noqa: F401  (registers the settings)
        from kehu.followups import (
            signals,
            tasks,  # noqa: F401  (registers the periodic jobs)
        )

        dashboard.register(panels.my_tasks_panel)
        hooks.on_customers_changed(signals.replan_changed_customers)
        try:
            from kehu.customers import timeline
        except ImportError:  # the customer page has no timeline registry yet
            return
        from kehu.followups.timeline import followup_items

        timeline.register(followup_items)
