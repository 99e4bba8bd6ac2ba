"""Merge fields of message templates: ``{{ salutation }}`` and friends (称呼, 公司, …).

``check(text)`` raises ``InvalidInput`` naming an unknown or unclosed field, so a template
is refused on save and a send before anything goes out; ``render(text, context)`` fills the
fields from ``context_for(member)`` (or ``sample_context`` for a test send).

称呼 (``salutation``): the contact's surname with 先生/女士 from ``gender``; else the surname
with the title (王总监); else the whole name. Compound surnames (欧阳, 司马, 诸葛, …) are
kept whole: 欧阳娜娜 with gender "f" is 欧阳女士.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kehu.core.errors import InvalidInput


@dataclass(frozen=True)
class MergeField:
    key: str
    label: Any  # lazy translation
    aliases: tuple[str, ...] = ()


FIELDS: tuple[MergeField, ...] = (
    MergeField("salutation", _("Form of address, e.g. 王先生 / 李女士"), ("称呼",)),
    MergeField("name", _("Contact's full name"), ("姓名",)),
    MergeField("company", _("Company name"), ("公司", "公司名称")),
    MergeField("title", _("Contact's title"), ("职位",)),
    MergeField("owner_name", _("Account owner's name"), ("负责人",)),
    MergeField("owner_phone", _("Account owner's phone"), ("负责人电话",)),
    MergeField("campaign", _("Campaign name"), ("活动", "活动名称")),
    MergeField("unsubscribe_url", _("Unsubscribe link"), ("退订链接",)),
)

FIELDS_KEYS: tuple[str, ...] = tuple(field.key for field in FIELDS)

# Every spelling a template may use → the field's key
_KEYS: dict[str, str] = {
    spelling: field.key for field in FIELDS for spelling in (field.key, *field.aliases)
}

FIELD_RE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")

# 复姓: kept whole when the name is longer than the surname
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "诸葛",
        "上官",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "令狐",
        "长孙",
        "宇文",
        "司徒",
        "司空",
        "夏侯",
        "轩辕",
        "端木",
        "独孤",
        "南宫",
        "西门",
        "百里",
        "呼延",
        "澹台",
        "公冶",
        "太史",
        "申屠",
        "钟离",
        "闻人",
        "赫连",
        "万俟",
        "濮阳",
        "淳于",
        "单于",
        "拓跋",
        "第五",
        "东郭",
        "乐正",
        "仲孙",
        "左丘",
        "公羊",
        "梁丘",
        "羊舌",
        "微生",
        "谷梁",
        "宰父",
        "漆雕",
        "壤驷",
        "巫马",
        "亓官",
        "司寇",
        "鲜于",
        "闾丘",
        "子车",
        "颛孙",
        "段干",
        "东门",
        "公西",
    ]
)

_HAN = re.compile(r"[\u4e00-\u9fff]")


def fields_in(text: str) -> list[str]:
    """The merge-field spellings used in ``text``, in order."""
    return [match.group(1) for match in FIELD_RE.finditer(text or "")]


def problems(text: str) -> list[str]:
    """What is wrong with the merge fields of ``text`` (empty: fine)."""
    found: list[str] = []
    for spelling in fields_in(text):
        if spelling not in _KEYS:
            found.append(gettext("Unknown merge field {{ %(field)s }}.") % {"field": spelling})
    rest = FIELD_RE.sub("", text or "")
    if "{{" in rest or "}}" in rest:
        found.append(gettext("A merge field is not closed: write it as {{ salutation }}."))
    return found


def check(text: str, *, field: str = "body") -> None:
    """Raise ``InvalidInput`` naming each unknown merge field of ``text`` (under ``field``)."""
    found = problems(text)
    if found:
        raise InvalidInput(found[0], errors={field: found})


def check_template(subject: str, body: str) -> None:
    """Both parts of a template at once, each error under its own field."""
    errors = {
        name: found
        for name, found in (("subject", problems(subject)), ("body", problems(body)))
        if found
    }
    if errors:
        first = next(iter(errors.values()))[0]
        raise InvalidInput(first, errors=errors)


def render(text: str, context: Mapping[str, str]) -> str:
    """``text`` with its merge fields filled; an unknown field raises (``check`` first)."""

    def fill(match: re.Match[str]) -> str:
        key = _KEYS.get(match.group(1))
        if key is None:
            check(text)
        return context.get(key or "", "")

    return FIELD_RE.sub(fill, text or "")


# --- 称呼 --------------------------------------------------------------------------------------


def surname(name: str) -> str:
    name = (name or "").strip()
    if not name:
        return ""
    if _HAN.match(name):
        if name[:2] in COMPOUND_SURNAMES and len(name) > 2:
            return name[:2]
        return name[0]
    return name.split()[-1]


def salutation(name: str, gender: str = "", title: str = "") -> str:
    """王先生 / 李女士 / 王总监 / the name (see the module's docstring)."""
    name = (name or "").strip()
    family = surname(name)
    if not family:
        return ""
    han = bool(_HAN.match(name))
    if gender in ("m", "f"):
        if han:
            return family + ("先生" if gender == "m" else "女士")
        return ("Mr " if gender == "m" else "Ms ") + family
    title = (title or "").strip()
    if title and han:
        return family + title
    return name


# --- contexts ----------------------------------------------------------------------------------


def _person_name(user: Any) -> str:
    return str(user) if user is not None else ""


def context_for(member: Any, *, unsubscribe_url: str = "") -> dict[str, str]:
    """The merge values of one campaign member (contact or lead), read from the rows
    ``selectors.sends.message_batch`` loads with it (no further queries)."""
    campaign_name = member.campaign.name if member.campaign_id else ""
    contact = member.contact if member.contact_id else None
    if contact is not None:
        customer = contact.customer
        owner = customer.owner if customer.owner_id else None
        return {
            "salutation": salutation(contact.name, contact.gender, contact.title),
            "name": contact.name,
            "company": customer.name,
            "title": contact.title,
            "owner_name": _person_name(owner),
            "owner_phone": (owner.mobile if owner is not None else ""),
            "campaign": campaign_name,
            "unsubscribe_url": unsubscribe_url,
        }
    lead = member.lead if member.lead_id else None
    owner = lead.assignee if lead is not None and lead.assignee_id else None
    name = lead.contact_name if lead is not None else ""
    return {
        "salutation": salutation(name),
        "name": name,
        "company": lead.company_name if lead is not None else "",
        "title": "",
        "owner_name": _person_name(owner),
        "owner_phone": (owner.mobile if owner is not None else ""),
        "campaign": campaign_name,
        "unsubscribe_url": unsubscribe_url,
    }


def sample_context(actor: Any, campaign_name: str) -> dict[str, str]:
    """What a test send shows when the campaign has no member yet."""
    return {
        "salutation": "王先生",
        "name": "王伟",
        "company": gettext("Sample Company Ltd."),
        "title": "总经理",
        "owner_name": _person_name(actor),
        "owner_phone": getattr(actor, "mobile", ""),
        "campaign": campaign_name,
        "unsubscribe_url": "",
    }
