from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PoolsConfig(AppConfig):
    name = "kehu.pools"
    label = "pools"
    verbose_name = _("Customer pools")

    def ready(self) -> None:
        from kehu.core import dashboard
        from kehu.pools import panels, tasks  # noqa: F401  (registers the daily job)

        dashboard.register(panels.pools_panel)
