"""Reading inbound e-mails: encodings, HTML, quoted replies, missing headers."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.mime.text import MIMEText

from kehu.service.services.mail_parse import decode_bytes, html_to_text, parse_email, trim_quoted


def test_rfc2047_subject_and_sender_name_in_gb2312_and_utf8() -> None:
    subject = "=?gb2312?B?" + base64.b64encode("打印机故障".encode("gb2312")).decode() + "?="
    sender = "=?utf-8?B?" + base64.b64encode("王芳".encode()).decode() + "?= <Wang@Example.COM>"
    raw = (
        f"From: {sender}\r\nTo: help@kehu.test\r\nSubject: {subject}\r\n"
        "Message-ID: <a1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n你好\r\n"
    ).encode()
    parsed = parse_email(raw)
    assert parsed.subject == "打印机故障"
    assert parsed.sender == "wang@example.com"
    assert parsed.sender_name == "王芳"
    assert parsed.message_id == "<a1@example.com>"
    assert parsed.body == "你好"
    assert not parsed.is_reply


def test_gbk_body_labelled_gb2312_decodes_as_gb18030() -> None:
    # 镕 is in GBK but not in GB2312: clients still label such mail "gb2312".
    text = "朱镕基同志：服务器无法启动，请尽快处理。"
    msg = MIMEText(text, "plain", "gb18030")
    msg.replace_header("Content-Type", 'text/plain; charset="gb2312"')
    msg["From"] = "li@example.com"
    msg["Subject"] = "=?GBK?B?" + base64.b64encode("故障".encode("gbk")).decode() + "?="
    parsed = parse_email(msg.as_bytes())
    assert parsed.body == text
    assert parsed.subject == "故障"


def test_raw_8bit_gbk_header_and_undeclared_body() -> None:
    raw = "From: a@b.cn\r\nSubject: 发票问题\r\n\r\n发票还没有收到\r\n".encode("gbk")
    parsed = parse_email(raw)
    assert parsed.subject == "发票问题"
    assert parsed.body == "发票还没有收到"
    # No Message-ID: the content names it, the same bytes always give the same id.
    assert parsed.message_id == parse_email(raw).message_id
    assert parsed.message_id.endswith("@no-id>")


def test_plain_text_preferred_over_html_and_html_alone_becomes_text() -> None:
    msg = EmailMessage()
    msg["From"] = "x@example.com"
    msg["Subject"] = "Both"
    msg.set_content("the plain part")
    msg.add_alternative("<p>the <b>html</b> part</p>", subtype="html")
    assert parse_email(msg.as_bytes()).body == "the plain part"

    html = EmailMessage()
    html["From"] = "x@example.com"
    html.set_content(
        "<html><head><style>p{}</style></head><body><p>Line&nbsp;one</p><div>Line two<br>three"
        "</div><script>alert(1)</script></body></html>",
        subtype="html",
    )
    assert parse_email(html.as_bytes()).body == "Line one\n\nLine two\nthree"


def test_html_quote_dropped() -> None:
    text = html_to_text(
        '<div>Thanks, fixed.</div><div class="gmail_quote">On Mon X wrote:<blockquote>old'
        "<div>older</div></blockquote></div><p>after</p>"
    )
    assert text == "Thanks, fixed.\n\nafter"


def test_quoted_reply_trimmed_in_english_and_chinese() -> None:
    english = "Works now.\n\nOn Mon, 1 Jun 2026, Kehu <h@k.test> wrote:\n> old\n> older"
    assert trim_quoted(english) == "Works now."
    chinese = "好的，谢谢\n\n在 2026年6月1日 周一 10:00，客服 写道：\n> 请重启"
    assert trim_quoted(chinese) == "好的，谢谢"
    foxmail = "收到\n\n------------------ 原始邮件 ------------------\n发件人: x"
    assert trim_quoted(foxmail) == "收到"
    outlook = "OK\n\nFrom: Help Desk\nSent: Monday\nTo: me\nSubject: x\n\nold"
    assert trim_quoted(outlook) == "OK"
    # Nothing but a quote: kept whole rather than emptied.
    assert trim_quoted("> only a quote") == "> only a quote"


def test_reply_headers_and_trimming_only_for_replies() -> None:
    msg = EmailMessage()
    msg["From"] = "Zhang <zhang@example.com>"
    msg["Subject"] = "Re: [T2612060001] Printer"
    msg["In-Reply-To"] = "<r1@kehu.test>"
    msg["References"] = "<a1@example.com> <r1@kehu.test>"
    msg["Date"] = "Sun, 06 Dec 2026 10:00:00 +0800"
    msg.set_content("Still broken.\n\nOn Sun, Kehu wrote:\n> Please restart\n")
    parsed = parse_email(msg.as_bytes())
    assert parsed.is_reply
    assert parsed.in_reply_to == "<r1@kehu.test>"
    assert parsed.references == ["<a1@example.com>", "<r1@kehu.test>"]
    assert parsed.body == "Still broken."
    assert parsed.date is not None
    assert parsed.date.utcoffset() is not None

    forwarded = EmailMessage()
    forwarded["From"] = "zhang@example.com"
    forwarded["Subject"] = "Fwd: problem"
    forwarded.set_content("See below.\n\nOn Sun, Li wrote:\n> the real problem\n")
    assert "the real problem" in parse_email(forwarded.as_bytes()).body


def test_auto_replies_recognised() -> None:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content("I am away")
    assert parse_email(msg.as_bytes()).auto_submitted
    bounce = EmailMessage()
    bounce["From"] = "MAILER-DAEMON@mx.example.com"
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce.set_content("The mail system could not deliver")
    assert parse_email(bounce.as_bytes()).auto_submitted
    person = EmailMessage()
    person["From"] = "wang@example.com"
    person.set_content("hello")
    assert not parse_email(person.as_bytes()).auto_submitted


def test_decode_bytes_fallbacks() -> None:
    assert decode_bytes("中文".encode(), "x-unknown") == "中文"
    assert decode_bytes("中文".encode("gbk"), None) == "中文"
    assert decode_bytes("中文".encode("gb18030"), "GB_2312-80") == "中文"
    assert decode_bytes(b"\xff\xfe\xfa", "utf-8")  # never raises


def test_garbage_never_raises() -> None:
    parsed = parse_email(b"\x00\xff garbage without headers")
    assert parsed.sender == ""
    parse_email(b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nbroken")
