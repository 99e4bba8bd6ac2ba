from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "kehu.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from django.contrib.admin.models import LogEntry
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate, post_save

        from kehu.core import (
            audit,
            audit_guard,
            history,  # noqa: F401  (connects the history signal receivers)
            links,  # noqa: F401  (defines the system.base_url setting)
        )
        from kehu.core.postgres import use_optimised_timestamp_loader

        connection_created.connect(use_optimised_timestamp_loader)
        post_migrate.connect(audit_guard.ensure_after_migrate, sender=self)
        # Every action in the Django admin (/admin/) is an audit entry too.
        post_save.connect(audit.admin_logged, sender=LogEntry, dispatch_uid="kehu.audit.admin")
