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
        _connect_pipeline_summary()
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


def _connect_pipeline_summary() -> None:
    """Keep the deal follow-up summary on every write of a deal or a follow-up."""
    from django.db.models.signals import post_delete, post_save

    from kehu.analytics import pipeline_tasks  # noqa: F401  (registers the nightly rebuild)
    from kehu.analytics.services import pipeline
    from kehu.customers.hooks import on_customers_changed
    from kehu.followups.models import FollowUp
    from kehu.opportunities.models import Opportunity, StageChange

    on_customers_changed(pipeline.on_customers_changed)
    post_save.connect(pipeline.on_deal_saved, sender=Opportunity, dispatch_uid="analytics-deal")
    post_save.connect(
        pipeline.on_stage_change_saved, sender=StageChange, dispatch_uid="analytics-stage"
    )
    for signal in (post_save, post_delete):
        signal.connect(
            pipeline.on_followup_changed, sender=FollowUp, dispatch_uid="analytics-followup"
        )
