from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "kehu.integrations"
    label = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.core import events
        from kehu.customers import hooks as customer_hooks
        from kehu.integrations import external_sections, tasks
        from kehu.integrations.services import external_ids, webhooks

        external_sections.register()  # the customer page's external ids
        # A merged customer's external ids name the survivor from then on.
        customer_hooks.on_customers_merged(external_ids.move_customer_ids)
        # Committed events queue their webhook deliveries (nothing when no webhook is on).
        events.on_events(tasks.events_committed, wants=webhooks.any_active)
        webhooks.set_delivery_queue(tasks.webhook_deliver)
