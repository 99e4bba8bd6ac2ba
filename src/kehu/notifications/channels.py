"""Senders for the delivery channels: SMTP email and the WeCom / DingTalk / Feishu group robots.

Each sender raises ``DeliveryError`` with a readable reason when the message was not accepted,
so the delivery job can log it and retry with backoff.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import quote_plus, urlparse

import httpx
from django.conf import settings
from django.core.mail import EmailMessage

from kehu.core import outbound

TIMEOUT_SECONDS = 10.0


class DeliveryError(Exception):
    """The channel refused or could not take the message."""


def is_web_url(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in {"http", "https"} and bool(parsed.netloc)


def webhook_problem(url: str) -> str | None:
    """Why a robot's webhook URL may not be saved (core.outbound's guard), or None."""
    try:
        outbound.validate_url(url)
    except outbound.OutboundRefused as refused:
        return str(refused)
    return None


def send_email(*, to: str, subject: str, text: str) -> None:
    if not to:
        raise DeliveryError("no email address")
    try:
        sent = EmailMessage(
            subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=[to]
        ).send()
    except Exception as error:  # smtplib, socket and SSL errors alike
        raise DeliveryError(f"{type(error).__name__}: {error}") from error
    if sent != 1:
        raise DeliveryError("the mail server did not accept the message")


def _post_json(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        response = outbound.post_json(url, payload, timeout=TIMEOUT_SECONDS)
    except outbound.OutboundRefused as refused:
        raise DeliveryError(f"refused: {refused}") from refused
    except httpx.HTTPError as error:
        raise DeliveryError(f"{type(error).__name__}: {error}") from error
    if response.is_redirect:
        raise DeliveryError(f"HTTP {response.status_code}: redirects are not followed")
    if response.status_code >= 400:
        raise DeliveryError(f"HTTP {response.status_code}: {response.text[:300]}")
    try:
        body = response.json()
    except ValueError as error:
        raise DeliveryError(f"not a JSON answer: {response.text[:300]}") from error
    return body if isinstance(body, dict) else {}


def dingtalk_signature(secret: str, timestamp_ms: int) -> str:
    """DingTalk: base64(HMAC-SHA256(key=secret, msg="{timestamp}\\n{secret}"))."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_signature(secret: str, timestamp_s: int) -> str:
    """Feishu: base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg=b""))."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def send_wecom(*, url: str, subject: str, text: str) -> None:
    body = _post_json(
        url, {"msgtype": "markdown", "markdown": {"content": f"**{subject}**\n{text}"}}
    )
    if body.get("errcode", 0) != 0:
        raise DeliveryError(f"WeCom error {body.get('errcode')}: {body.get('errmsg', '')}")


def send_dingtalk(*, url: str, secret: str, subject: str, text: str) -> None:
    if secret:
        timestamp = int(time.time() * 1000)
        sign = quote_plus(dingtalk_signature(secret, timestamp))
        url = f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"
    payload = {
        "msgtype": "markdown",
        "markdown": {"title": subject, "text": f"### {subject}\n{text}"},
    }
    body = _post_json(url, payload)
    if body.get("errcode", 0) != 0:
        raise DeliveryError(f"DingTalk error {body.get('errcode')}: {body.get('errmsg', '')}")


def send_feishu(*, url: str, secret: str, subject: str, text: str) -> None:
    payload: dict[str, Any] = {"msg_type": "text", "content": {"text": f"{subject}\n{text}"}}
    if secret:
        timestamp = int(time.time())
        payload["timestamp"] = str(timestamp)
        payload["sign"] = feishu_signature(secret, timestamp)
    body = _post_json(url, payload)
    code = body.get("code", body.get("StatusCode", 0))
    if code != 0:
        raise DeliveryError(
            f"Feishu error {code}: {body.get('msg', body.get('StatusMessage', ''))}"
        )


__all__ = [
    "DeliveryError",
    "dingtalk_signature",
    "feishu_signature",
    "is_web_url",
    "send_dingtalk",
    "send_email",
    "send_feishu",
    "send_wecom",
    "webhook_problem",
]
