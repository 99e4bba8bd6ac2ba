"""What the payments area adds to other apps, registered from ``ContractsConfig.ready()``:
the ``first_payment`` stage requirement, the deal page's "Payments" card, the dashboard panel,
and the forecast's collected-vs-expected table."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

FIRST_PAYMENT = "first_payment"


def register() -> None:
    from kehu.contracts.services import payments as services
    from kehu.contracts.views import payments as views
    from kehu.core import dashboard
    from kehu.opportunities import forecast_sections, sections
    from kehu.opportunities.requirements import register_requirement

    register_requirement(FIRST_PAYMENT, _("First payment received"), services.first_payment_met)
    sections.register(
        sections.DealSection(
            key="payments",
            title=_("Payments"),
            template="contracts/payments/deal_card.html",
            context=views.deal_card_context,
            order=60,
        )
    )
    dashboard.register(views.collections_panel)
    forecast_sections.register(views.forecast_collections)
