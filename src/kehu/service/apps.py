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

        # A service specialist sees the customers handed over to them (completed handovers).
        policy_of(Customer).grant(handed_customer_ids)

        # Tickets on the customer: timeline entries and the open tickets with their SLA.
        from kehu.customers import sections, timeline
        from kehu.service.views.tickets import customer_ticket_items, customer_ticket_section

        timeline.register(customer_ticket_items)
        sections.register(customer_ticket_section)
