"""The targets pages (list, set, change, delete), the dashboard panels and the demo step."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kehu.analytics.demo_targets import generate_targets
from kehu.analytics.models import Target
from kehu.analytics.reporting import quarter_of
from kehu.analytics.tests.targets_support import customer, target
from kehu.core.testing.factories import Organisation

pytestmark = pytest.mark.django_db


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form(org: Organisation, **change: Any) -> dict[str, Any]:
    return {
        "name": "本季度新增30家制造业中小企业",
        "period_kind": "quarter",
        "start": "2026-10-01",
        "department": org.east.pk,
        "measure": "new_customers",
        "value": "30",
        "industry": "C",
        "size_bands": ["lt50", "50-300"],
        **change,
    }


def test_manager_sets_changes_and_deletes_a_target(org: Organisation) -> None:
    client = client_of(org.east_manager)
    page = client.get(reverse("analytics:target_create"))
    assert page.status_code == 200
    for name in ("name", "period_kind", "start", "end", "department", "owner", "measure",
                 "value", "industry", "region", "customer_kind", "size_bands", "newness",
                 "parent", "notes"):  # fmt: skip
        assert f'name="{name}"' in page.content.decode()
    answer = client.post(reverse("analytics:target_create"), form(org))
    assert answer.status_code == 302
    made = Target.objects.get()
    assert (made.start, made.end, made.size_bands) == (
        date(2026, 10, 1),
        date(2026, 12, 31),
        ["lt50", "50-300"],
    )
    edit = reverse("analytics:target_edit", args=[made.pk])
    assert client.get(edit).status_code == 200
    answer = client.post(edit, {**form(org, value="40"), "version": made.version})
    assert answer.status_code == 302
    made.refresh_from_db()
    assert made.value == 40
    stale = client.post(edit, {**form(org, value="50"), "version": 1})
    assert stale.status_code == 200  # the form again, with the conflict
    made.refresh_from_db()
    assert made.value == 40
    delete = reverse("analytics:target_delete", args=[made.pk])
    assert client.get(delete).status_code == 200
    assert client.post(delete).status_code == 302
    assert not Target.objects.exists()


def test_form_shows_the_services_errors(org: Organisation) -> None:
    client = client_of(org.east_manager)
    target(org.east_manager, department=org.east.pk, industry="C", size_bands=["lt50", "50-300"])
    answer = client.post(reverse("analytics:target_create"), form(org))
    assert answer.status_code == 200
    assert "本季度新增30家制造业中小企业" in answer.content.decode()
    assert Target.objects.count() == 1
    bad = client.post(
        reverse("analytics:target_create"),
        form(org, period_kind="custom", start="2026-10-01", end="2026-09-01", industry=""),
    )
    assert bad.status_code == 200
    assert "is-invalid" in bad.content.decode()
    assert Target.objects.count() == 1


def test_rep_reads_but_may_not_set(org: Organisation) -> None:
    own = target(org.east_manager, owner=org.rep.pk, name="个人新增客户", value=4)
    customer(org.rep, created=timezone.localdate())
    client = client_of(org.rep)
    page = client.get(reverse("analytics:targets"), {"from": "2026-10-01", "to": "2026-12-31"})
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-target="{own.pk}"' in html
    assert reverse("analytics:target_edit", args=[own.pk]) not in html
    assert reverse("analytics:target_create") not in html
    assert client.get(reverse("analytics:target_create")).status_code == 403


def test_list_shows_progress(org: Organisation) -> None:
    made = target(org.east_manager, department=org.shanghai.pk, value=4)
    customer(org.rep)
    html = (
        client_of(org.east_manager)
        .get(reverse("analytics:targets"), {"from": "2026-10-01", "to": "2026-12-31"})
        .content.decode()
    )
    found = re.search(rf'data-target="{made.pk}".*?data-attainment="([^"]*)"', html, re.S)
    assert found is not None
    assert found.group(1) == "25.0"
    assert reverse("analytics:target_edit", args=[made.pk]) in html
    empty = client_of(org.east_manager).get(
        reverse("analytics:targets"), {"from": "2020-01-01", "to": "2020-03-31"}
    )
    assert 'id="no-targets"' in empty.content.decode()


def test_report_page_renders(org: Organisation) -> None:
    target(org.east_manager, department=org.east.pk)
    page = client_of(org.east_manager).get(
        reverse("analytics:report", args=["targets"]), {"from": "2026-10-01", "to": "2026-12-31"}
    )
    assert page.status_code == 200
    assert 'id="manage-targets"' in page.content.decode()


def this_quarter() -> date:
    return quarter_of(timezone.localdate())[0]


def test_dashboard_panels(org: Organisation) -> None:
    own = target(org.east_manager, owner=org.rep.pk, start=this_quarter(), value=2)
    team = target(org.east_manager, department=org.east.pk, start=this_quarter(), value=10)
    customer(org.rep, created=timezone.localdate())
    rep_page = client_of(org.rep).get(reverse("core:dashboard")).content.decode()
    assert 'id="targets-rep-panel"' in rep_page
    assert re.search(rf'data-target="{own.pk}".*?data-attainment="50.0"', rep_page, re.S)
    assert f'data-target="{team.pk}"' not in rep_page  # the region's, not the rep's department
    manager_page = client_of(org.east_manager).get(reverse("core:dashboard")).content.decode()
    assert 'id="targets-manager-panel"' in manager_page
    assert re.search(rf'data-target="{team.pk}".*?data-attainment="10.0"', manager_page, re.S)
    assert f'data-target="{own.pk}"' in manager_page
    south = client_of(org.south_manager).get(reverse("core:dashboard")).content.decode()
    assert f'data-target="{team.pk}"' not in south


def test_demo_step_sets_realistic_targets(org: Organisation) -> None:
    made = generate_targets(today=date(2026, 11, 20))
    assert made == Target.objects.count() > 0
    whole = Target.objects.get(
        name="本季度新增30家制造业中小企业", department=org.east, start=date(2026, 10, 1)
    )
    part = Target.objects.get(parent=whole)
    assert (part.name, part.value, part.region) == ("其中华东区20家", 20, "east")
    assert Target.objects.filter(owner=org.rep, start=date(2026, 7, 1)).exists()
