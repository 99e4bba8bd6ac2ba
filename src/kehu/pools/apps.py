from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PoolsConfig(AppConfig):
    name = "kehu.pools"
    label = "pools"
    verbose_name = _("Customer pools")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.core import dashboard
        from kehu.core.access import policy_of
        from kehu.customers.models import Customer
        from kehu.pools import panels, tasks  # noqa: F401  (registers the daily job)
        from kehu.pools.access import pool_customer_ids

        dashboard.register(panels.pools_panel)
        # Pool members see the owner-less customers of their pools; managers may edit them.
        policy_of(Customer).grant(pool_customer_ids)
