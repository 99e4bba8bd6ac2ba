from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpportunitiesConfig(AppConfig):
    name = "kehu.opportunities"
    label = "opportunities"
    verbose_name = _("Opportunities")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.core import dashboard, demo
        from kehu.customers import grading, timeline
        from kehu.opportunities import (
            conf,  # noqa: F401 - registers the pipeline settings
            handover,
            hooks,
        )
        from kehu.opportunities.demo import OPPORTUNITIES
        from kehu.opportunities.grading import regrade_on_win, won_grade_input
        from kehu.opportunities.panels import pipeline_panel, won_panel
        from kehu.opportunities.timeline import customer_opportunity_items

        dashboard.register(pipeline_panel)
        dashboard.register(won_panel)
        timeline.register(customer_opportunity_items)
        demo.register(OPPORTUNITIES)
        handover.register()
        # The deals won feed the customer grade; winning one regrades its customer at once.
        grading.register_grade_input(won_grade_input)
        hooks.on_deal_won(regrade_on_win)
