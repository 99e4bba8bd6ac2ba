from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "kehu.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.accounts import (
            conf,  # noqa: F401  (the security settings register)
            signals,
        )
        from kehu.accounts.demo import USERS
        from kehu.core import demo

        demo.register(USERS)
        signals.connect()  # sign-ins into the audit trail
