from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowupsConfig(AppConfig):
    name = "kehu.followups"
    label = "followups"
    verbose_name = _("Follow-ups")

    def ready(self) -> None:
        from kehu.core import dashboard, demo
        from kehu.customers import timeline
        from kehu.followups import dashboard as panels
        from kehu.followups import (
            handover,
            signals,  # noqa: F401
            tasks,  # noqa: F401  (registers the periodic jobs)
        )
        from kehu.followups import settings as _rules  # noqa: F401  (registers the settings)
        from kehu.followups.demo import FOLLOWUPS
        from kehu.followups.timeline import followup_items

        dashboard.register(panels.my_tasks_panel)
        timeline.register(followup_items)
        demo.register(FOLLOWUPS)
        handover.register()
