from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "kehu.governance"
    label = "governance"
    verbose_name = _("Data governance")

    def ready(self) -> None:
        # Imported in ready(): the settings they define load with the app (models first).
        from kehu.governance import tasks  # noqa: F401  (the daily backup job)
        from kehu.governance.services import backups  # noqa: F401  (governance.backup_*)
