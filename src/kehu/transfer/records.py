"""Imports of leads, opportunities, follow-ups and contacts: the customer import's pipeline
(read, map, clean, batches with a resume point, progress, cancel, reports) with each app's own
duplicate rule, and every write made through that app's services.

Writes go row by row through ``leads.services``, ``opportunities.services``,
``followups.services`` and the customers app's contact services (numbering, history with
``stamp``, events, SLA deadlines, stage history, the customer's last contact, next-step tasks,
the primary contact …), each row in its own savepoint: a row a service refuses becomes a row
error naming the column, and nothing of it is kept. The look-ups around the writes
(customers, contacts, duplicates) are a few queries per batch.

The dry run runs the same service calls inside a transaction that is rolled back, so its
counts and row errors are the import's.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import models, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core import custom_fields
from kehu.core.errors import InvalidInput, KehuError, NotFound
from kehu.customers import services as customer_services
from kehu.customers.models import Contact, Customer
from kehu.customers.normalize import company_key
from kehu.followups import services as followup_services
from kehu.followups.models import FollowUp
from kehu.leads import services as lead_services
from kehu.leads.models import Lead, LeadStatus
from kehu.opportunities import services as opportunity_services
from kehu.opportunities.models import Opportunity, Stage, StageKind
from kehu.transfer.cleaning import RowResult
from kehu.transfer.engine import Importer, Planned
from kehu.transfer.engine import common as engine_common
from kehu.transfer.engine import importer as engine_importer
from kehu.transfer.models import ImportRecord, OnDuplicate

UPDATE_ACTIONS = ("update", "merge")


class RecordImporter(Importer):
    """The shared part: references, dedup by per-kind keys, trial writes, row-wise services."""

    model: type[models.Model]
    name_pinyin = False  # no customers are created from these rows
    # service error field → import field, where they differ
    error_fields: dict[str, str] = {}
    # the column that names the record (scope problems), and the one for a service error
    # about a field the file has no column for (a stage's requirement, a missing value)
    identity_field = ""
    fallback_field = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.headers: dict[str, str] = {}
        self.customers: dict[int, Customer] = {}
        self.users: dict[int, User] = {}
        self.trial = False

    def _prepare(self) -> None:
        self.headers = {key: header for header, key in self.job.mapping.items() if key}

    def header(self, key: str) -> str:
        key = self.error_fields.get(key, key)
        if key in self.headers:
            return self.headers[key]
        if key:
            return self.headers.get(self.fallback_field) or self.headers.get(
                self.identity_field, ""
            )
        return self.headers.get(self.identity_field, "")

    # --- planning -----------------------------------------------------------------------------
    def _plan(self, rows: list[RowResult], *, count: bool) -> list[Planned]:
        self._resolve(rows)  # every row, so that a row's errors are reported together
        valid = [row for row in rows if row.ok]
        existing = self._existing(valid)
        first_listed = len(self.listed_duplicates)
        plans: list[Planned] = []
        for row in rows:
            plan = Planned(row)
            if row.ok:
                self._classify(plan, existing)
            else:
                plan.action = "invalid"
            plans.append(plan)
        if count and self.job.dry_run:
            self._try(plans)
        if count:
            for plan in plans:
                self._count(plan)
        self._hide_out_of_scope(first_listed)
        return plans

    def _resolve(self, rows: list[RowResult]) -> None:
        """Per batch: the users the rows name (and, per kind, customers and contacts)."""
        wanted = {
            value
            for row in rows
            for key in ("owner", "author", "next_step_owner")
            if (value := row.values.get(key)) and value not in self.users
        }
        if wanted:
            self.users.update(User.objects.in_bulk(wanted))

    def _keys(self, row: RowResult) -> list[str]:
        raise NotImplementedError

    def _existing(self, rows: list[RowResult]) -> dict[str, set[int]]:
        raise NotImplementedError

    def _classify(self, plan: Planned, db_matches: dict[str, set[int]]) -> None:
        row = plan.row
        earlier: int | None = None
        existing: set[int] = set()
        for key in self._keys(row):
            if key in self.dedup.file_keys:
                earlier = earlier or self.dedup.file_keys[key]
                plan.reasons.append(key[0])
            if db_matches.get(key):
                existing |= db_matches[key]
                plan.reasons.append(key[0])
            self.dedup.file_keys.setdefault(key, row.line)
        if earlier is None and not existing:
            plan.action = "new"
            return
        self._settle_duplicate(
            plan,
            earlier=earlier,
            existing=existing,
            name=self._describe(row),
            may_update=self.updatable,
        )

    updatable = True

    def _describe(self, row: RowResult) -> str:
        raise NotImplementedError

    def _hide_out_of_scope(self, start: int) -> None:
        listed = self.listed_duplicates[start:]
        ids = {pk for item in listed for pk in item["existing"]}
        if not ids:
            return
        manager: Any = self.model._default_manager
        visible = set(
            manager.visible_to(self.actor).filter(pk__in=ids).values_list("pk", flat=True)
        )
        for item in listed:
            hidden = [pk for pk in item["existing"] if pk not in visible]
            item["existing"] = [pk for pk in item["existing"] if pk in visible]
            item["hidden"] = len(hidden)

    # --- writing ------------------------------------------------------------------------------
    def _try(self, plans: list[Planned]) -> None:
        """Dry run: the batch's service calls in a transaction that is rolled back."""
        counts, filled = dict(self.counts), dict(self.filled)
        written = dict(self.line_to_customer)
        self.trial = True
        try:
            with transaction.atomic():
                self._write(plans)
                transaction.set_rollback(True)
        finally:
            self.trial = False
            self.counts, self.line_to_customer = counts, written
            self.filled = defaultdict(int, filled)

    def _write(self, plans: list[Planned]) -> None:
        records: list[ImportRecord] = []
        for plan in plans:
            if plan.action == "new":
                target: int | None = None
            elif plan.action == "update":
                target = plan.existing_id
            elif plan.action == "merge" and plan.earlier_line is not None:
                target = self.line_to_customer.get(plan.earlier_line)
                if target is None:
                    continue  # the earlier row was not written (or, in a dry run, rolled back)
            else:
                continue
            created = target is None
            saved = self._save(plan, target)
            if saved is None:
                continue
            self.line_to_customer[plan.row.line] = saved
            records.append(
                ImportRecord(
                    job=self.job, row_number=plan.row.line, object_id=saved, created=created
                )
            )
            if created:
                self.counts["created"] += 1
                for key in plan.row.filled:
                    self.filled[key] += 1
            else:
                self.counts["updated"] += 1
        ImportRecord.objects.bulk_create(records, batch_size=2000)

    def _save(self, plan: Planned, target: int | None) -> int | None:
        """One row through the services in a savepoint; a refusal becomes a row error."""
        try:
            with transaction.atomic():
                if target is None:
                    return self._create(plan.row.values)
                return self._update(plan.row.values, target)
        except NotFound:  # services answer a record out of the actor's scope as not found
            self._refuse(plan, [(self.header(""), _("the record is outside your scope."))])
        except InvalidInput as error:
            problems = [
                (self.header(field), str(message))
                for field, messages in (error.errors or {}).items()
                for message in messages
            ]
            self._refuse(plan, problems or [(self.header(""), str(error.detail))])
        except KehuError as error:
            self._refuse(plan, [(self.header(""), str(error.detail))])
        return None

    def _refuse(self, plan: Planned, problems: list[tuple[str, str]]) -> None:
        plan.row.errors.extend(problems)
        if not self.trial:
            key = "update" if plan.action in UPDATE_ACTIONS else plan.action
            self.counts[key] -= 1
            self.counts["invalid"] += 1
            self._count_errors(plan)
        plan.action = "invalid"

    def _count_errors(self, plan: Planned) -> None:
        for column, message in plan.row.errors:
            if len(self.first_errors) < engine_importer.FIRST_ERRORS:
                self.first_errors.append(
                    {"line": plan.row.line, "column": column, "message": message}
                )

    def _create(self, values: dict[str, Any]) -> int:
        raise NotImplementedError

    def _update(self, values: dict[str, Any], target: int) -> int:
        raise NotImplementedError

    def _user(self, values: dict[str, Any], key: str) -> User | None:
        pk = values.get(key)
        return self.users.get(pk) if pk else None


class CustomerRecordImporter(RecordImporter):
    """Records that belong to a customer, named by number, credit code or exact name."""

    def _resolve(self, rows: list[RowResult]) -> None:
        super()._resolve(rows)
        rows = [row for row in rows if row.values.get("customer")]
        texts = {str(row.values["customer"]) for row in rows}
        if not texts:
            return
        codes = {text.upper() for text in texts}
        found = list(
            Customer.objects.visible_to(self.actor).filter(
                Q(number__in=texts) | Q(credit_code__in=codes) | Q(name__in=texts)
            )
        )
        by_number = {c.number: c for c in found if c.number}
        by_code = {c.credit_code: c for c in found if c.credit_code}
        by_name: dict[str, list[Customer]] = defaultdict(list)
        for item in found:
            by_name[item.name].append(item)
        header = self.header("customer")
        for row in rows:
            text = str(row.values["customer"])
            customer = by_number.get(text) or by_code.get(text.upper())
            named = by_name.get(text, [])
            if customer is None and len(named) == 1:
                customer = named[0]
            if customer is None and len(named) > 1:
                row.errors.append(
                    (
                        header,
                        _(
                            "%(count)d customers are named “%(name)s”; write the customer "
                            "number or credit code instead."
                        )
                        % {"count": len(named), "name": text[:60]},
                    )
                )
            elif customer is None:
                row.errors.append(
                    (
                        header,
                        _(
                            "no customer you can see has the number, credit code or name "
                            "“%(value)s”."
                        )
                        % {"value": text[:60]},
                    )
                )
            else:
                self.customers[customer.pk] = customer
                row.values["customer_id"] = customer.pk

    def _resolve_contacts(self, rows: list[RowResult]) -> None:
        """The ``contact`` column: a contact of the row's customer, by name or mobile (one
        query per batch); mobiles are stored in E.164, a file's ``13912345678`` finds them."""
        named = [row for row in rows if "customer_id" in row.values and row.values.get("contact")]
        if not named:
            return
        names = {str(row.values["contact"]) for row in named}
        names |= {_as_mobile(name) for name in names}
        contacts: dict[tuple[int, str], int] = {}
        for pk, customer_id, name, mobile in Contact.objects.filter(
            Q(name__in=names) | Q(mobile__in=names),
            customer_id__in={row.values["customer_id"] for row in named},
        ).values_list("pk", "customer_id", "name", "mobile"):
            contacts.setdefault((customer_id, name), pk)
            contacts.setdefault((customer_id, mobile), pk)
        for row in named:
            text = str(row.values["contact"])
            contact_id = contacts.get((row.values["customer_id"], text)) or contacts.get(
                (row.values["customer_id"], _as_mobile(text))
            )
            if contact_id is None:
                row.errors.append(
                    (
                        self.header("contact"),
                        _("“%(name)s” is not a contact of %(customer)s.")
                        % {
                            "name": str(row.values["contact"])[:60],
                            "customer": self.customers[row.values["customer_id"]].name,
                        },
                    )
                )
            else:
                row.values["contact_id"] = contact_id


def _as_mobile(text: str) -> str:
    """A Chinese mobile as the contacts store it (E.164); other text unchanged."""
    return f"+86{text}" if re.fullmatch(r"1[3-9]\d{9}", text) else text


# --- leads ------------------------------------------------------------------------------------
LEAD_DATA = (
    "company_name",
    "contact_name",
    "mobile",
    "email",
    "region",
    "industry",
    "need",
    "urgency",
    "estimated_value",
    "priority",
    "source",
    "source_detail",
)


class LeadImporter(RecordImporter):
    """Leads; duplicates (no rule of the leads app exists) are the same mobile, the same
    e-mail or the same normalised company name as an existing lead or an earlier row."""

    error_fields = {"assignee": "owner"}
    identity_field = fallback_field = "contact_name"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.model = Lead
        super().__init__(*args, **kwargs)
        self.names: dict[str, set[int]] = defaultdict(set)

    def _prepare(self) -> None:
        super()._prepare()
        rows = Lead.objects.exclude(company_name="").values_list("pk", "company_name")
        for pk, name in rows.iterator(chunk_size=5000):
            self.names[company_key(name)].add(pk)

    def _keys(self, row: RowResult) -> list[str]:
        values = row.values
        keys = []
        if values.get("mobile"):
            keys.append(f"p:{values['mobile'].split(';')[0]}")
        if values.get("email"):
            keys.append(f"e:{values['email'].lower()}")
        if values.get("company_name") and company_key(values["company_name"]):
            keys.append(f"n:{company_key(values['company_name'])}")
        return keys

    def _existing(self, rows: list[RowResult]) -> dict[str, set[int]]:
        found: dict[str, set[int]] = defaultdict(set)
        phones = {row.values["mobile"].split(";")[0] for row in rows if row.values.get("mobile")}
        emails = {row.values["email"] for row in rows if row.values.get("email")}
        if phones or emails:
            matches = Lead.objects.filter(Q(mobile__in=phones) | Q(email__in=emails))
            for pk, mobile, email in matches.values_list("pk", "mobile", "email"):
                if mobile in phones:
                    found[f"p:{mobile}"].add(pk)
                if email and email in emails:
                    found[f"e:{email.lower()}"].add(pk)
        for row in rows:
            name = company_key(row.values.get("company_name") or "")
            if name and name in self.names:
                found[f"n:{name}"] |= self.names[name]
        return found

    def _describe(self, row: RowResult) -> str:
        return str(row.values.get("company_name") or row.values.get("contact_name", ""))

    def _data(self, values: dict[str, Any]) -> dict[str, Any]:
        data = {key: values[key] for key in LEAD_DATA if key in values}
        custom = engine_importer.custom_values(values)
        if custom:
            data["custom"] = custom
        return data

    def _create(self, values: dict[str, Any]) -> int:

        owner = self._user(values, "owner")
        status = values.get("status")
        if status == LeadStatus.POOL and owner is not None:
            raise InvalidInput(
                errors={"status": [_("a lead in the pool has no owner; empty one of the two.")]}
            )
        lead = lead_services.lead_capture(actor=self.actor, data=self._data(values))
        self._owner_and_status(lead, owner, status)
        return int(lead.pk)

    def _update(self, values: dict[str, Any], target: int) -> int:

        lead = Lead.objects.editable_by(self.actor).filter(pk=target).first()
        if lead is None:
            raise NotFound("lead")
        changes = {k: v for k, v in self._data(values).items() if k not in ("source",)}
        if values.get("source"):
            changes["source"] = values["source"]
        lead = lead_services.lead_update(actor=self.actor, lead=lead, changes=changes, version=None)
        self._owner_and_status(lead, self._user(values, "owner"), values.get("status"))
        return int(lead.pk)

    def _owner_and_status(self, lead: Any, owner: User | None, status: str | None) -> None:
        """Assignment and confirmation through the leads services (rights, SLA deadline,
        events and notifications as when done by hand)."""

        if owner is not None and lead.assignee_id != owner.pk:
            with _refusal_in("owner"):
                lead = lead_services.lead_assign(actor=self.actor, lead=lead, assignee=owner)
        if status in (LeadStatus.ASSIGNED, LeadStatus.CONFIRMED) and lead.assignee_id is None:
            raise InvalidInput(
                errors={"status": [_("an assigned or confirmed lead needs an owner.")]}
            )
        if status == LeadStatus.CONFIRMED and lead.status == LeadStatus.ASSIGNED:
            with _refusal_in("status"):
                lead_services.lead_confirm(actor=self.actor, lead=lead, note=self.reason)


@contextmanager
def _refusal_in(field: str) -> Iterator[None]:
    """A service's refusal without a field (Forbidden, Conflict) belongs to this column."""
    try:
        yield
    except InvalidInput:
        raise
    except KehuError as error:
        raise InvalidInput(errors={field: [str(error.detail)]}) from error


# --- opportunities ----------------------------------------------------------------------------
OPPORTUNITY_DATA = (
    "name",
    "amount",
    "expected_close",
    "source",
    "needs",
    "competitors",
    "next_step",
)


class OpportunityImporter(CustomerRecordImporter):
    """Opportunities; a duplicate is the same customer with the same opportunity name.

    A won stage (成交, 回款/复购) is reached the way a user reaches it: created in the first
    stage, then won (stage history, the customer becomes 成交客户), then the close date set."""

    error_fields = {
        "proposal": "stage",
        "quote": "stage",
        "contract": "stage",
    }
    identity_field = "name"
    fallback_field = "stage"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.model = Opportunity
        super().__init__(*args, **kwargs)
        self.stage_kinds: dict[str, str] = {}

    def _prepare(self) -> None:
        super()._prepare()
        self.stage_kinds = dict(Stage.objects.values_list("code", "kind"))

    def _keys(self, row: RowResult) -> list[str]:
        return [f"o:{row.values['customer_id']}:{str(row.values['name']).casefold()}"]

    def _existing(self, rows: list[RowResult]) -> dict[str, set[int]]:
        found: dict[str, set[int]] = defaultdict(set)
        if not rows:
            return found
        matches = Opportunity.objects.filter(
            customer_id__in={row.values["customer_id"] for row in rows},
            name__in={row.values["name"] for row in rows},
        ).values_list("pk", "customer_id", "name")
        for pk, customer_id, name in matches:
            found[f"o:{customer_id}:{name.casefold()}"].add(pk)
        return found

    def _describe(self, row: RowResult) -> str:
        return f"{row.values['customer']} · {row.values['name']}"

    def _data(self, values: dict[str, Any]) -> dict[str, Any]:
        data = {key: values[key] for key in OPPORTUNITY_DATA if key in values}
        custom = engine_importer.custom_values(values)
        if custom:
            data["custom"] = custom
        if values.get("owner"):
            data["owner"] = self._user(values, "owner")
        return data

    def _create(self, values: dict[str, Any]) -> int:

        customer = self.customers[values["customer_id"]]
        data = self._data(values)
        stage = values.get("stage")
        if stage and self.stage_kinds.get(stage) == StageKind.WON:
            close = data.pop("expected_close", None)
            opportunity = opportunity_services.opportunity_create(
                actor=self.actor, customer=customer, data=data
            )
            opportunity = opportunity_services.opportunity_win(
                actor=self.actor, opportunity=opportunity, stage=stage, recorded=True
            )
            if close is not None:
                opportunity_services.opportunity_update(
                    actor=self.actor, opportunity=opportunity, data={"expected_close": close}
                )
            return int(opportunity.pk)
        if stage:
            data["stage"] = stage
        # a new row records the deal where another system had it: the stage's own
        # requirements hold, those of the stages before it were met there (a moved deal, below,
        # meets every stage it skips)
        opportunity = opportunity_services.opportunity_create(
            actor=self.actor, customer=customer, data=data, recorded=True
        )
        return int(opportunity.pk)

    def _update(self, values: dict[str, Any], target: int) -> int:

        opportunity = Opportunity.objects.filter(pk=target).first()
        if opportunity is None:
            raise NotFound("opportunity")
        data = self._data(values)
        data.pop("name", None)
        opportunity = opportunity_services.opportunity_update(
            actor=self.actor, opportunity=opportunity, data=data
        )
        stage = values.get("stage")
        if stage and stage != opportunity.stage.code:
            if self.stage_kinds.get(stage) == StageKind.WON:
                opportunity_services.opportunity_win(
                    actor=self.actor, opportunity=opportunity, stage=stage
                )
            else:
                opportunity_services.opportunity_move_stage(
                    actor=self.actor, opportunity=opportunity, stage=stage
                )
        return int(opportunity.pk)


# --- follow-ups -------------------------------------------------------------------------------
FOLLOWUP_DATA = (
    "occurred_at",
    "method",
    "content",
    "sentiment",
    "sentiment_reason",
    "next_step_on",
    "next_step_action",
)


class FollowUpImporter(CustomerRecordImporter):
    """Follow-ups; a duplicate is the same customer, time and method. Follow-ups are not
    edited after they are logged, so duplicates are skipped or created, never updated."""

    updatable = False
    identity_field = "customer"
    fallback_field = "content"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.model = FollowUp
        super().__init__(*args, **kwargs)

    def _resolve(self, rows: list[RowResult]) -> None:
        super()._resolve(rows)
        self._resolve_contacts(rows)

    def _key(self, customer_id: int, moment: Any, method: str) -> str:
        return f"f:{customer_id}:{int(moment.timestamp())}:{method}"

    def _keys(self, row: RowResult) -> list[str]:
        values = row.values
        return [self._key(values["customer_id"], values["occurred_at"], values["method"])]

    def _existing(self, rows: list[RowResult]) -> dict[str, set[int]]:
        found: dict[str, set[int]] = defaultdict(set)
        if not rows:
            return found
        matches = FollowUp.objects.filter(
            customer_id__in={row.values["customer_id"] for row in rows},
            occurred_at__in={row.values["occurred_at"] for row in rows},
        ).values_list("pk", "customer_id", "occurred_at", "method")
        for pk, customer_id, moment, method in matches:
            found[self._key(customer_id, moment, method)].add(pk)
        return found

    def _describe(self, row: RowResult) -> str:
        moment = row.values["occurred_at"]
        return f"{row.values['customer']} · {moment:%Y-%m-%d %H:%M}"

    def _create(self, values: dict[str, Any]) -> int:
        data = {key: values[key] for key in FOLLOWUP_DATA if key in values}
        if values.get("contact_id"):
            data["contact"] = values["contact_id"]
        for key in ("author", "next_step_owner"):
            if values.get(key):
                data[key] = self._user(values, key)
        customer = self.customers[values["customer_id"]]
        followup = followup_services.followup_create(actor=self.actor, customer=customer, data=data)
        return int(followup.pk)

    def _update(self, values: dict[str, Any], target: int) -> int:
        raise InvalidInput(_("Follow-ups are not edited after they are logged."))


# --- contacts of existing customers -----------------------------------------------------------
# import field → the contact's field (the customer import's contact columns, and the others)
CONTACT_DATA = {
    **engine_common.CONTACT_KEYS,
    "contact_gender": "gender",
    "contact_is_primary": "is_primary",
    "contact_notes": "notes",
}


class ContactImporter(CustomerRecordImporter):
    """Contacts added to existing customers, named like the follow-ups' and deals' customers;
    a duplicate is a contact of the same customer with the same mobile or e-mail. Writes go
    through ``contact_create`` / ``contact_update`` (the customer's edit rights, the entry
    rules, custom fields, the primary contact, history), as the customer page's contact form."""

    error_fields = {target: key for key, target in CONTACT_DATA.items()}
    identity_field = "customer"
    fallback_field = "contact_name"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.model = Contact
        super().__init__(*args, **kwargs)

    def _keys(self, row: RowResult) -> list[str]:
        values = row.values
        keys = []
        if values.get("contact_mobile"):
            keys.append(f"p:{values['customer_id']}:{values['contact_mobile']}")
        if values.get("contact_email"):
            keys.append(f"e:{values['customer_id']}:{values['contact_email'].lower()}")
        return keys

    def _existing(self, rows: list[RowResult]) -> dict[str, set[int]]:
        found: dict[str, set[int]] = defaultdict(set)
        phones = {row.values["contact_mobile"] for row in rows if row.values.get("contact_mobile")}
        emails = {row.values["contact_email"] for row in rows if row.values.get("contact_email")}
        if not phones and not emails:
            return found
        matches = Contact.objects.filter(
            Q(mobile__in=phones) | Q(email__in=emails),
            customer_id__in={row.values["customer_id"] for row in rows},
        ).values_list("pk", "customer_id", "mobile", "email")
        for pk, customer_id, mobile, email in matches:
            if mobile in phones:
                found[f"p:{customer_id}:{mobile}"].add(pk)
            if email and email in emails:
                found[f"e:{customer_id}:{email.lower()}"].add(pk)
        return found

    def _describe(self, row: RowResult) -> str:
        return f"{row.values['customer']} · {row.values['contact_name']}"

    def _write(self, plans: list[Planned]) -> None:
        """The custom-field definitions read once for the batch, as the API's bulk upsert
        does, not once per contact (``custom_fields.pinned``)."""
        with custom_fields.pinned():
            super()._write(plans)

    def _hide_out_of_scope(self, start: int) -> None:
        """Contacts have no scope of their own: they are seen with their customer."""
        listed = self.listed_duplicates[start:]
        ids = {pk for item in listed for pk in item["existing"]}
        if not ids:
            return
        visible = set(
            Contact.objects.filter(
                pk__in=ids, customer__in=Customer.objects.visible_to(self.actor)
            ).values_list("pk", flat=True)
        )
        for item in listed:
            hidden = [pk for pk in item["existing"] if pk not in visible]
            item["existing"] = [pk for pk in item["existing"] if pk in visible]
            item["hidden"] = len(hidden)

    @staticmethod
    def _data(values: dict[str, Any]) -> dict[str, Any]:
        data = {target: values[key] for key, target in CONTACT_DATA.items() if key in values}
        custom = engine_importer.custom_values(values)
        if custom:
            data["custom"] = custom
        return data

    def _create(self, values: dict[str, Any]) -> int:
        data = self._data(values)
        # the channel carries custom values: the required ones apply, as in the API
        data.setdefault("custom", {})
        try:
            contact = customer_services.contact_create(
                actor=self.actor,
                customer=self.customers[values["customer_id"]],
                data=data,
                # "create anyway" also adds a phone or e-mail another customer holds, as the
                # contact form's "save anyway"
                force=self.job.on_duplicate == OnDuplicate.CREATE,
            )
        except customer_services.DuplicateCustomer as error:
            raise InvalidInput(errors=self._held_elsewhere(error, values)) from error
        return int(contact.pk)

    @staticmethod
    def _held_elsewhere(
        error: customer_services.DuplicateCustomer, values: dict[str, Any]
    ) -> dict[str, list[str]]:
        """The contact form's duplicate warning, on the column of the value another customer
        holds."""
        message = _(
            "already belongs to a contact of another customer; choose “Create anyway” for "
            "duplicates to add it all the same."
        )
        reasons = {match.reason for match in error.matches}
        fields = [name for name in ("mobile", "work_phone") if values.get(f"contact_{name}")]
        fields = fields[:1] if "phone" in reasons else []
        if "email" in reasons or not fields:
            fields.append("email")
        return {name: [message] for name in fields}

    def _update(self, values: dict[str, Any], target: int) -> int:
        """Only the file's columns change; the others keep their values."""
        contact = Contact.objects.filter(pk=target).first()
        if contact is None:
            raise NotFound("contact")
        contact = customer_services.contact_update(
            actor=self.actor, contact=contact, changes=self._data(values), reason=self.reason
        )
        return int(contact.pk)
