"""The quarterly review (季度复盘): a department's quarter beside the previous one, composed
from the registered reports by key, its page, API, XLSX and PDF packs, and their errors."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from kehu.analytics import pdf
from kehu.analytics.selectors.review import (
    Quarter,
    parse_quarter,
    quarterly_review,
    review_department,
)
from kehu.analytics.tests.reporting_support import (
    at,
    customer,
    registered,
    spec,
    targets_like_report,
)
from kehu.core.errors import Forbidden, InvalidInput, NotFound
from kehu.core.testing.factories import Organisation, api_client
from kehu.opportunities import services as deal_services
from kehu.opportunities.models import Opportunity
from kehu.service.models import Survey
from kehu.service.services import tickets as ticket_services
from kehu.service.tests.tickets_support import hand_over

pytestmark = pytest.mark.django_db

THIS = Quarter.of(timezone.localdate())
BEFORE = THIS.previous()


@pytest.fixture
def composed() -> Any:
    """Stand-ins for two of the reports the review composes (rep-performance, targets)."""
    with registered(spec("rep-performance"), spec("targets", build=targets_like_report)):
        yield


def in_quarter(quarter: Quarter, offset: int = 3) -> Any:
    return at(quarter.start + timedelta(days=offset))


def survey(org: Organisation, customer_row: Any, score: int, answered: Any) -> Survey:
    hand_over(customer_row, org.rep, org.service)
    ticket = ticket_services.ticket_create(
        actor=None,
        data={"subject": "设备故障", "content": "设备无法启动", "assignee": org.service.pk},
        channel="email",
        customer=customer_row,
        contact=None,
    )
    return Survey.objects.create(
        ticket=ticket,
        customer=customer_row,
        nonce="n",
        expires_at=timezone.now() + timedelta(days=7),
        answered_at=answered,
        score=score,
    )


def made(org: Organisation) -> dict[str, Any]:
    """华东区 this quarter: three new customers (one in 杭州组), one survey (5); last quarter:
    one new customer and two surveys (2 and 4); 华南区: one customer this quarter. One deal
    of the rep stalled for 200 days."""
    now = customer(org.rep, created=in_quarter(THIS, 0))
    customer(org.colleague, created=in_quarter(THIS, 1))
    customer(org.hangzhou_rep, created=in_quarter(THIS, 2))
    old = customer(org.rep, created=in_quarter(BEFORE))
    customer(org.south_rep, created=in_quarter(THIS, 0))
    survey(org, now, 5, in_quarter(THIS, 1))
    survey(org, old, 2, in_quarter(BEFORE, 4))
    survey(org, old, 4, in_quarter(BEFORE, 5))
    deal = deal_services.opportunity_create(
        actor=org.rep, customer=now, data={"name": "五轴加工中心采购", "amount": "380000"}
    )
    Opportunity.objects.filter(pk=deal.pk).update(
        stage_entered_at=timezone.now() - timedelta(days=200)
    )
    return {"deal": deal}


def rows_of(review: Any) -> dict[str, tuple[Any, Any]]:
    return {f"{row.section}.{row.key}": (row.current, row.previous) for row in review.rows}


def test_quarters() -> None:
    assert str(parse_quarter("2026Q4")) == "2026Q4"
    assert parse_quarter("2026-q1") == Quarter(2026, 1)
    assert (Quarter(2026, 1).start, Quarter(2026, 1).end) == (date(2026, 1, 1), date(2026, 3, 31))
    assert Quarter(2026, 1).previous() == Quarter(2025, 4)
    assert Quarter(2025, 4).next() == Quarter(2026, 1)
    assert parse_quarter("") == Quarter.of(timezone.localdate())
    for bad in ("2026Q5", "Q4", "2026", "1900Q1", "3000Q1", "２０２６Q1"):
        with pytest.raises(InvalidInput) as raised:
            parse_quarter(bad)
        assert "quarter" in raised.value.errors


def test_review_beside_the_previous_quarter(org: Organisation, composed: None) -> None:
    made(org)
    review = quarterly_review(user=org.east_manager, department_id=org.east.pk, quarter=THIS)
    figures = rows_of(review)
    assert figures["activity.new_customers"] == (3, 1)
    assert figures["targets.attainment_pct"] == (150.0, 50.0)
    assert figures["targets.met"] == (1, 0)
    assert figures["satisfaction.survey_answers"] == (1, 2)
    assert figures["satisfaction.satisfaction_avg"] == (5.0, 3.0)
    assert figures["stalled.stalled"] == (1, None)
    change = {f"{row.section}.{row.key}": row.change for row in review.rows}
    assert change["activity.new_customers"] == 2
    assert change["stalled.stalled"] is None
    assert change["activity.won_amount"] == Decimal(0)  # money (Decimal) has a change too
    # Reports that are not registered (the other parts of issue 28) are left out, by key.
    assert "stage-conversion" in review.left_out
    assert "rep-performance" not in review.left_out
    assert review.stalled is not None
    assert [row["deal"] for row in review.stalled.rows] == ["五轴加工中心采购"]
    assert review.stalled.rows[0]["days"] >= 199
    assert [table.key for table in review.lists] == ["targets"]
    # A sub-department narrows every figure.
    hangzhou = quarterly_review(user=org.east_manager, department_id=org.hangzhou.pk, quarter=THIS)
    assert rows_of(hangzhou)["activity.new_customers"] == (1, 0)
    assert rows_of(hangzhou)["stalled.stalled"] == (0, None)


def test_the_review_counts_only_the_viewers_scope(org: Organisation, composed: None) -> None:
    made(org)
    mine = quarterly_review(user=org.rep, department_id=org.shanghai.pk, quarter=THIS)
    assert rows_of(mine)["activity.new_customers"] == (1, 1)  # the rep's own customers
    everything = quarterly_review(user=org.admin, department_id=None, quarter=THIS)
    assert rows_of(everything)["activity.new_customers"] == (4, 1)


def test_an_empty_quarter_is_a_review_of_zeros(org: Organisation, composed: None) -> None:
    made(org)
    review = quarterly_review(
        user=org.east_manager, department_id=org.east.pk, quarter=Quarter(2001, 2)
    )
    figures = rows_of(review)
    assert figures["activity.new_customers"] == (0, 0)
    assert figures["satisfaction.survey_answers"] == (0, 0)
    assert figures["satisfaction.satisfaction_avg"] == (None, None)
    data = review.as_dict()
    assert data["quarter"] == "2001Q2"
    assert data["previous_quarter"] == "2001Q1"
    assert data["charts"][0]["series"][0]["data"] == [0, 0]


def test_errors(org: Organisation, composed: None) -> None:
    with pytest.raises(NotFound):
        quarterly_review(user=org.east_manager, department_id=org.south.pk, quarter=THIS)
    with pytest.raises(NotFound):
        quarterly_review(user=org.rep, department_id=org.east.pk, quarter=THIS)
    with pytest.raises(NotFound):
        quarterly_review(user=org.admin, department_id=987654, quarter=THIS)
    with pytest.raises(Forbidden):
        quarterly_review(user=org.service, department_id=None, quarter=THIS)
    with pytest.raises(Forbidden):
        quarterly_review(user=org.marketing, department_id=None, quarter=THIS)
    assert review_department(org.east_manager, "") == org.east.pk
    assert review_department(org.admin, "") is None
    with pytest.raises(InvalidInput):
        review_department(org.admin, "abc")
    with pytest.raises(NotFound):
        review_department(org.admin, "99999999999999999999")


def page_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_both_quarters(org: Organisation, composed: None) -> None:
    made(org)
    client = page_client(org.east_manager)
    page = client.get(reverse("analytics:review"))  # their own department, this quarter
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-quarter="{THIS}"' in html
    assert f'data-department="{org.east.pk}"' in html
    assert 'data-row="activity.new_customers"' in html
    assert 'data-key="current" data-value="3"' in html
    assert "五轴加工中心采购" in html
    assert 'id="chart-quarterly-review-comparison"' in html
    assert reverse("analytics:review_export") in html
    assert reverse("analytics:review_pdf") in html
    other = client.get(reverse("analytics:review"), {"department": org.south.pk})
    assert other.status_code == 404
    bad = client.get(reverse("analytics:review"), {"quarter": "2026Q9"})
    assert bad.status_code == 200  # the current quarter, with the problem shown
    assert f'data-quarter="{THIS}"' in bad.content.decode()
    assert list(bad.context["messages"])
    assert page_client(org.service).get(reverse("analytics:review")).status_code == 403
    narrowed = client.get(reverse("analytics:review"), {"industry": "C"})
    assert narrowed.context["review"].filters.industry == "C"
    assert "industry=C" in narrowed.context["xlsx_url"]
    unknown = client.get(reverse("analytics:review"), {"region": "atlantis"})
    assert unknown.status_code == 200  # the input error is shown, the review is unnarrowed
    assert unknown.context["review"].filters.region == ""
    assert list(unknown.context["messages"])
    not_an_id = client.get(reverse("analytics:review"), {"department": "abc"})
    assert not_an_id.status_code == 200  # not a 500: the manager's own department, and why
    assert not_an_id.context["review"].department_id == org.east.pk


def xlsx_rows(content: bytes, sheet: str) -> list[tuple[Any, ...]]:
    return list(load_workbook(io.BytesIO(content))[sheet].iter_rows(values_only=True))


def test_the_xlsx_pack_holds_the_numbers_of_the_review(org: Organisation, composed: None) -> None:
    made(org)
    client = api_client(org.east_manager)
    url = f"/api/v1/reviews/{org.east.pk}/{THIS}"
    data = client.get(url).json()
    assert data["department"] == {"id": org.east.pk, "name": "华东区"}
    comparison = data["tables"][0]
    assert comparison["key"] == "comparison"
    export = client.get(f"{url}/xlsx")
    assert export.status_code == 200
    assert export["Content-Disposition"].endswith(f'kehu-review-{org.east.pk}-{THIS}.xlsx"')
    workbook = load_workbook(io.BytesIO(export.content))
    # The overview's comparison first, then the stalled deals and the lists, then each report.
    sheets = workbook.sheetnames
    assert sheets[0] == comparison["title"][:28]
    assert "New customers (test)" in sheets
    rows = xlsx_rows(export.content, sheets[0])
    expected = [
        tuple(row[column["key"]] for column in comparison["columns"]) for row in comparison["rows"]
    ]
    assert rows[3 : 3 + len(expected)] == expected
    new_customers = next(row for row in rows if row[1] == "New customers")
    assert new_customers[2:] == (3, 1, 2)
    # The page's download is the same pack.
    page_export = page_client(org.east_manager).get(
        reverse("analytics:review_export"), {"department": str(org.east.pk), "quarter": str(THIS)}
    )
    assert xlsx_rows(page_export.content, sheets[0]) == rows


def test_the_pdf_pack(org: Organisation, composed: None) -> None:
    made(org)
    response = api_client(org.east_manager).get(f"/api/v1/reviews/{org.east.pk}/{THIS}/pdf")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == pdf.PDF_TYPE
    assert response.content.startswith(b"%PDF-")
    assert len(response.content) > 2000
    page = page_client(org.east_manager).get(reverse("analytics:review_pdf"))
    assert page.status_code == 200
    assert page.content.startswith(b"%PDF-")


def test_without_a_cjk_font_the_pdf_is_a_clear_error(
    org: Organisation, composed: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("KEHU_PDF_FONT", str(tmp_path / "missing.ttc"))
    response = api_client(org.east_manager).get(f"/api/v1/reviews/{org.east.pk}/{THIS}/pdf")
    assert response.status_code == 503
    assert response.json()["code"] == "pdf_font_missing"
    assert "fonts-noto-cjk" in response.json()["detail"]
    page = page_client(org.east_manager).get(reverse("analytics:review_pdf"), follow=True)
    assert page.status_code == 200
    assert any("fonts-noto-cjk" in str(m) for m in page.context["messages"])


def test_api_errors(org: Organisation, composed: None) -> None:
    client = api_client(org.east_manager)
    assert client.get(f"/api/v1/reviews/{org.east.pk}/2026Q7").status_code == 422
    outside = client.get(f"/api/v1/reviews/{org.south.pk}/{THIS}")
    assert outside.status_code == 404
    assert outside.json()["code"] == "not_found"
    assert (
        client.get(f"/api/v1/reviews/{org.east.pk}/{THIS}", {"industry": "ZZ"}).status_code == 422
    )
    assert client.get(f"/api/v1/reviews/99999999999/{THIS}").status_code in (404, 422)
    refused = api_client(org.marketing).get(f"/api/v1/reviews/{org.east.pk}/{THIS}")
    assert refused.status_code == 403


def test_a_fixed_number_of_queries(
    org: Organisation, composed: None, django_assert_max_num_queries: Any
) -> None:
    client = api_client(org.east_manager)
    url = f"/api/v1/reviews/{org.east.pk}/{THIS}"
    client.get(url)
    made(org)
    with django_assert_max_num_queries(40) as few:
        client.get(url)
    for _ in range(5):
        made(org)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200
