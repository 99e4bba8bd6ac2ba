from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "kehu.service"
    label = "service"
    verbose_name = _("After-sales service")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.core import dashboard, demo, settings_pages
        from kehu.core.access import policy_of
        from kehu.customers import grading, timeline
        from kehu.customers.models import Customer
        from kehu.opportunities import hooks
        from kehu.service import demo_tickets, panels
        from kehu.service import timeline as service_timeline
        from kehu.service.access import handed_customer_ids
        from kehu.service.demo import SERVICE_HANDOVER
        from kehu.service.selectors.handovers import customer_handover_items
        from kehu.service.selectors.surveys import satisfaction_grade_input
        from kehu.service.services import surveys, tickets
        from kehu.service.services.handovers import draft_for_won_deal, register_offboarding
        from kehu.service.views.handovers import confirmation_panel, drafts_panel

        # A service specialist sees the customers handed over to them (completed handovers).
        policy_of(Customer).grant(handed_customer_ids)
        # A won deal drafts its handover, in the winning transaction.
        hooks.on_deal_won(draft_for_won_deal)
        # Resolving a ticket sends its satisfaction survey (after the commit).
        tickets.on_ticket_resolved(surveys.send_on_resolution)
        # Grading may ask for a minimum satisfaction (customers.grade_rules' min_satisfaction).
        grading.register_grade_input(satisfaction_grade_input)
        # The loop on the customer: timeline entries, the customer page's section, panels.
        timeline.register(customer_handover_items)
        service_timeline.register()
        panels.register()
        dashboard.register(confirmation_panel)
        dashboard.register(drafts_panel)
        # The business calendar (holidays, 调休, working hours) under its settings chapter.
        settings_pages.register(
            settings_pages.SettingsPage(
                "service", _("SLA and business calendar"), "service:sla_settings"
            )
        )
        demo.register(SERVICE_HANDOVER)
        demo_tickets.register()
        register_offboarding()
