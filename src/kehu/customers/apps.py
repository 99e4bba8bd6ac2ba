from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "kehu.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from kehu.core import dashboard, demo
        from kehu.customers import demo as customers_demo
        from kehu.customers import (
            grade_reasons,
            grading,
            handover,
            panels,
            reference,
            search_index,
            sections,
            services,
            tasks,
            timeline,
        )

        post_migrate.connect(reference.sync_after_migrate, sender=self)
        # a later migration that rebuilds a table on SQLite drops its search triggers
        post_migrate.connect(search_index.ensure_after_migrate, sender=self)
        dashboard.register(panels.customers_panel)
        timeline.register(panels.status_timeline)
        timeline.register(panels.attachment_timeline)
        demo.register(customers_demo.CUSTOMERS)
        demo.register_bulk_context(customers_demo.bulk_load)
        handover.register()
        sections.register(grade_reasons.GRADE_SECTION)  # the grade with its rule and figures
        del grading, services, tasks  # imported for their config.define()s and job registration
