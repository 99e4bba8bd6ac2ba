"""A database busy past its timeout answers 503 with Retry-After: the API and the pages."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client, RequestFactory

from kehu.core.busy import RETRY_AFTER_SECONDS, is_database_busy
from kehu.core.testing.factories import Organisation, api_client
from kehu.core.testing.sqlite_file import file_copy, in_threads
from kehu.core.views import server_error

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's single write lock")


def _locked_while(path: Path, request: Any) -> Any:
    """``request()``'s answer while another connection holds the database's write lock."""
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        return request()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_api_write_on_a_locked_database_answers_503(org: Organisation, tmp_path: Path) -> None:
    client = api_client(org.rep)
    client.get("/api/v1/customers", {"limit": 1})  # the token's first use writes last_used_at

    def create(index: int) -> Any:
        body = {"name": "上海锁表测试科技有限公司"}
        return _locked_while(
            path,
            lambda: client.post("/api/v1/customers", body, content_type="application/json"),
        )

    with file_copy(tmp_path, timeout=0.2) as path:
        (response,) = in_threads(1, create)
    assert response.status_code == 503, response.content
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json()["code"] == "busy"
    assert response.json()["detail"]


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_page_write_on_a_locked_database_answers_the_503_page(
    org: Organisation, tmp_path: Path
) -> None:
    client = Client(raise_request_exception=False)

    def sign_out(index: int) -> Any:
        client.force_login(org.rep)  # the session is written before the lock is taken
        return _locked_while(path, lambda: client.post("/accounts/logout/"))

    with file_copy(tmp_path, timeout=0.2) as path:
        (response,) = in_threads(1, sign_out)
    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert "Server busy" in response.content.decode()


def test_only_a_busy_database_is_a_503() -> None:
    assert is_database_busy(OperationalError("database is locked"))
    assert not is_database_busy(OperationalError("no such table: x"))
    assert not is_database_busy(None)
    request = RequestFactory().get("/customers/")
    for error, status in ((OperationalError("database is locked"), 503), (ValueError(), 500)):
        try:
            raise error
        except Exception:  # Django calls handler500 while it handles the exception
            response = server_error(request)
        assert response.status_code == status
    api_request = RequestFactory().post("/api/v1/customers")
    try:
        raise OperationalError("database is locked")
    except OperationalError:
        response = server_error(api_request)
    assert (response.status_code, response["Retry-After"]) == (503, str(RETRY_AFTER_SECONDS))
