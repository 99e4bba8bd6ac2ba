from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContractsConfig(AppConfig):
    name = "kehu.contracts"
    label = "contracts"
    verbose_name = _("Contracts and payments")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.contracts import payments_setup

        payments_setup.register()
