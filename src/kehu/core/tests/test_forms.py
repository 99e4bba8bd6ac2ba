"""One form layout for every form (kehu.core.forms.KehuFormRenderer)."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.test import Client
from django.urls import reverse
from django.utils import translation

from kehu.accounts.models import User
from kehu.core.testing.factories import Organisation


class Sample(forms.Form):
    name = forms.CharField(label="Name", help_text="As on the licence.")
    kind = forms.ChoiceField(label="Kind", choices=[("", "---------"), ("a", "A")])
    owner = forms.ModelChoiceField(label="Owner", queryset=User.objects.none(), required=False)
    notes = forms.CharField(label="Notes", widget=forms.Textarea, required=False)
    agree = forms.BooleanField(label="Agree", required=False)
    small = forms.CharField(
        label="Small", required=False, widget=forms.TextInput(attrs={"class": "form-control-sm"})
    )


@pytest.mark.django_db
def test_every_widget_gets_its_class_labels_above_and_required_marks() -> None:
    with translation.override("en"):
        html = str(Sample())
    assert '<label class="form-label" for="id_name">Name <span class="text-danger"' in html
    assert 'class="form-control"' in html  # text and textarea
    assert re.search(r'<select name="kind"[^>]* class="form-select"', html)
    assert 'class="form-check-input"' in html
    assert 'class="form-control-sm"' in html  # a form's own class is kept
    assert 'id="id_name_helptext"' in html
    assert "As on the licence." in html
    assert "---------" not in html
    assert html.count("Select…</option>") == 2  # choices and model choices


@pytest.mark.django_db
def test_errors_sit_under_the_field_and_mark_it_invalid() -> None:
    with translation.override("zh-hans"):
        form = Sample(data={"name": ""})
        form.is_valid()
        html = str(form)
    assert 'class="form-control is-invalid"' in html
    assert '<div class="invalid-feedback d-block">' in html
    assert '<option value="" selected>请选择</option>' in html


@pytest.mark.django_db
def test_the_profile_and_token_forms_use_the_layout(org: Organisation) -> None:
    client = Client()
    client.force_login(org.rep)
    page = client.get(reverse("accounts:profile")).content.decode()
    assert '<label class="form-label" for="id_display_name">' in page
    assert re.search(r'<select name="language"[^>]* class="form-select"', page)
    assert re.search(r'<select name="money_unit"[^>]* class="form-select"', page)
    assert re.search(r'<input type="text" name="name"[^>]* class="form-control"', page)
    assert '<option value="" selected>请选择</option>' in page
    assert "---------" not in page


@pytest.mark.django_db
def test_the_profile_saves_the_money_unit(org: Organisation) -> None:
    client = Client()
    client.force_login(org.rep)
    response = client.post(
        reverse("accounts:profile"),
        {
            "action": "profile",
            "display_name": "小王",
            "email": "",
            "mobile": "",
            "language": "",
            "money_unit": "wan",
        },
    )
    assert response.status_code == 302
    org.rep.refresh_from_db()
    assert org.rep.money_unit == "wan"


@pytest.mark.django_db
def test_help_text_html_of_django_forms_is_kept(org: Organisation) -> None:
    client = Client()
    client.force_login(org.rep)
    page = client.get(reverse("accounts:password_change")).content.decode()
    assert "&lt;li&gt;" not in page  # the password validators' help is a real list
    assert re.search(r'<input type="password" name="old_password"[^>]* class="form-control"', page)
