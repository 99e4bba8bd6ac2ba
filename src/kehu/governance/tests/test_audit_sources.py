"""Every source the issue names writes its audit entry (issue 30, item 3): sign-ins, tokens,
role and department changes, exports, reveals, merges, bulk reassignments, offboarding,
deletions, settings changes and administrators' actions; each entry names its target by type
and id and carries no personal data."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from typing import Any

import pytest
from django.test import Client

import kehu
from kehu.accounts import services as accounts
from kehu.accounts.models import ApiToken, Role, User
from kehu.core import audit, config
from kehu.core.models import AuditEntry
from kehu.core.testing.audit import actions, last
from kehu.core.testing.factories import Organisation, api_client
from kehu.customers import services as customers
from kehu.customers.models import Customer
from kehu.customers.tests.factories import make_customer

pytestmark = pytest.mark.django_db
PASSWORD = "Sales-Rep-2024!"
PERSON = {"name": "张三丰", "mobile": "13812341234", "email": "zhang.sanfeng@corp.cn"}


def _no_personal_data() -> None:
    """No entry carries the test person's name, phone or e-mail anywhere."""
    for entry in AuditEntry.objects.all():
        text = json.dumps(entry.details, ensure_ascii=False) + entry.target_id + entry.actor_name
        for value in (PERSON["name"], PERSON["mobile"][-8:], PERSON["email"]):
            assert value not in text, (entry.action, text)
    assert audit.verify().ok


def _customer(org: Organisation, owner: User | None = None) -> Customer:
    contact = {**PERSON, "is_primary": True}
    return make_customer(owner or org.rep, name=f"{PERSON['name']}贸易公司", contacts=[contact])


# --- sign-ins -----------------------------------------------------------------------------------


def test_sign_in_success_failure_and_lockout() -> None:
    user = accounts.user_create(username="lilei", role=Role.SALES, password=PASSWORD)
    client = Client()
    client.post("/accounts/login/", {"username": "lilei", "password": PASSWORD})
    entry = last("auth.sign_in")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (
        user.pk,
        "accounts.user",
        str(user.pk),
    )
    other = Client()
    for _attempt in range(5):
        other.post("/accounts/login/", {"username": "lilei", "password": "wrong"})
    failed = AuditEntry.objects.filter(action="auth.sign_in_failed")
    assert failed.count() == 5
    assert {e.actor_name for e in failed} == {"lilei"}
    assert all(e.actor_id is None for e in failed)
    assert "wrong" not in json.dumps([e.details for e in failed])
    other.post("/accounts/login/", {"username": "lilei", "password": PASSWORD})
    assert last("auth.locked_out").actor_name == "lilei"
    _no_personal_data()


def test_token_creation_and_revocation() -> None:
    user = accounts.user_create(username="lilei", role=Role.SALES, password=PASSWORD)
    issued = accounts.token_create(user=user, name="erp")
    created = last("auth.token_created")
    assert (created.actor_id, created.target_type, created.target_id) == (
        user.pk,
        "accounts.apitoken",
        str(issued.token.pk),
    )
    assert issued.plaintext not in json.dumps(created.details)
    accounts.token_revoke(user=user, token_id=issued.token.pk)
    assert last("auth.token_revoked").target_id == str(issued.token.pk)
    count = AuditEntry.objects.count()
    accounts.token_revoke(user=user, token_id=issued.token.pk)  # already revoked: no entry
    assert AuditEntry.objects.count() == count


def test_token_revocation_through_the_api_is_audited(org: Organisation) -> None:
    client = api_client(org.rep)
    token = ApiToken.objects.filter(user=org.rep).get()
    assert client.delete(f"/api/v1/users/me/tokens/{token.pk}").status_code in (200, 204)
    assert last("auth.token_revoked").target_id == str(token.pk)


def test_role_and_department_changes_in_the_admin(org: Organisation) -> None:
    User.objects.filter(pk=org.admin.pk).update(is_superuser=True)  # the Django admin's rights
    client = Client()
    client.force_login(org.admin)
    user = org.rep
    user.refresh_from_db()
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "role": Role.MANAGER,
        "department": org.south.pk,
        "display_name": "",
        "mobile": "",
        "language": user.language,
    }
    response = client.post(f"/admin/accounts/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:3000]
    role = last("accounts.role_changed")
    assert (role.actor_id, role.target_id) == (org.admin.pk, str(user.pk))
    assert role.details == {"from": Role.SALES, "to": Role.MANAGER}
    department = last("accounts.department_changed")
    assert department.details == {"from": org.shanghai.pk, "to": org.south.pk}
    # The Django admin's own log is mirrored too, with field names only.
    changed = last("admin.changed")
    assert (changed.target_type, changed.target_id) == ("accounts.user", str(user.pk))
    assert changed.details["fields"]


def test_user_creation_and_deactivation(org: Organisation) -> None:
    created = last("accounts.user_created")
    assert created.target_id == str(org.marketing.pk)
    accounts.user_deactivate(actor=org.admin, user=org.marketing, reason="left")
    entry = last("accounts.user_deactivated")
    assert (entry.actor_id, entry.target_id) == (org.admin.pk, str(org.marketing.pk))


# --- records ------------------------------------------------------------------------------------


def test_export(org: Organisation) -> None:
    _customer(org)
    response = api_client(org.admin).get("/api/v1/exports/customers?format=csv")
    assert response.status_code == 200
    b"".join(response.streaming_content)  # type: ignore[attr-defined]
    entry = last("transfer.export")
    assert entry.actor_id == org.admin.pk
    assert entry.target_type == "transfer.exportlog"
    assert entry.details == {"kind": "customers", "format": "csv", "channel": "api"}
    _no_personal_data()


def test_reveal(org: Organisation) -> None:
    customer = _customer(org)
    customer.shares.create(user=org.colleague, can_edit=False, shared_by=org.rep)
    contact = customer.contacts.get()
    url = f"/api/v1/pools/reveal/contact/{contact.pk}"
    response = api_client(org.colleague).post(url, {}, content_type="application/json")
    assert response.status_code == 200
    entry = last("pools.reveal")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (
        org.colleague.pk,
        "customers.contact",
        str(contact.pk),
    )
    assert entry.details == {"customer_id": customer.pk}
    _no_personal_data()


def test_merge(org: Organisation) -> None:
    survivor, merged = _customer(org), make_customer(org.rep)
    customers.customer_merge(actor=org.east_manager, survivor=survivor, merged=merged)
    entry = last("customers.merge")
    assert (entry.actor_id, entry.target_id) == (org.east_manager.pk, str(survivor.pk))
    assert entry.details == {"merged_id": merged.pk}
    _no_personal_data()


def test_bulk_reassign(org: Organisation) -> None:
    rows = [_customer(org), make_customer(org.rep)]
    customers.customers_reassign_bulk(
        actor=org.east_manager, customers=rows, owner=org.colleague, reason="rebalance"
    )
    entry = last("customers.bulk_reassign")
    assert entry.details == {
        "customer_ids": [rows[0].pk, rows[1].pk],
        "owner_id": org.colleague.pk,
    }
    assert entry.target_id == str(org.colleague.pk)


def test_a_failed_bulk_reassign_records_nothing(org: Organisation) -> None:
    rows = [make_customer(org.rep), make_customer(org.south_rep)]
    with pytest.raises(Exception):  # noqa: B017,PT011  (the second customer is out of scope)
        customers.customers_reassign_bulk(
            actor=org.east_manager, customers=rows, owner=org.colleague, reason="x"
        )
    assert "customers.bulk_reassign" not in actions()


def test_offboarding(org: Organisation) -> None:
    from kehu.pools import services as pools

    make_customer(org.rep)
    record = pools.offboarding_apply(actor=org.admin, user=org.rep, successors=[org.colleague])
    entry = last("accounts.offboarding")
    assert (entry.actor_id, entry.target_id) == (org.admin.pk, str(org.rep.pk))
    assert entry.details["offboarding_id"] == record.pk
    assert entry.details["successor_ids"] == [org.colleague.pk]
    assert entry.details["counts"]["customers"] == 1
    assert last("accounts.user_deactivated").target_id == str(org.rep.pk)


def test_customer_deletion(org: Organisation) -> None:
    customer = _customer(org)
    customers.customer_delete(actor=org.admin, customer=customer, reason="test")
    entry = last("customers.customer_deleted")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (
        org.admin.pk,
        "customers.customer",
        str(customer.pk),
    )
    _no_personal_data()


def test_settings_change_and_reset(org: Organisation) -> None:
    config.put("customers.stale_contact_days", 45, actor=org.admin, reason="policy")
    entry = last("settings.changed")
    assert (entry.actor_id, entry.target_id) == (org.admin.pk, "customers.stale_contact_days")
    assert entry.details["reset"] is False
    assert "45" not in json.dumps(entry.details)  # values stay in SettingChange
    config.reset("customers.stale_contact_days", actor=org.admin)
    assert last("settings.changed").details["reset"] is True


def test_settings_change_through_the_api(org: Organisation) -> None:
    response = api_client(org.admin).put(
        "/api/v1/settings/customers.stale_contact_days",
        {"value": 40, "reason": "policy"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert last("settings.changed").actor_id == org.admin.pk


# --- administrators' actions and every other delete -------------------------------------------


def test_webhook_administration(org: Organisation) -> None:
    from kehu.integrations.services import webhooks

    config.put("integrations.allow_internal_receivers", True)
    hook = webhooks.webhook_create(
        actor=org.admin,
        data={
            "name": "ERP",
            "url": "http://127.0.0.1:9/hook",
            "events": ["customer.created"],
            "run_as": org.admin.pk,
        },
    )
    created = last("integrations.webhook_created")
    assert (created.target_type, created.target_id) == (
        "integrations.webhooksubscription",
        str(hook.pk),
    )
    assert created.details == {"fields": ["events", "name", "run_as", "url"]}
    webhooks.webhook_update(
        actor=org.admin,
        webhook=hook,
        data={"secret": "s3cret-value-of-sixteen"},
        version=hook.version,
    )
    changed = last("integrations.webhook_changed")
    assert changed.details == {"fields": ["secret"]}
    assert "s3cret" not in json.dumps(changed.details)
    hook_id = hook.pk
    webhooks.webhook_delete(actor=org.admin, webhook=hook)
    assert last("integrations.webhooksubscription_deleted").target_id == str(hook_id)


def test_a_refused_admin_action_records_nothing(org: Organisation) -> None:
    from kehu.core.errors import Forbidden
    from kehu.integrations.services import webhooks

    count = AuditEntry.objects.count()
    with pytest.raises(Forbidden):
        webhooks.webhook_create(actor=org.rep, data={"name": "x"})
    assert AuditEntry.objects.count() == count


def test_pool_settings(org: Organisation) -> None:
    from kehu.pools import services as pools

    pool = pools.pool_create(actor=org.admin, data={"name": "华东公海"}, departments=[org.east])
    assert last("pools.pool_created").target_id == str(pool.pk)
    pools.pool_update(actor=org.admin, pool=pool, changes={"name": "华东公海池"})
    entry = last("pools.pool_changed")
    assert (entry.target_type, entry.details) == ("pools.pool", {"fields": ["name"]})


def test_opportunity_deletion(org: Organisation) -> None:
    from kehu.opportunities import services as opportunities
    from kehu.opportunities.tests.factories import make_opportunity

    deal = make_opportunity(org.rep)
    deal_id = deal.pk
    opportunities.opportunity_delete(actor=org.admin, opportunity=deal)
    entry = last("opportunities.opportunity_deleted")
    assert (entry.target_type, entry.target_id) == ("opportunities.opportunity", str(deal_id))


def test_saved_filter_deletion_by_id(org: Organisation) -> None:
    from kehu.customers.models import SavedFilter

    saved = SavedFilter.objects.create(user=org.rep, name="mine", query="owner=me")
    customers.saved_filter_delete(user=org.rep, filter_id=saved.pk)
    entry = last("customers.savedfilter_deleted")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (
        org.rep.pk,
        "customers.savedfilter",
        str(saved.pk),
    )


def _service_functions() -> list[tuple[str, Any]]:
    found = []
    for module_info in pkgutil.walk_packages(kehu.__path__, "kehu."):
        name = module_info.name
        if ".tests" in name or ".migrations" in name:
            continue
        if not (name.endswith((".services", "_services")) or ".services." in name):
            continue
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == name:
                found.append((f"{name}.{attr}", value))
    return found


def test_every_service_that_deletes_is_audited() -> None:
    """A service named ``*_delete`` / ``*_remove`` records its deletion: through
    ``audit.audited``, ``audit.record_deletion`` or an entry of its own (new ones cannot slip
    by)."""
    missing = []
    checked = 0
    for name, function in _service_functions():
        if not name.endswith(("_delete", "_remove")) or name.rsplit(".", 1)[1].startswith("_"):
            continue
        checked += 1
        if getattr(function, "audit_action", ""):
            continue
        source = inspect.getsource(function)
        if "audit.record_deletion(" in source or "audit.record(" in source:
            continue
        missing.append(name)
    assert checked >= 20
    assert missing == []
