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
        _connect_pipeline_summary()


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
