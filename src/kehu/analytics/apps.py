from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "kehu.analytics"
    label = "analytics"
    verbose_name = _("Analysis and review")

    def ready(self) -> None:
        # Imported in ready(): the report modules use models, which load only after every app.
        from kehu.analytics import demo_targets, panels, registry
        from kehu.core import dashboard, demo

        registry.load_reports()
        dashboard.register(panels.rep_panel)
        dashboard.register(panels.manager_panel)
        demo.register(demo_targets.TARGETS)
        # The rep-performance summary's nightly job registers with huey on import.
        from kehu.analytics import activity_tasks  # noqa: F401
