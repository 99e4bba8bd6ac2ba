from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "kehu.governance"
    label = "governance"
    verbose_name = _("Data governance")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.governance import retention_sections, tasks
        from kehu.governance.services import retention

        retention_sections.register()  # the customer page's legal hold card
        retention.set_execute_queue(tasks.retention_execute)
