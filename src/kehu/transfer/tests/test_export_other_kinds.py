"""Exports of opportunities, follow-ups and leads: the models' own scope and masking."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from kehu.core import config
from kehu.core.testing.factories import api_client
from kehu.customers import services as customer_services
from kehu.opportunities import services as opportunity_services
from kehu.transfer.models import ExportLog

pytestmark = pytest.mark.django_db


def _rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.content
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(content)))


def test_opportunities_are_scoped_and_masked(org: Any) -> None:
    mine = customer_services.customer_create(actor=org.rep, data={"name": "甲方精工有限公司"})
    south = customer_services.customer_create(
        actor=org.south_rep, data={"name": "乙方贸易有限公司"}
    )
    opportunity_services.opportunity_create(
        actor=org.rep, customer=mine, data={"name": "=1+1 项目", "amount": Decimal("120000")}
    )
    opportunity_services.opportunity_create(
        actor=org.south_rep, customer=south, data={"name": "华南项目", "amount": Decimal("5000")}
    )
    rows = _rows(api_client(org.admin).get("/api/v1/exports/opportunities"))
    assert len(rows) == 3
    assert "'=1+1 项目" in {cell for row in rows[1:] for cell in row}
    config.put("transfer.export_roles", ["admin", "manager", "sales"])
    rows = _rows(api_client(org.colleague).get("/api/v1/exports/opportunities"))
    assert len(rows) == 1  # a colleague sees neither opportunity
    rows = _rows(api_client(org.rep).get("/api/v1/exports/opportunities?format=csv"))
    assert len(rows) == 2
    assert ExportLog.objects.filter(kind="opportunities").count() == 3


def test_followups_and_leads_export(org: Any) -> None:
    from kehu.followups import services as followup_services

    customer = customer_services.customer_create(actor=org.rep, data={"name": "丙方科技有限公司"})
    followup_services.followup_create(
        actor=org.rep,
        customer=customer,
        data={"occurred_at": timezone.now(), "method": "phone", "content": "电话沟通需求"},
    )
    rows = _rows(api_client(org.admin).get("/api/v1/exports/followups"))
    assert len(rows) == 2
    assert "电话沟通需求" in rows[1]
    assert _rows(api_client(org.admin).get("/api/v1/exports/leads"))[0]
    assert api_client(org.rep).get("/api/v1/exports/leads").status_code == 403
