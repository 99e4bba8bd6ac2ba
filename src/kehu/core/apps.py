from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "kehu.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from kehu.core import history  # noqa: F401  (connects the history signal receivers)
