"""The SMS and WeCom back-ends Kehu ships, registered by name, and the ones the settings pick.

``register_all`` runs from ``CampaignsConfig.ready``. The send pipeline asks for
``sms_backend()`` / ``wecom_backend()`` (or ``base.backend(name)`` with the setting's value) and
calls ``send_batch``; docs/channels.md describes the interface and how to add a provider.
"""

from __future__ import annotations

from kehu.core import config

from . import aliyun_sms, base, common, tencent_sms, wecom


def register_all() -> None:
    base.register(aliyun_sms.NAME, aliyun_sms.AliyunSms)
    base.register(tencent_sms.NAME, tencent_sms.TencentSms)
    base.register(wecom.NAME, wecom.WeComCustomerMessages)


def sms_backend() -> base.ChannelBackend:
    """The SMS back-end ``campaigns.sms_backend`` names."""
    return base.backend(str(config.get(common.SMS_BACKEND.key)))


def wecom_backend() -> base.ChannelBackend:
    """The WeCom back-end ``campaigns.wecom_backend`` names."""
    return base.backend(str(config.get(common.WECOM_BACKEND.key)))


def backend_for(channel: str) -> base.ChannelBackend:
    """The back-end of a campaign channel other than e-mail ("sms" or "wecom")."""
    if channel == "sms":
        return sms_backend()
    if channel == "wecom":
        return wecom_backend()
    raise base.ChannelUnavailable(f"no configurable back-end for the channel {channel!r}")
