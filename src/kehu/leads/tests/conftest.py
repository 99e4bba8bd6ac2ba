"""Fixtures of the leads tests: leads in any state, rules, a web form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kehu.core.testing.factories import Organisation
from kehu.leads import services
from kehu.leads.models import AssignmentRule, Lead, WebForm

SHANGHAI = "310000"
PUDONG = "310115"
HANGZHOU = "330100"
ZHEJIANG = "330000"
SHENZHEN = "440300"

LeadFactory = Callable[..., Lead]


@pytest.fixture
def make_lead(db: None) -> LeadFactory:
    counter = iter(range(1, 100_000))

    def build(*, actor: Any = None, **data: Any) -> Lead:
        number = next(counter)
        values: dict[str, Any] = {
            "company_name": f"测试科技有限公司{number}",
            "contact_name": f"联系人{number}",
            "mobile": f"1380013{number:04d}",
            "source": "trade_show",
        }
        values.update(data)
        return services.lead_capture(actor=actor, data=values)

    return build


@pytest.fixture
def assigned_lead(org: Organisation, make_lead: LeadFactory) -> Lead:
    lead = make_lead()
    return services.lead_assign(actor=org.admin, lead=lead, assignee=org.rep)


@pytest.fixture
def confirmed_lead(org: Organisation, assigned_lead: Lead) -> Lead:
    return services.lead_confirm(actor=org.rep, lead=assigned_lead)


@pytest.fixture
def east_rules(org: Organisation) -> list[AssignmentRule]:
    """Region first: Shanghai leads to the two Shanghai reps; Zhejiang to the Hangzhou group."""
    return [
        services.rule_create(
            actor=org.admin,
            data={"name": "上海", "region_codes": [SHANGHAI], "reps": [org.rep, org.colleague]},
        ),
        services.rule_create(
            actor=org.admin,
            data={"name": "浙江", "region_codes": [ZHEJIANG], "department": org.hangzhou},
        ),
    ]


@pytest.fixture
def web_form(org: Organisation) -> WebForm:
    return services.web_form_create(
        actor=org.marketing,
        data={"name": "官网留言", "source": "website", "source_detail": "官网-产品页"},
    )
