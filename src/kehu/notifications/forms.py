"""The form of a delivery channel, rendered by the project's one form layout."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.notifications.models import ChannelKind


class ChannelForm(forms.Form):
    kind = forms.ChoiceField(label=_("Channel"), choices=ChannelKind.choices)
    target = forms.CharField(
        label=_("Address"),
        required=False,
        max_length=500,
        help_text=_("Webhook URL of the robot; for email, leave empty to use your account email."),
        widget=forms.TextInput(
            attrs={"placeholder": "https://oapi.dingtalk.com/robot/send?access_token=…"}
        ),
    )
    secret = forms.CharField(
        label=_("Signing secret"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    digest = forms.BooleanField(label=_("Daily digest"), required=False)
