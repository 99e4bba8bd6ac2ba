from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "kehu.campaigns"
    label = "campaigns"
    verbose_name = _("Marketing campaigns")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.campaigns import tasks  # noqa: F401  (registers the jobs)
