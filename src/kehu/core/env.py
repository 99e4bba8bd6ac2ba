"""Typed readers for the KEHU_* environment variables (see docs/operations.md)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class ConfigurationError(RuntimeError):
    """A KEHU_* setting has a value Kehu cannot use; the message names the variable."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def persistent_secret_key(data_dir: Path) -> str:
    """Return the secret key stored in the data dir, creating it on first start.

    A generated key must survive restarts, or every session and signed link dies with the process.
    """
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def email_settings(url: str) -> dict[str, object]:
    """Translate KEHU_EMAIL_URL (smtp://user:pass@host:port?tls=1, smtps://…, console:)."""
    if not url:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    parsed = urlparse(url)
    if parsed.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parsed.scheme not in {"smtp", "smtps", "submission"}:
        raise ConfigurationError(
            f"KEHU_EMAIL_URL must start with smtp://, smtps:// or console:, not {parsed.scheme!r}"
        )
    query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    default_port = {"smtp": 25, "smtps": 465, "submission": 587}[parsed.scheme]
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parsed.hostname or "localhost",
        "EMAIL_PORT": parsed.port or default_port,
        "EMAIL_HOST_USER": unquote(parsed.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parsed.password or ""),
        "EMAIL_USE_SSL": parsed.scheme == "smtps",
        "EMAIL_USE_TLS": parsed.scheme == "submission" or query.get("tls") in TRUE_WORDS,
        "EMAIL_TIMEOUT": 20,
    }


def env_base_url(name: str) -> str:
    """An absolute ``http(s)://host[:port][/prefix]`` address, without a trailing slash;
    ``""`` when unset. Anything else (no scheme, a query, a fragment) is refused by name."""
    raw = env_str(name)
    if not raw:
        return ""
    problem = base_url_problem(raw)
    if problem:
        raise ConfigurationError(f"{name} {problem}, not {raw!r}")
    return raw.rstrip("/")


def base_url_problem(value: str) -> str:
    """Why ``value`` cannot be Kehu's public address ("" when it can)."""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return "must start with http:// or https:// and name a host"
    if parsed.query or parsed.fragment or parsed.params:
        return "must not carry a query or a fragment"
    try:
        parsed.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return "has an invalid port"
    return ""
