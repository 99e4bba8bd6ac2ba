from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "kehu.governance"
    label = "governance"
    verbose_name = _("Data governance")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config; the
        # settings they define load with the app.
        from kehu.governance import (
            request_links,
            tasks,  # noqa: F401  (the audit purge, the daily backup)
        )
        from kehu.governance.services import (
            audit,  # noqa: F401  (governance.audit_*)
            backups,  # noqa: F401  (governance.backup_*)
        )

        request_links.register()  # the customer page's card and the lead page's link
