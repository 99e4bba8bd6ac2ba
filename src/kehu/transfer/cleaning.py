"""Cleaning and validation of imported cells, before anything is written.

Every cell is trimmed and folded from full width to half width (NFKC); phones are checked
with phonenumbers (region CN) and stored in E.164, emails with email-validator and stored in
lower case (as ``kehu.core.contact_points`` stores them), dates are read in the common Chinese
formats and as Excel serial numbers, enumerations are matched on their Chinese and English
names and synonyms, with a fuzzy suggestion (rapidfuzz) when nothing matches. Errors name the
row and the column.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email
from rapidfuzz import fuzz, process

from kehu.accounts.models import User
from kehu.core import config, custom_fields
from kehu.core.errors import InvalidInput
from kehu.customers import entry
from kehu.customers.models import TO_VERIFY, Industry, Region
from kehu.customers.reference import region_table
from kehu.customers.services import VERIFIABLE_FIELDS, check_contact_rules, clean_credit_code
from kehu.opportunities.models import Stage, StageKind
from kehu.transfer.reading import MAX_CELL, FormulaCell, column_letter
from kehu.transfer.specs import FieldSpec, fields_for

EXCEL_EPOCH = date(1899, 12, 30)
_FORMULA_TEXT = re.compile(r"^=\s*[A-Za-z][A-Za-z0-9._]*\s*\(")
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?$"),
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_MONTH_PATTERNS = (
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月$"),
    re.compile(r"^(\d{4})[-/.](\d{1,2})$"),
)
_TIME_SUFFIX = re.compile(
    r"^(.+?)[\sT]+(\d{1,2})(?:[:点时])(\d{1,2})?(?:分)?(?::(\d{1,2})(?:\.\d+)?)?(?:秒)?$"
)
_CN_MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9]\d{9})")
_PHONE_NOISE = re.compile(r"[\s\-()]")
_SIMPLE_LOCAL = re.compile(r"[A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*")
_TAG_SPLIT = re.compile(r"[,;，；、|/\n]+")
TRUE_WORDS = {"是", "y", "yes", "true", "1", "√", "✓", "对", "决策人"}
FALSE_WORDS = {"否", "n", "no", "false", "0", "×", "x", "不是", ""}
_url = URLValidator(schemes=["http", "https"])


def _desc_matcher(desc: Any) -> Callable[[str], bool]:
    """phonenumbers' ``_is_number_matching_desc`` for one number description."""
    if desc is None or not desc.national_number_pattern:
        return lambda number: False
    pattern = re.compile(desc.national_number_pattern)
    lengths = set(desc.possible_length or ())
    return lambda number: (
        (not lengths or len(number) in lengths) and bool(pattern.fullmatch(number))
    )


def _plain_cn_mobile_check() -> Callable[[str], bool]:
    """True when phonenumbers would parse ``number`` (11 digits, 1[3-9]…) unchanged, find it
    valid and of type MOBILE — decided with the CN metadata's patterns the way
    ``phonenumbers._number_type_helper`` does, at a fraction of parse + is_valid_number.
    False means "not sure": the caller asks phonenumbers."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert meta is not None  # phonenumbers ships the CN metadata
    rewritten = re.compile(meta.national_prefix_for_parsing or "(?!)")  # carrier codes: 179xx
    general = _desc_matcher(meta.general_desc)
    other_types = [
        _desc_matcher(getattr(meta, name))
        for name in (
            "premium_rate",
            "toll_free",
            "shared_cost",
            "voip",
            "personal_number",
            "pager",
            "uan",
            "voicemail",
            "fixed_line",
        )
    ]
    mobile = _desc_matcher(meta.mobile)
    same_patterns = bool(meta.same_mobile_and_fixed_line_pattern)

    def check(number: str) -> bool:
        if same_patterns or rewritten.match(number) or not general(number):
            return False
        return not any(other(number) for other in other_types) and mobile(number)

    return check


_is_plain_cn_mobile = _plain_cn_mobile_check()


def fold_text(value: Any) -> str:
    """Cell → trimmed, half-width text with runs of white space collapsed."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    if not (text.isascii() or unicodedata.is_normalized("NFKC", text)):
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split())


@dataclass
class RowResult:
    line: int
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (column, message)
    to_verify: list[str] = field(default_factory=list)
    # (column, message) of the entry rules a new record breaks (kehu.customers.entry)
    missing: list[tuple[str, str]] = field(default_factory=list)
    filled: list[str] = field(default_factory=list)  # keys of the fields the file filled
    name_pinyin: tuple[str, str] | None = None  # (full, initials) of values["name"], if known
    # computed with the pinyin by the reading process, so the importing one need not:
    dedup_keys: list[str] | None = None  # ``engine.dedup.row_keys``
    name_key: str | None = None  # ``company_key`` of values["name"]
    new_customer: Any = None  # ``customers.services.NewCustomer`` of the row, if it is new

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_text(self) -> str:
        return "; ".join(f"{column}: {message}" for column, message in self.errors)


# The customer's entry rules name model fields; the import's columns for them
IMPORT_KEYS = {"contacts": "contact_mobile"}
CONTACT_IMPORT_KEYS = {
    "contact_name": "name",
    "contact_title": "title",
    "contact_mobile": "mobile",
    "contact_work_phone": "work_phone",
    "contact_email": "email",
    "contact_mobile_reason": "mobile_reason",
}
CONTACT_COLUMNS = {name: key for key, name in CONTACT_IMPORT_KEYS.items()}


class CellError(ValueError):
    pass


def _suggest(text: str, options: dict[str, str]) -> str:
    match = process.extractOne(text, list(options), scorer=fuzz.WRatio, score_cutoff=60)
    if match is None:
        return ""
    return _(" Did you mean “%(value)s”?") % {"value": match[0]}


# field type → the Cleaner method that loads the table its values are looked up in
REFERENCE_TABLES = {
    "industry": "industries",
    "region": "regions",
    "user": "users",
    "stage": "stages",
}


class Cleaner:
    """Cleans rows of one import kind; reference data is loaded once per import."""

    def __init__(self, kind: str, *, actor: Any) -> None:
        self.kind = kind
        self.actor = actor
        self.specs = fields_for(kind, actor)
        self._choices: dict[str, dict[str, str]] = {}
        for spec in self.specs:
            if spec.type == "choice":
                table: dict[str, str] = {}
                for value, names in spec.choices.items():
                    table[fold_text(value).casefold()] = value
                    for name in names:
                        table[fold_text(name).casefold()] = value
                self._choices[spec.key] = table
        self.verifiable = VERIFIABLE_FIELDS - {"name"} if kind == "customers" else frozenset()
        # the settings are read here: the reading process must not query (see pipeline)
        self.customer_rules: list[entry.Rule] = []
        self.contact_rules: list[entry.Rule] = []
        self.mobile_needs_reason = False
        if kind == "customers":
            self.customer_rules = entry.required(entry.CUSTOMER_REQUIRED.key, entry.CUSTOMER_RULES)
            self.contact_rules = entry.required(entry.CONTACT_REQUIRED.key, entry.CONTACT_RULES)
            self.mobile_needs_reason = bool(config.get(entry.PRIVATE_MOBILE_NEEDS_REASON.key))
        self._industries: dict[str, str] | None = None
        self._regions: dict[str, str] | None = None
        self._users: dict[str, int] | None = None
        self._stages: dict[str, str] | None = None
        self._stage_names: list[str] = []  # Chinese names in pipeline order, for errors
        # Fast paths with the same answers as phonenumbers / email-validator (see _phone, _email)
        self._email_domains: dict[str, str | None] = {}

    # --- reference data ----------------------------------------------------------------------
    def load_reference(self) -> None:
        """Read now every table this kind's cells are checked against, so that cleaning needs
        no query afterwards (the import cleans in a process that must not query)."""
        for spec in self.specs:
            table = REFERENCE_TABLES.get(spec.type)
            if table is not None:
                getattr(self, table)()

    def industries(self) -> dict[str, str]:
        if self._industries is None:
            table: dict[str, str] = {}
            rows = list(Industry.objects.values_list("code", "name", "name_en", "parent_id"))
            names = {code: name for code, name, _en, _parent in rows}
            for code, name, name_en, parent in rows:
                keys = [code, name, name_en]
                if parent:
                    keys += [f"{names[parent]}-{name}", f"{names[parent]}{name}", f"{parent}{code}"]
                for key in keys:
                    table.setdefault(fold_text(key).casefold(), code)
            self._industries = table
        return self._industries

    def regions(self) -> dict[str, str]:
        if self._regions is None:
            rows = Region.objects.values_list("code", "name", "name_en", "parent_id", "level")
            self._regions = region_table(rows)
        return self._regions

    def users(self) -> dict[str, int]:
        if self._users is None:
            table: dict[str, int] = {}
            for pk, username, display in User.objects.filter(is_active=True).values_list(
                "pk", "username", "display_name"
            ):
                table.setdefault(username.casefold(), pk)
                if display:
                    table.setdefault(fold_text(display).casefold(), pk)
            self._users = table
        return self._users

    # --- one cell ------------------------------------------------------------------------------
    def clean_cell(self, spec: FieldSpec, raw: Any) -> Any:
        if isinstance(raw, FormulaCell):
            raise CellError(
                _(
                    "holds a formula (%(formula)s); formulas are not imported, "
                    "paste the values instead."
                )
                % {"formula": str(raw)[:40]}
            )
        if spec.type == "date" and isinstance(raw, datetime | date | int | float):
            return self._date(raw)
        if spec.type == "datetime" and isinstance(raw, datetime | date | int | float):
            return self._datetime(raw)
        return self.clean_text(spec, fold_text(raw))

    def clean_text(self, spec: FieldSpec, text: str) -> Any:
        """``clean_cell`` for a text cell already folded with ``fold_text``."""
        if len(text) > MAX_CELL:
            raise CellError(
                _("holds %(count)d characters; at most %(limit)d fit in one cell.")
                % {"count": len(text), "limit": MAX_CELL}
            )
        if _FORMULA_TEXT.match(text):
            raise CellError(
                _("looks like a formula (%(formula)s); formulas are not imported.")
                % {"formula": text[:40]}
            )
        if not text:
            return None
        method = getattr(self, f"_{spec.type}", None)
        value = method(text, spec) if method else text
        if isinstance(value, str) and len(value) > spec.max_length:
            raise CellError(
                _("is %(count)d characters long; at most %(limit)d are allowed.")
                % {"count": len(value), "limit": spec.max_length}
            )
        return value

    def _date(self, raw: Any, spec: FieldSpec | None = None) -> date:
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        text = fold_text(raw)
        if re.fullmatch(r"\d{1,5}(\.0+)?", text):
            serial = int(float(text))
            if 1 <= serial <= 2958465 and not (len(text) == 8 and text.startswith(("19", "20"))):
                return EXCEL_EPOCH + timedelta(days=serial)
        for pattern in _DATE_PATTERNS:
            match = pattern.match(text)
            if match:
                year, month, day = (int(part) for part in match.groups())
                try:
                    return date(year, month, day)
                except ValueError as error:
                    raise CellError(
                        _("“%(value)s” is not a real date.") % {"value": text}
                    ) from error
        for pattern in _MONTH_PATTERNS:
            match = pattern.match(text)
            if match:
                year, month = (int(part) for part in match.groups())
                if 1 <= month <= 12:
                    return date(year, month, 1)
        raise CellError(
            _("“%(value)s” is not a date; write it like 2024-05-20, 2024/5/20 or 2024年5月20日.")
            % {"value": text[:40]}
        )

    def _datetime(self, raw: Any, spec: FieldSpec | None = None) -> datetime:
        """A moment in local time: a date with an optional time (``14:30``, ``14点30分``);
        a date alone means 09:00, as when the follow-up services receive a date."""
        if isinstance(raw, datetime):
            moment = raw
        elif isinstance(raw, date):
            moment = datetime.combine(raw, time(9))
        elif isinstance(raw, int | float) or re.fullmatch(r"\d{1,5}\.\d+", fold_text(raw)):
            moment = datetime.combine(EXCEL_EPOCH, time()) + timedelta(days=float(raw))
            moment = moment.replace(microsecond=0)
        else:
            text = fold_text(raw)
            match = _TIME_SUFFIX.match(text)
            if match is None:
                moment = datetime.combine(self._date(text), time(9))
            else:
                day = self._date(match.group(1))
                hour, minute, second = (int(part or 0) for part in match.group(2, 3, 4))
                if hour > 23 or minute > 59 or second > 59:
                    raise CellError(_("“%(value)s” is not a real time.") % {"value": text[:40]})
                moment = datetime.combine(day, time(hour, minute, second))
        return timezone.make_aware(moment) if timezone.is_naive(moment) else moment

    def stages(self) -> dict[str, str]:
        """Active open and won stages by code, Chinese and English name (and each part of a
        name like 回款/复购). Lost deals need a loss reason and are not imported."""
        if self._stages is None:
            table: dict[str, str] = {}
            rows = Stage.objects.filter(is_active=True).exclude(kind=StageKind.LOST)
            for code, zh, en in rows.order_by("order").values_list("code", "name_zh", "name_en"):
                self._stage_names.append(zh)
                for name in (code, zh, en, *re.split(r"\s*/\s*", zh), *re.split(r"\s*/\s*", en)):
                    if name:
                        table.setdefault(fold_text(name).casefold(), code)
            self._stages = table
        return self._stages

    def _stage(self, text: str, spec: FieldSpec) -> str:
        code = self.stages().get(text.casefold())
        if code is None:
            names = self._stage_names
            raise CellError(
                _("“%(value)s” is not a stage; the stages are %(allowed)s.")
                % {"value": text[:40], "allowed": " → ".join(names)}
                + _suggest(text, {name: name for name in names})
            )
        return code

    def _choice(self, text: str, spec: FieldSpec) -> str:
        table = self._choices[spec.key]
        value = table.get(text.casefold())
        if value is None:
            allowed = "、".join(names[0] for names in spec.choices.values())
            raise CellError(
                _("“%(value)s” is not one of %(allowed)s.")
                % {"value": text[:40], "allowed": allowed}
                + _suggest(text, {names[0]: key for key, names in spec.choices.items()})
            )
        return value

    def _industry(self, text: str, spec: FieldSpec) -> str:
        table = self.industries()
        code = table.get(text.casefold())
        if code is None and "-" in text:
            code = table.get(text.rsplit("-", 1)[1].strip().casefold())
        if code is None:
            raise CellError(
                _("“%(value)s” is not an industry of GB/T 4754.") % {"value": text[:40]}
                + _suggest(text, {k: v for k, v in table.items() if not k.isascii()})
            )
        return code

    def _region(self, text: str, spec: FieldSpec) -> str:
        table = self.regions()
        code = table.get(text.casefold())
        if code is None:
            compact = text.replace(" ", "")
            code = table.get(compact.casefold())
        if code is None:
            raise CellError(
                _("“%(value)s” is not a province or city.") % {"value": text[:40]}
                + _suggest(text, {k: v for k, v in table.items() if not k.isascii()})
            )
        return code

    def _phone(self, text: str, spec: FieldSpec) -> str:
        """E.164 via phonenumbers; plain Chinese mobiles are recognised by the CN metadata's own
        patterns (``_is_plain_cn_mobile``), everything else goes through phonenumbers."""
        match = _CN_MOBILE.fullmatch(_PHONE_NOISE.sub("", text))
        if match and _is_plain_cn_mobile(match.group(1)):
            return "+86" + match.group(1)
        return self._phone_slow(text)

    def _phone_slow(self, text: str) -> str:
        candidate = re.sub(r"\s*(转|ext\.?|x)\s*(\d+)$", r" ext. \2", text, flags=re.IGNORECASE)
        try:
            number = phonenumbers.parse(candidate, "CN")
        except phonenumbers.NumberParseException as error:
            raise CellError(
                _("“%(value)s” is not a phone number.") % {"value": text[:40]}
            ) from error
        if not phonenumbers.is_valid_number(number):
            raise CellError(_("“%(value)s” is not a valid phone number.") % {"value": text[:40]})
        formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if number.extension:
            formatted += f";ext={number.extension}"
        return formatted

    def _email(self, text: str, spec: FieldSpec) -> str:
        """email-validator's answer in lower case, as ``kehu.core.contact_points`` stores every
        address (the bulk insert stores it as cleaned here; duplicate checks compare lower case).
        Once a domain has passed, plain local parts (dot-atoms of letters, digits and _%+-) on
        that domain are accepted the same way."""
        local, at, domain = text.rpartition("@")
        if at and domain in self._email_domains and len(text) <= 254:
            normal_domain = self._email_domains[domain]
            if normal_domain and len(local) <= 64 and _SIMPLE_LOCAL.fullmatch(local):
                return f"{local}@{normal_domain}".lower()
        address = self._email_slow(text)
        if at and domain not in self._email_domains:
            self._email_domains[domain] = address.rpartition("@")[2]
        return address

    def _email_slow(self, text: str) -> str:
        try:
            result = validate_email(text, check_deliverability=False)
        except EmailNotValidError as error:
            raise CellError(
                _("“%(value)s” is not an email address.") % {"value": text[:60]}
            ) from error
        return str(result.normalized).lower()

    def _decimal(self, text: str, spec: FieldSpec) -> Decimal:
        compact = text.replace(",", "").replace("¥", "").replace("元", "").strip()
        factor = Decimal(1)
        if compact.endswith("万"):
            compact, factor = compact[:-1], Decimal(10000)
        elif compact.endswith("亿"):
            compact, factor = compact[:-1], Decimal(100000000)
        try:
            value = Decimal(compact) * factor
        except InvalidOperation as error:
            raise CellError(_("“%(value)s” is not an amount.") % {"value": text[:40]}) from error
        if not value.is_finite() or value < 0 or value >= Decimal("1e12"):
            raise CellError(_("“%(value)s” is out of range.") % {"value": text[:40]})
        return value.quantize(Decimal("0.01"))

    def _bool(self, text: str, spec: FieldSpec) -> bool:
        key = text.casefold()
        if key in TRUE_WORDS:
            return True
        if key in FALSE_WORDS:
            return False
        raise CellError(_("“%(value)s” is not yes/no (是/否).") % {"value": text[:40]})

    def _custom(self, text: str, spec: FieldSpec) -> Any:
        """A custom field's cell (自定义字段), by its definition's rules."""
        if spec.custom is None:
            return text
        try:
            return custom_fields.clean_value(spec.custom, text)
        except ValueError as error:
            raise CellError(str(error)) from error

    def _user(self, text: str, spec: FieldSpec) -> int:
        pk = self.users().get(text.casefold())
        if pk is None:
            raise CellError(_("there is no active user “%(value)s”.") % {"value": text[:40]})
        return pk

    def _tags(self, text: str, spec: FieldSpec) -> list[str]:
        tags = [tag.strip() for tag in _TAG_SPLIT.split(text) if tag.strip()]
        too_long = [tag for tag in tags if len(tag) > 50]
        if too_long:
            raise CellError(
                _("the tag “%(tag)s” is longer than 50 characters.") % {"tag": too_long[0][:60]}
            )
        return list(dict.fromkeys(tags))

    def _url(self, text: str, spec: FieldSpec) -> str:
        url = text if "://" in text else f"http://{text}"
        try:
            _url(url)
        except ValidationError as error:
            raise CellError(
                _("“%(value)s” is not a web address.") % {"value": text[:60]}
            ) from error
        return url

    def _credit_code(self, text: str, spec: FieldSpec) -> str:
        try:
            return clean_credit_code(text.replace(" ", "")) or ""
        except InvalidInput as error:
            raise CellError(error.detail) from error

    # --- one row ------------------------------------------------------------------------------
    def clean_row(
        self, line: int, cells: list[Any], indexes: dict[str, int], headers: list[str]
    ) -> RowResult:
        result = RowResult(line)
        for index, cell in enumerate(cells):
            if isinstance(cell, str) and len(cell) > MAX_CELL and index not in indexes.values():
                header = headers[index] if index < len(headers) else column_letter(index)
                result.errors.append(
                    (
                        header,
                        _("holds %(count)d characters; at most %(limit)d fit in one cell.")
                        % {"count": len(cell), "limit": MAX_CELL},
                    )
                )
        for spec in self.specs:
            position = indexes.get(spec.key)
            if position is None:
                continue
            raw = cells[position] if position < len(cells) else None
            header = headers[position] or column_letter(position)
            # text cells (all of a CSV) are folded here, once
            text = fold_text(raw) if type(raw) is str else None
            if text == TO_VERIFY and spec.key in self.verifiable:
                result.to_verify.append(spec.key)  # 待核实: known to exist, not yet confirmed
                continue
            try:
                value = self.clean_cell(spec, raw) if text is None else self.clean_text(spec, text)
            except CellError as error:
                result.errors.append((header, str(error)))
                continue
            if value is None:
                if spec.required:
                    result.errors.append((header, _("is required.")))
                continue
            result.values[spec.key] = value
            result.filled.append(spec.key)
        self._finish(result, indexes, headers)
        return result

    def _finish(self, result: RowResult, indexes: dict[str, int], headers: list[str]) -> None:
        values = result.values
        mobile: str = values.get("contact_mobile") or ""
        is_cn_mobile = len(mobile) == 14 and mobile.startswith("+861")
        if mobile and not is_cn_mobile and not values.get("contact_work_phone"):
            number = phonenumbers.parse(mobile.split(";")[0], "CN")
            if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE:
                # A landline in the mobile column: keep it as the work phone.
                values["contact_work_phone"] = values.pop("contact_mobile")
                result.filled[result.filled.index("contact_mobile")] = "contact_work_phone"
        if self.kind == "customers":
            self._entry_rules(result, indexes, headers)

    def _entry_rules(self, result: RowResult, indexes: dict[str, int], headers: list[str]) -> None:
        """What ``customer_create`` demands of a new customer, as (column, message) pairs in
        ``result.missing`` (the importer reports them on rows that create a customer)."""
        values = result.values
        marked = set(result.to_verify)
        for rule in self.customer_rules:
            keys = [IMPORT_KEYS.get(name, name) for name in rule.fields]
            if any(values.get(key) for key in keys) or (rule.verifiable and marked & set(keys)):
                continue
            result.missing.append((self._header(keys[0], indexes, headers), entry.message(rule)))
        contact = {name: values.get(key) for key, name in CONTACT_IMPORT_KEYS.items()}
        if not any(contact.values()):
            return
        contact["name"] = contact["name"] or TO_VERIFY  # as the importer names it
        try:
            check_contact_rules(
                contact, rules=self.contact_rules, mobile_needs_reason=self.mobile_needs_reason
            )
        except InvalidInput as error:
            for name, messages in error.errors.items():
                column = self._header(CONTACT_COLUMNS.get(name, name), indexes, headers)
                result.missing.extend((column, str(message)) for message in messages)

    def _header(self, key: str, indexes: dict[str, int], headers: list[str]) -> str:
        position = indexes.get(key)
        if position is not None:
            return headers[position] or column_letter(position)
        spec = next((spec for spec in self.specs if spec.key == key), None)
        return spec.zh if spec is not None else key
