"""Forms of the follow-up UI; they only parse input, the services validate the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.accounts.models import User
from kehu.customers.models import Contact, Customer
from kehu.followups.models import Method, RenewalIntent, Sentiment, TaskPriority


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> Any:
        if not data:
            return []
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)]


class BootstrapMixin:
    """Give every widget Bootstrap's class."""

    fields: dict[str, Any]

    def style(self) -> None:
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select form-select-sm"
            else:
                css = "form-control form-control-sm"
            widget.attrs["class"] = css


DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class FollowUpForm(BootstrapMixin, forms.Form):
    occurred_at = forms.DateTimeField(label=_("When"), widget=DATETIME_WIDGET)
    method = forms.ChoiceField(label=_("Method"), choices=Method.choices)
    contact = forms.ModelChoiceField(
        label=_("Contact"), queryset=Contact.objects.none(), required=False
    )
    content = forms.CharField(
        label=_("Content"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=10000,
        help_text=_("An objective description of what was discussed."),
    )
    sentiment = forms.ChoiceField(
        label=_("Customer feedback"), choices=Sentiment.choices, initial=Sentiment.NEUTRAL
    )
    sentiment_reason = forms.CharField(label=_("Reason"), max_length=500, required=False)
    renewal_intent = forms.ChoiceField(
        label=_("Renewal intent"),
        choices=[("", _("Not discussed")), *RenewalIntent.choices],
        required=False,
    )
    next_step_on = forms.DateField(label=_("Next step date"), required=False, widget=DATE_WIDGET)
    next_step_action = forms.CharField(label=_("Next step"), max_length=300, required=False)
    next_step_owner = forms.ModelChoiceField(
        label=_("Next step owner"),
        queryset=User.objects.filter(is_active=True),
        required=False,
        help_text=_("Leave empty for yourself."),
    )
    verified = forms.BooleanField(label=_("Information verified"), required=False)
    attachments = MultipleFileField(label=_("Attachments"), required=False)
    # A rep in the field photographs a business card or the site: the phone opens its camera.
    photo = forms.FileField(
        label=_("Photo"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/*", "capture": "environment"}),
        help_text=_("Take a photo with the phone's camera; it is attached like a file."),
    )

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = Contact.objects.filter(customer=customer)
        self.style()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        photo = cleaned.pop("photo", None)
        if photo:
            cleaned["attachments"] = [*(cleaned.get("attachments") or []), photo]
        return cleaned


class TaskForm(BootstrapMixin, forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    due_at = forms.DateTimeField(label=_("Due"), widget=DATETIME_WIDGET)
    priority = forms.ChoiceField(
        label=_("Priority"), choices=TaskPriority.choices, initial=TaskPriority.NORMAL
    )
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style()


class SnoozeForm(BootstrapMixin, forms.Form):
    until = forms.DateTimeField(label=_("Snooze until"), widget=DATETIME_WIDGET)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style()


class FirstTalkEmailForm(forms.Form):
    """The first-talk e-mail: who to, the merge values, the text with its merge fields."""

    contact = forms.TypedChoiceField(label=_("To"), coerce=int, empty_value=None)
    salutation = forms.CharField(
        label=_("Salutation"),
        max_length=1000,
        required=False,
        help_text=_("e.g. 王先生, 李女士, 张经理"),
    )
    need_summary = forms.CharField(
        label=_("Need summary"), max_length=1000, required=False, widget=forms.Textarea({"rows": 3})
    )
    next_meeting = forms.CharField(
        label=_("Proposed next meeting"),
        max_length=1000,
        required=False,
        help_text=_("e.g. 2026-12-10 14:00, a demo at your office"),
    )
    template = forms.TypedChoiceField(
        label=_("Template"), coerce=int, empty_value=None, required=False
    )
    subject = forms.CharField(label=_("Subject"), max_length=300)
    body = forms.CharField(
        label=_("Message"), max_length=20000, widget=forms.Textarea({"rows": 12})
    )

    def __init__(
        self, *args: Any, contacts: list[Contact], templates: list[Any], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        contact_field = self.fields["contact"]
        assert isinstance(contact_field, forms.TypedChoiceField)
        contact_field.choices = [("", "")] + [
            (contact.pk, f"{contact.name} · {contact.title}" if contact.title else contact.name)
            for contact in contacts
        ]
        template_field = self.fields["template"]
        assert isinstance(template_field, forms.TypedChoiceField)
        template_field.choices = [("", "—")] + [(item.pk, item.name) for item in templates]


class EmailTemplateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(label=_("Body"), max_length=10000, widget=forms.Textarea({"rows": 14}))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
