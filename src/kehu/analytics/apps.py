from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "kehu.analytics"
    label = "analytics"
    verbose_name = _("Analysis and review")

    def ready(self) -> None:
        # Imported in ready(): the report modules use models, which load only after every app.
        # The task modules register their jobs with huey on import.
        from kehu.analytics import activity_tasks, demo_targets, hooks, panels, registry, tasks
        from kehu.analytics.demo_scores import SCORES
        from kehu.analytics.views.scores import section_context
        from kehu.core import dashboard, demo
        from kehu.customers import sections

        del activity_tasks, tasks
        registry.load_reports()
        hooks.register()
        dashboard.register(panels.rep_panel)
        dashboard.register(panels.manager_panel)
        demo.register(demo_targets.TARGETS)
        demo.register(SCORES)
        sections.register(
            sections.Section(
                key="scores",
                title=_("Churn risk and value"),
                template="analytics/scores/_section.html",
                context=section_context,
                shown=lambda user: getattr(user, "role", "") != "marketing",
                order=60,
            )
        )
