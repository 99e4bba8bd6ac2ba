from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransferConfig(AppConfig):
    name = "kehu.transfer"
    label = "transfer"
    verbose_name = _("Import and export")

    def ready(self) -> None:
        # Registers the transfer.* settings (export and import roles).
        from kehu.transfer import exporting  # noqa: F401
