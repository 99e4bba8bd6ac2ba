from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "kehu.integrations"
    label = "integrations"
    verbose_name = _("Integrations")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.integrations import external_sections

        external_sections.register()  # the customer page's external ids
