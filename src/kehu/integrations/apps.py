from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "kehu.integrations"
    label = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.core import events
        from kehu.integrations import external_sections, tasks
        from kehu.integrations.services import webhooks

        external_sections.register()  # the customer page's external ids
        # Committed events queue their webhook deliveries (nothing when no webhook is on).
        events.on_events(tasks.events_committed, wants=webhooks.any_active)
        webhooks.set_delivery_queue(tasks.webhook_deliver)
