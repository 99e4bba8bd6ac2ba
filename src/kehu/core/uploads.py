"""The content check of every uploaded file: its first bytes must be what its name says.

Customer, follow-up and opportunity attachments are checked here, each against its own list
of allowed extensions. A file whose bytes do not match its extension (an HTML page named
``.png``) is refused: served back, a browser that guesses the type from the content would run
it. Types without a signature of their own (plain text, CSV, e-mail) must at least not be
markup a browser renders.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

# extension -> (content type, accepted leading bytes; empty: text, checked for markup)
UPLOAD_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "pdf": ("application/pdf", (b"%PDF",)),
    "png": ("image/png", (b"\x89PNG",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "gif": ("image/gif", (b"GIF8",)),
    "webp": ("image/webp", (b"RIFF",)),
    "heic": ("image/heic", ()),  # an ISO box: "ftyp" at offset 4 (_matches)
    "doc": ("application/msword", (b"\xd0\xcf\x11\xe0",)),
    "xls": ("application/vnd.ms-excel", (b"\xd0\xcf\x11\xe0",)),
    "ppt": ("application/vnd.ms-powerpoint", (b"\xd0\xcf\x11\xe0",)),
    "msg": ("application/vnd.ms-outlook", (b"\xd0\xcf\x11\xe0",)),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (b"PK\x03\x04",),
    ),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        (b"PK\x03\x04",),
    ),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        (b"PK\x03\x04",),
    ),
    "zip": ("application/zip", (b"PK\x03\x04", b"PK\x05\x06")),
    "txt": ("text/plain", ()),
    "csv": ("text/csv", ()),
    "eml": ("message/rfc822", ()),
}
HEAD_BYTES = 512

# What browsers render or run as a page, whatever the file is called.
MARKUP_STARTS = (
    b"<!doctype",
    b"<html",
    b"<head",
    b"<body",
    b"<script",
    b"<svg",
    b"<?xml",
    b"<iframe",
    b"<object",
    b"<embed",
    b"<!--",
)
ACTIVE_EXTENSIONS = frozenset({"html", "htm", "xhtml", "shtml", "svg", "svgz", "xml", "js", "mjs"})


def extension_of(name: str) -> str:
    """The lower-case extension of a file name, without the dot ("" without one)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def content_type_of(extension: str) -> str:
    """The content type a stored file of this extension is served as (not the client's)."""
    return UPLOAD_TYPES.get(extension, ("application/octet-stream", ()))[0]


def _head(upload: Any) -> bytes:
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    return bytes(head or b"")


def _matches(extension: str, head: bytes) -> bool:
    if extension == "heic":
        return head[4:8] == b"ftyp"
    signatures = UPLOAD_TYPES.get(extension, ("", ()))[1]
    return not signatures or head.startswith(signatures)


def looks_like_markup(head: bytes) -> bool:
    """True for bytes a browser would render as a page (leading BOM and blanks skipped)."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n\x00").lower().startswith(MARKUP_STARTS)


def content_problem(upload: Any, extension: str) -> str | None:
    """Why the upload's content does not fit its extension; None when it does.

    Known binary types must start with their signature; every other file must not be markup
    (HTML, SVG, XML) nor be named as such.
    """
    if extension in ACTIVE_EXTENSIONS:
        return _("Files of type “.%(ext)s” cannot be uploaded.") % {"ext": extension}
    head = _head(upload)
    if not _matches(extension, head) or looks_like_markup(head):
        return _("The file's content does not match its .%(ext)s name.") % {"ext": extension or "?"}
    return None
