from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "kehu.campaigns"
    label = "campaigns"
    verbose_name = _("Marketing campaigns")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.campaigns import (
            demo,
            tasks,  # noqa: F401  (registers the jobs)
        )
        from kehu.campaigns import sections as consent_sections
        from kehu.campaigns.channels import providers
        from kehu.campaigns.services import consent, members, touches
        from kehu.campaigns.timeline import customer_touch_items
        from kehu.core import demo as core_demo
        from kehu.customers import sections, timeline
        from kehu.leads import hooks as lead_hooks

        # The SMS and WeCom back-ends, by name (channels/base.py).
        providers.register_all()
        # Touches on the customer timeline; leads from attached web forms carry the campaign
        # (and the consent ticked on the form), and a converted lead's touches gain its
        # customer.
        timeline.register(customer_touch_items)
        sections.register(consent_sections.CONSENT_SECTION)
        lead_hooks.on_lead_captured(members.lead_captured)
        lead_hooks.on_lead_captured(consent.web_form_consent)
        lead_hooks.on_lead_converted(touches.lead_converted)
        core_demo.register(demo.CAMPAIGNS)
