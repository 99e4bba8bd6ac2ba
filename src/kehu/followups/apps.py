from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FollowupsConfig(AppConfig):
    name = "kehu.followups"
    label = "followups"
    verbose_name = _("Follow-ups")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.core import dashboard, demo, settings_pages
        from kehu.customers import hooks, timeline
        from kehu.followups import dashboard as panels
        from kehu.followups import handover, tasks
        from kehu.followups import settings as _rules  # noqa: F401  (registers the settings)
        from kehu.followups.demo import FOLLOWUPS
        from kehu.followups.timeline import followup_items, sent_email_items

        dashboard.register(panels.my_tasks_panel)
        timeline.register(followup_items)
        timeline.register(sent_email_items)
        demo.register(FOLLOWUPS)
        handover.register()
        managers = frozenset({"manager"})
        for label, url_name in (
            (_("Cadence plans"), "followups:cadence_plans"),
            (_("Care dates"), "followups:care_dates"),
        ):
            page = settings_pages.SettingsPage("followups", label, url_name, roles=managers)
            settings_pages.register(page)
        # Customers created or changed (status, grade, owner), singly or in bulk, are re-planned
        # by one job after the commit (kehu.customers.hooks batches a transaction's ids).
        hooks.on_customers_changed(tasks.replan_customers)
