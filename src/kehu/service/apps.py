from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "kehu.service"
    label = "service"
    verbose_name = _("After-sales service")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.core import dashboard, demo
        from kehu.core.access import policy_of
        from kehu.customers import timeline
        from kehu.customers.models import Customer
        from kehu.opportunities import hooks
        from kehu.service.access import handed_customer_ids

        # A service specialist sees the customers handed over to them (completed handovers).
        policy_of(Customer).grant(handed_customer_ids)

        # Handovers: a won deal drafts one; panels, the timeline and the demo step.
        from kehu.service.demo import SERVICE_HANDOVER
        from kehu.service.selectors.handovers import customer_handover_items
        from kehu.service.services.handovers import draft_for_won_deal, register_offboarding
        from kehu.service.views.handovers import confirmation_panel, drafts_panel

        hooks.on_deal_won(draft_for_won_deal)
        dashboard.register(confirmation_panel)
        dashboard.register(drafts_panel)
        timeline.register(customer_handover_items)
        demo.register(SERVICE_HANDOVER)
        register_offboarding()
