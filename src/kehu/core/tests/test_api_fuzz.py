"""Property-based fuzzing of the whole REST API with schemathesis (issue 34).

Every operation of ``/api/v1/openapi.json`` is called with requests generated from its own
schema (valid and invalid ones: schemathesis' ``positive`` and ``negative`` modes, plus its
``coverage`` phase of boundary values), as an admin and as a sales rep with a Bearer token,
against a small demo company. The run is reproducible: the seed is fixed and Hypothesis runs
derandomized, with a bounded number of examples per operation so both roles finish in about
two minutes on SQLite.

Checks, and why these:

- ``not_a_server_error``: no input, however wrong, may answer 5xx.
- ``content_type_conformance``: a JSON API answers JSON (or the declared XLSX).
- ``response_schema_conformance``: a documented status answers the body its schema declares
  (the follow-up attachment ``kind``/``created_at`` defect was one of these).
- ``error_body_is_json_detail`` (ours): every 4xx is the API's JSON error body
  ``{"detail": ..., "code": ...}``, the contract of ``kehu.core.api``.
- not ``status_code_conformance``: Django Ninja documents only each operation's success
  status; 401/403/404/409/413/415/422 are the one error contract shared by every operation
  (docs/development.md, "Errors"), which the check above holds instead.
- not ``negative_data_rejection``/``positive_data_acceptance``: the API deliberately coerces
  ("12" for an integer) and its services refuse valid-looking input on business rules (a
  merge into itself, a stage move backwards), so both would flag correct behaviour.

A failure names the operation and prints schemathesis' reproduction: the method, the path,
the body and a ``curl`` command.

Runs on SQLite only: on PostgreSQL the same ~5,000 requests take about three times as long,
and nothing in them depends on the database engine (scope and integrity are covered per
engine by the permission tables and ``core/tests/test_postgres.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.db import connection, transaction
from django.test import override_settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from kehu.accounts.models import ApiToken, User
from kehu.core.testing.fuzzdata import SEED, seed_company

MAX_EXAMPLES = 12  # per operation, role and generation mode in the fuzzing phase
ACTORS = {"admin": "admin", "sales": "li.sales"}  # demo users (accounts/demo.py)


def _huge_integer(case: Any) -> bool:
    """An integer past 64 bits anywhere in the query (``offset=9999…``)."""
    values = (case.query or {}).values()
    return any(isinstance(value, int) and abs(value) >= 2**63 for value in values)


# Defects another branch of issue 34 fixes (h/edge, h/rights, h/transfer): each names the
# defect and tells its generated requests apart; a matching request is not sent. The lead
# deletes an entry (or the whole dict) once that branch has landed.
KNOWN_FIXED_ELSEWHERE: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "GET /exports": ("h/edge: an integer past 64 bits in offset answers 500", _huge_integer),
}


def known_elsewhere(case: Any) -> str | None:
    """The defect ``case`` would hit that another branch fixes, if any."""
    label = f"{case.method.upper()} {case.path.removeprefix('/api/v1')}"
    known = KNOWN_FIXED_ELSEWHERE.get(label)
    return known[0] if known and known[1](case) else None


pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="API fuzzing runs on SQLite (see the module docstring)"
)


def error_body_is_json_detail(ctx: Any, response: Any, case: Any) -> bool | None:
    """A client error answers the API's JSON error body, never HTML or an empty page."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = response.json()
    except ValueError as error:
        raise AssertionError(
            f"{response.status_code} is not JSON: {response.text[:200]!r}"
        ) from error
    if not isinstance(body, dict) or not isinstance(body.get("detail"), str):
        raise AssertionError(f"{response.status_code} has no JSON detail: {body!r}")
    return True


CHECKS = [
    not_a_server_error,
    content_type_conformance,
    response_schema_conformance,
    error_body_is_json_detail,
]


def load_schema() -> Any:
    from kehu.api import api

    loaded = schemathesis.openapi.from_dict(
        api.get_openapi_schema(),
        config=schemathesis.Config.from_dict(
            {
                "seed": SEED,
                "generation": {
                    "mode": "all",
                    "max-examples": MAX_EXAMPLES,
                    "deterministic": True,
                    "database": "none",
                    "with-security-parameters": False,
                },
                "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}},
            }
        ),
    )
    loaded.app = get_wsgi_application()  # requests go through Django in this process
    return loaded


schema = load_schema()
IDS: dict[str, list[Any]] = {}  # filled by ``company`` once the demo data exists


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Half the time, name an object that exists, so the code behind the 404 runs too."""
    names = [name for name in path_parameters or {} if IDS.get(name)]
    if not names:
        return st.just(path_parameters)
    real = st.fixed_dictionaries({name: st.sampled_from(IDS[name]) for name in names})
    return st.one_of(st.just(path_parameters), real.map(lambda found: {**path_parameters, **found}))


@pytest.fixture(scope="module")
def company(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """The fuzzers' company (``kehu.core.testing.fuzzdata``), loaded once for the module.

    Each case runs in its own savepoint inside this transaction (pytest-django's ``db``), so
    what one generated request writes or deletes is gone before the next operation; the
    transaction is rolled back after the module.
    """
    media = tmp_path_factory.mktemp("fuzz-media")
    with (
        override_settings(MEDIA_ROOT=media),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        IDS.update(seed_company(customers=30, files=media / "uploads"))
        yield
        IDS.clear()
        transaction.set_rollback(True)


@pytest.fixture(params=sorted(ACTORS))
def bearer(request: pytest.FixtureRequest, company: None, db: None) -> dict[str, str]:
    from kehu.accounts import services as accounts

    user = User.objects.get(username=ACTORS[str(request.param)])
    issued = accounts.token_create(user=user, name="fuzz")
    return {"Authorization": f"Bearer {issued.plaintext}", "Host": "localhost"}


def keep_signed_in(headers: dict[str, str]) -> None:
    """Fuzzed requests may revoke this very token or offboard its user: undo that first."""
    prefix = headers["Authorization"].split("_")[1]
    token = ApiToken.objects.select_related("user").get(prefix=prefix)
    if token.revoked_at is not None:
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=None)
    if not token.user.is_active:
        User.objects.filter(pk=token.user_id).update(is_active=True)


@schema.parametrize()
@hypothesis_settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
)
def test_api_answers_every_generated_request_within_its_contract(
    case: Any, bearer: dict[str, str]
) -> None:
    if known_elsewhere(case):
        return
    keep_signed_in(bearer)
    case.call_and_validate(headers=bearer, checks=CHECKS)
