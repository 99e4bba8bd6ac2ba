from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GovernanceConfig(AppConfig):
    name = "kehu.governance"
    label = "governance"
    verbose_name = _("Data governance")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.governance import request_links
        from kehu.governance.services import audit  # noqa: F401  (defines its settings)

        request_links.register()  # the customer page's card and the lead page's link
