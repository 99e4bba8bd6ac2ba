"""Reading an inbound e-mail: headers, sender, thread ids and a plain-text body.

The message is parsed with the ``email`` package (``policy.default``) for its structure; the
headers and body bytes are decoded here, so that the Chinese charsets mail clients mislabel
(a "GB2312" body holding GBK characters) decode as GB18030, their superset, and an undeclared
or unknown charset falls back to UTF-8, then GB18030, instead of failing. HTML is turned into
text; in a reply the quoted earlier messages are trimmed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from html.parser import HTMLParser

CHINESE = {
    "gb2312", "gbk", "gb_2312-80", "x-gbk", "euc-cn", "cp936", "ms936", "x-euc-cn", "csgb2312"
}  # fmt: skip
MAX_BODY = 20000
MAX_SUBJECT = 200


@dataclass
class ParsedEmail:
    message_id: str
    sender: str
    sender_name: str
    subject: str
    body: str
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    date: datetime | None = None
    auto_submitted: bool = False

    @property
    def is_reply(self) -> bool:
        return bool(self.in_reply_to or self.references) or bool(REPLY_PREFIX.match(self.subject))


REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|回复|答复)\s*[:：]", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text from bytes in a declared charset, tolerant of wrong and missing declarations."""

    name = (charset or "").strip().strip('"').lower()
    if name in CHINESE or name.startswith("gb"):
        name = "gb18030"
    candidates = [name] if name and name not in {"us-ascii", "ascii", "unknown-8bit"} else []
    candidates += ["utf-8", "gb18030"]
    for candidate in candidates:
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def decode_header_value(value: str) -> str:
    """An unfolded header with its RFC 2047 encoded words (and raw 8-bit bytes) decoded."""

    if any("\udc80" <= ch <= "\udcff" for ch in value):
        # Raw 8-bit bytes in a header (no encoded words): the parser kept them as surrogates.
        value = decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    value = re.sub(r"\r?\n[ \t]+", " ", value)
    try:
        chunks = decode_header(value)
    except Exception:
        return value.strip()
    parts: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            parts.append(decode_bytes(chunk, charset))
        else:
            parts.append(chunk)
    return "".join(parts).strip()


def _raw_header(message: Message, name: str) -> str:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return ""


class _TextFromHtml(HTMLParser):
    """The visible text of an HTML body: blocks on their own lines, quotes and scripts dropped."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul"}
    HIDDEN = {"script", "style", "head", "title", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = " ".join(value or "" for name, value in attrs if name == "class")
        if (
            tag in self.HIDDEN
            or (self.hidden and tag == "div")
            or "gmail_quote" in classes
            or "yahoo_quoted" in classes
        ):
            if tag not in {"br"}:
                self.hidden += 1
            return
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" and not self.hidden:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.hidden and (tag in self.HIDDEN or tag == "div"):
            self.hidden -= 1
            return
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextFromHtml()
    try:
        parser.feed(html)
        parser.close()
    except Exception:
        return re.sub(r"<[^>]*>", " ", html)
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# Where the quoted earlier message starts in a reply (English, Chinese, Outlook, Gmail, Foxmail).
QUOTE_START = [
    re.compile(r"^-{2,}\s*(original message|原始邮件|原始郵件|回复的原邮件)\s*-{2,}", re.I),
    re.compile(r"^on\b.{0,200}\bwrote:\s*$", re.I),
    re.compile(r"^在\s?.{0,200}(写道|寫道)\s*[:：]?\s*$"),
    re.compile(r"^_{10,}\s*$"),
]
HEADER_BLOCK = re.compile(r"^(from|发件人|寄件者)\s*[:：]", re.I)
HEADER_NEXT = re.compile(r"^(sent|date|to|发送时间|日期|时间|收件人|寄件日期)\s*[:：]", re.I)


def trim_quoted(text: str) -> str:
    """A reply without the quoted earlier messages under it (kept whole if nothing is left)."""

    lines = text.splitlines()
    cut = len(lines)
    for index, line in enumerate(lines):
        stripped = line.strip()
        joined = (stripped + " " + lines[index + 1].strip()) if index + 1 < len(lines) else stripped
        if any(p.match(stripped) for p in QUOTE_START) or (
            QUOTE_START[1].match(joined) and stripped.lower().startswith("on ")
        ):
            cut = index
            break
        if HEADER_BLOCK.match(stripped) and any(
            HEADER_NEXT.match(following.strip()) for following in lines[index + 1 : index + 4]
        ):
            cut = index
            break
    kept = lines[:cut]
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    result = "\n".join(line for line in kept if not line.lstrip().startswith(">")).strip()
    return result or text.strip()


def _body(message: EmailMessage) -> str:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception:
        part = message
    if part is None:
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    text = decode_bytes(payload, part.get_content_charset())
    if part.get_content_type() == "text/html":
        return html_to_text(text)
    if part.get_content_type() != "text/plain":
        return ""
    return text.replace("\r\n", "\n").strip()


def parse_email(raw: bytes) -> ParsedEmail:
    """The parts of an e-mail a ticket needs; never raises on a malformed message."""

    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    name, address = parseaddr(decode_header_value(_raw_header(message, "From")))
    message_id = MESSAGE_ID.search(_raw_header(message, "Message-ID"))
    # A message without a Message-ID is known by its content, so reading it again is no duplicate.
    key = message_id.group(0) if message_id else f"<{hashlib.sha256(raw).hexdigest()}@no-id>"
    in_reply_to = MESSAGE_ID.search(_raw_header(message, "In-Reply-To"))
    references = MESSAGE_ID.findall(_raw_header(message, "References"))
    try:
        date = parsedate_to_datetime(_raw_header(message, "Date"))
    except (TypeError, ValueError, IndexError):
        date = None
    if date is not None and date.tzinfo is None:
        date = None
    auto = _raw_header(message, "Auto-Submitted").strip().lower()
    precedence = _raw_header(message, "Precedence").strip().lower()
    parsed = ParsedEmail(
        message_id=key[:255],
        sender=address.strip().lower()[:254],
        sender_name=name.strip()[:100],
        subject=decode_header_value(_raw_header(message, "Subject"))[:MAX_SUBJECT],
        body="",
        in_reply_to=in_reply_to.group(0) if in_reply_to else "",
        references=references,
        date=date,
        auto_submitted=(auto not in {"", "no"})
        or precedence in {"bulk", "junk", "auto_reply"}
        or message.get_content_type() == "multipart/report"  # a bounce (DSN)
        or address.split("@")[0].lower() in {"mailer-daemon", "postmaster"},
    )
    body = _body(message)
    if parsed.is_reply:
        body = trim_quoted(body)
    parsed.body = body[:MAX_BODY]
    return parsed
