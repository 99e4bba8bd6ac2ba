"""A service's NotFound that a view lets through is the 404 page, not a server error."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from kehu import urls as site
from kehu.core.errors import InvalidInput, NotFound


def _missing(request: HttpRequest) -> HttpResponse:
    raise NotFound("customer 42")


def _invalid(request: HttpRequest) -> HttpResponse:
    raise InvalidInput("Check the filters.")


# The site's own URLs and error handlers (the 404 page links to them), and two test views.
urlpatterns = [path("missing/", _missing), path("invalid/", _invalid), *site.urlpatterns]
handler404 = site.handler404
handler500 = site.handler500


@pytest.mark.urls(__name__)
def test_uncaught_not_found_in_a_view_is_the_404_page() -> None:
    response = Client().get("/missing/")
    assert response.status_code == 404
    assert "404.html" in {template.name for template in response.templates}
    # the page never names what was looked for
    assert "customer 42" not in response.content.decode()


@pytest.mark.urls(__name__)
def test_other_service_errors_are_left_to_the_views() -> None:
    client = Client(raise_request_exception=True)
    with pytest.raises(InvalidInput):
        client.get("/invalid/")
