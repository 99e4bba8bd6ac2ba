"""In Debian's chromium: the customer answers the survey from the mailed link without signing
in, the link then refuses a second answer, and the service analysis page draws its charts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail

from kehu.accounts.models import Role
from kehu.core import config
from kehu.core.testing.browser import sign_in, user_with_password
from kehu.core.testing.factories import Organisation
from kehu.service.models import Survey
from kehu.service.selectors.surveys import customer_satisfaction
from kehu.service.services import tickets as ticket_services
from kehu.service.tests.tickets_support import make_desk, raise_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_survey_answered_from_the_mail_link_and_charted(page: Any, org: Organisation) -> None:
    config.put("service.survey_base_url", page.base_url)
    desk = make_desk(org)
    ticket = raise_ticket(desk, subject="主轴报警停机", product="X100")
    ticket_services.ticket_set_status(actor=desk.agent, ticket=ticket, status="resolved")
    # Committed (transactional test): the survey went out on commit.
    assert len(mail.outbox) == 1
    links = re.findall(r"http://\S+/service/survey/\S+/\?score=[1-5]", mail.outbox[0].body)
    assert len(links) == 5

    page.goto(links[4])  # the customer clicks "5"
    assert page.locator("#score-5").is_checked()
    page.click("label[for=score-4]")  # changes their mind
    page.fill("#survey-comment", "工程师很专业")
    page.click("#survey-form button[type=submit]")
    page.wait_for_selector("#survey-thanks")
    survey = Survey.objects.get(ticket=ticket)
    assert (survey.score, survey.comment) == (4, "工程师很专业")
    assert customer_satisfaction(desk.customer)[0] == 4.0

    page.goto(links[0])
    refused = page.locator("#survey-refused")
    assert refused.get_attribute("data-code") == "survey_used"

    user_with_password(Role.ADMIN, username="boss")
    sign_in(page, "boss")
    page.goto(f"{page.base_url}/service/reports/")
    for chart in ("types", "products", "keywords", "sla", "satisfaction"):
        page.wait_for_selector(f"#{chart}-chart[data-rendered=true]")
    assert "X100" in page.locator("#products-table").inner_text()
    assert "服务分析" in page.locator('a[href="/service/reports/"]').first.inner_text()
