from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "kehu.governance"
    label = "governance"
    verbose_name = _("Data governance")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config; the
        # settings they define load with the app.
        from kehu.governance import request_links, retention_sections, tasks
        from kehu.governance.services import (
            audit,  # noqa: F401  (governance.audit_*)
            backups,  # noqa: F401  (governance.backup_*)
            retention,
        )

        request_links.register()  # the customer page's card and the lead page's link
        retention_sections.register()  # the customer page's legal hold card
        retention.set_execute_queue(tasks.retention_execute)
