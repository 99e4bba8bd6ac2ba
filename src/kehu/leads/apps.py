from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "kehu.leads"
    label = "leads"
    verbose_name = _("Leads")

    def ready(self) -> None:
        from kehu.core import dashboard, demo
        from kehu.leads import conf, handover, panels, tasks  # noqa: F401  (settings and jobs register)
        from kehu.leads.demo import LEADS

        dashboard.register(panels.leads_panel)
        demo.register(LEADS)
        handover.register()
