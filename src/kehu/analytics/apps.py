from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "kehu.analytics"
    label = "analytics"
    verbose_name = _("Analysis and review")

    def ready(self) -> None:
        # Imported in ready(): the report modules use models, which load only after every app.
        from kehu.analytics import registry

        registry.load_reports()
        # The rep-performance summary's nightly job registers with huey on import.
        from kehu.analytics import activity_tasks  # noqa: F401
