"""``tel:`` links for phone numbers a user may see in full (one tap to call, for reps in the
field). A masked number never becomes a link: its digits are not the real ones."""

from __future__ import annotations

import re

from django import template

register = template.Library()

_EXTENSION = re.compile(r"(转|分机|ext\.?|x|#)", re.IGNORECASE)


@register.filter
def tel_href(value: object) -> str:
    """``tel:+8613912345678`` for a shown number, "" for a blank or masked one (``138****1234``).

    An extension (``021-5080 1234 转 801``) is dialled after a pause (``,``), as phones do.
    """
    text = str(value or "").strip()
    if not text or "*" in text:
        return ""
    parts = _EXTENSION.split(text, maxsplit=1)  # [number] or [number, marker, extension]
    number, extension = parts[0], parts[2] if len(parts) == 3 else ""
    digits = re.sub(r"[^\d+]", "", number)
    if len(re.sub(r"\D", "", digits)) < 3:
        return ""
    extension_digits = re.sub(r"\D", "", extension)
    return f"tel:{digits}" + (f",{extension_digits}" if extension_digits else "")
