"""The figures of a campaign's results and of the comparison (kehu.campaigns.selectors.results)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kehu.campaigns.selectors import results as selectors
from kehu.campaigns.tests.results_support import WON, make_campaign, scenario, touch
from kehu.core import config
from kehu.core.errors import InvalidInput, NotFound
from kehu.core.testing.factories import Organisation

pytestmark = pytest.mark.django_db


def test_campaign_figures(org: Organisation) -> None:
    made = scenario(org)
    result = selectors.campaign_results(org.marketing, made.expo.pk)
    assert result.members == 6  # five contacts and a lead
    assert result.funnel == {"invited": 6, "registered": 3, "attended": 2, "interested": 1}
    assert (result.responded, result.reached, result.messages_sent) == (3, 4, 1)
    assert result.response_rate == Decimal("50.0")
    assert (result.leads, result.converted_leads, result.new_customers) == (3, 1, 1)
    assert result.lead_conversion_rate == Decimal("33.3")
    assert result.cost == Decimal("15000")
    assert result.cost_per_lead == Decimal("5000.00")
    assert result.budget_used == Decimal("75.0")
    # last touch: the won deal (expo touched last) and the open one; the old touch is ignored
    assert (result.last.opportunities, result.last.won, result.last.won_amount) == (2, 1, WON)
    assert result.roi == Decimal("5.6667")  # (100,000 − 15,000) / 15,000
    # first touch: the webinar reached the buyer first, so the expo has the open deal only
    assert (result.first.opportunities, result.first.won, result.first.won_amount) == (1, 0, 0)
    assert result.first.roi == Decimal("-1.0000")
    # leads captured through the form credit the expo by both models
    assert (result.first.leads, result.last.leads) == (2, 2)
    assert not result.amounts_masked


def test_goals_filter_by_industry_and_region(org: Organisation) -> None:
    made = scenario(org)
    goals = {g.goal.label: g for g in selectors.campaign_results(org.admin, made.expo.pk).goals}
    assert goals["新增线索3条"].actual == 3
    assert goals["新增线索3条"].met
    assert goals["新增制造业客户1家（浙江）"].actual == 1  # 34 is in C, 杭州 in 浙江
    assert goals["华南区商机"].actual == 0  # both deals are in Zhejiang
    assert goals["成交20万"].actual == WON
    assert goals["成交20万"].progress == Decimal("50.0")


def test_cost_zero_has_no_roi(org: Organisation) -> None:
    made = scenario(org)
    webinar = selectors.campaign_results(org.admin, made.webinar.pk)
    assert (webinar.first.won, webinar.first.won_amount) == (1, WON)
    assert webinar.cost == 0
    assert webinar.first.roi is None
    assert webinar.roi is None
    assert webinar.cost_per_lead is None
    assert webinar.response_rate is None


def test_lookback_window_is_a_setting(org: Organisation) -> None:
    made = scenario(org)
    config.put(selectors.LOOKBACK_DAYS.key, 365, actor=org.admin)
    result = selectors.campaign_results(org.admin, made.expo.pk)
    assert result.first.opportunities == 2  # the old deal's 200-day-old touch counts now


def test_a_touch_after_the_deal_credits_nothing(org: Organisation) -> None:
    made = scenario(org)
    late = make_campaign(org.marketing, name="晚到的活动")
    touch(late, "message", days_ago=-1, customer=made.won_deal.customer)
    result = selectors.campaign_results(org.admin, late.pk)
    assert (result.first.opportunities, result.last.opportunities) == (0, 0)


def test_visible_won_amounts(org: Organisation) -> None:
    made = scenario(org)
    config.put(selectors.WON_AMOUNTS.key, "visible", actor=org.admin)
    marketing = selectors.campaign_results(org.marketing, made.expo.pk)
    assert marketing.last.won == 1
    assert marketing.last.won_amount == 0
    assert marketing.amounts_masked
    manager = selectors.campaign_results(org.east_manager, made.expo.pk)
    assert manager.last.won_amount == WON
    assert not manager.amounts_masked


def test_scope(org: Organisation) -> None:
    made = scenario(org)
    assert selectors.campaign_results(org.east_manager, made.expo.pk).campaign == made.expo
    for user in (org.south_manager, org.rep, org.service):
        with pytest.raises(NotFound):
            selectors.campaign_results(user, made.expo.pk)
    assert selectors.campaign_results(org.south_manager, made.webinar.pk)


def test_results_of_many_campaigns_take_fixed_queries(
    org: Organisation, django_assert_max_num_queries: Any
) -> None:
    scenario(org)
    for number in range(5):
        make_campaign(org.marketing, name=f"活动{number}")
    campaigns = list(selectors.results_campaigns(org.admin))
    with django_assert_max_num_queries(14):
        found = selectors.results_for(org.admin, campaigns)
    assert len(found) == 7


def test_compare_filters(org: Organisation) -> None:
    made = scenario(org)
    parse = selectors.parse_compare_filters
    everything = selectors.compare_campaigns(org.admin, parse({}))
    assert set(everything) == {made.expo, made.webinar}
    webinars = selectors.compare_campaigns(org.admin, parse({"type": "webinar"}))
    assert list(webinars) == [made.webinar]
    south = selectors.compare_campaigns(org.admin, parse({"department": str(org.south.pk)}))
    assert list(south) == [made.webinar]
    recent = parse({"from": made.expo.starts_on.isoformat()})
    assert list(selectors.compare_campaigns(org.admin, recent)) == [made.expo]
    assert list(selectors.compare_campaigns(org.east_manager, parse({}))) == [made.expo]
    assert not selectors.compare_campaigns(org.rep, parse({})).exists()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"from": "2026-12-01", "to": "2026-11-01"}, "to"),
        ({"type": "radio"}, "type"),
        ({"department": "abc"}, "department"),
        ({"department": str(10**40)}, "department"),
    ],
)
def test_compare_bad_filters(params: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        selectors.parse_compare_filters(params)
    assert field in raised.value.errors
