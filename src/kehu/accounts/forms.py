from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kehu.accounts.models import User


class TokenCreateForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100)
    expires_at = forms.DateTimeField(
        label=_("Expires"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Leave empty for a token that lasts until revoked."),
    )


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["display_name", "email", "mobile", "language", "money_unit"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A post without it (a client written before the setting) keeps the user's choice.
        self.fields["money_unit"].required = False

    def clean_money_unit(self) -> str:
        return str(self.cleaned_data.get("money_unit") or self.instance.money_unit)


class CodeForm(forms.Form):
    """A code of the authenticator app (6 digits) or a recovery code (xxxxx-xxxxx)."""

    code = forms.CharField(
        label=pgettext_lazy("two-factor", "Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )
