from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "kehu.service"
    label = "service"
    verbose_name = _("After-sales service")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.core.access import policy_of
        from kehu.customers.models import Customer
        from kehu.service.access import handed_customer_ids
        from kehu.service.services import surveys, tickets

        # A service specialist sees the customers handed over to them (completed handovers).
        policy_of(Customer).grant(handed_customer_ids)

        # Resolving a ticket sends its satisfaction survey (after the commit).
        tickets.on_ticket_resolved(surveys.send_on_resolution)

        # The loop on the customer: timeline entries, the customer page's section, the
        # dashboard panels and the demo's tickets.
        from kehu.service import demo_tickets as service_demo
        from kehu.service import panels as service_panels
        from kehu.service import timeline as service_timeline

        service_timeline.register()
        service_panels.register()
        service_demo.register()
