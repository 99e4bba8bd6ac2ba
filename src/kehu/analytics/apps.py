from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "kehu.analytics"
    label = "analytics"
    verbose_name = _("Analysis and review")

    def ready(self) -> None:
        # Imported in ready(): the report modules use models, which load only after every app.
        from kehu.analytics import hooks, registry, tasks
        from kehu.analytics.demo_scores import SCORES
        from kehu.analytics.views.scores import section_context
        from kehu.core import demo
        from kehu.customers import sections

        registry.load_reports()
        del tasks  # imported for its job registration
        hooks.register()
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
