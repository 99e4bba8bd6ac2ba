from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "kehu.campaigns"
    label = "campaigns"
    verbose_name = _("Marketing campaigns")

    def ready(self) -> None:
        # Imported in ready(): they use models, which load only after every app config.
        from kehu.campaigns import sections as consent_sections
        from kehu.campaigns.services import consent
        from kehu.customers import sections

        sections.register(consent_sections.CONSENT_SECTION)

        try:
            # The leads app's capture hook (campaigns core, area B, adds kehu.leads.hooks);
            # until that is merged, web-form consent is recorded by nobody.
            from kehu.leads.hooks import on_lead_captured  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            pass
        else:
            on_lead_captured(consent.web_form_consent)
