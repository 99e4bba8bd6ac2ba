from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "kehu.integrations"
    label = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from django.db.models.signals import post_migrate

        from kehu.core import custom_fields, events
        from kehu.customers import hooks as customer_hooks
        from kehu.integrations import external_sections, tasks
        from kehu.integrations.services import custom_fields as custom_field_services
        from kehu.integrations.services import external_ids, webhooks

        external_sections.register()  # the customer page's external ids
        # A merged customer's external ids name the survivor from then on.
        customer_hooks.on_customers_merged(external_ids.move_customer_ids)
        # Committed events queue their webhook deliveries (nothing when no webhook is on).
        events.on_events(tasks.events_committed, wants=webhooks.any_active)
        webhooks.set_delivery_queue(tasks.webhook_deliver)
        # The record apps read the custom fields' definitions through core.
        custom_fields.set_provider(custom_field_services.active_specs)
        post_migrate.connect(custom_field_services.ensure_indexes, sender=self)
