from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "kehu.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from kehu.notifications import (
            services,  # noqa: F401  (registers the settings)
            tasks,  # noqa: F401  (registers the jobs)
        )
