"""The one way Kehu's server sends an HTTP request to a URL a user gave (robot webhooks).

A URL that reaches the server's own network is server-side request forgery: a webhook on
``http://127.0.0.1:6379/``, ``http://169.254.169.254/`` (cloud metadata) or ``http://10.0.0.5/``
would make Kehu talk to services its users cannot reach. ``check_url`` allows http and https
only, resolves the host and refuses it when any of its addresses is loopback, private,
link-local, reserved, multicast or unspecified; ``post_json`` checks at every send (DNS may have
changed since the URL was saved), connects to the very address it checked (no second lookup
for a rebinding DNS server to answer differently) and follows no redirect.

Connections are kept open between requests (``_client``): one pooled ``httpx.Client`` per host
name, scheme and timeout, shared by the process's threads, so a job worker sending thousands of
webhook deliveries to one receiver reuses its connections (and TLS sessions) instead of opening
one per request. A client serves one host name only: a kept TLS connection was verified for
that name and is never reused for another name on the same address.

``settings.ALLOW_PRIVATE_WEBHOOKS`` (``KEHU_ALLOW_PRIVATE_WEBHOOKS``) lifts the address check for
installations whose robots live on the internal network; the tests' local receivers turn it on.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from typing import Any

import httpx
from django.conf import settings
from django.utils.translation import gettext as _

SCHEMES = {"http": 80, "https": 443}
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(ValueError):
    """The URL may not be requested from the server; the message says why, for the user."""


class Unresolvable(OutboundRefused):
    """The host name does not resolve (now): nothing is sent, but saving such a URL is fine."""


def is_internal(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as error:
        raise OutboundRefused(_("This is not a valid URL.")) from error
    if parsed.scheme not in SCHEMES or not parsed.host:
        raise OutboundRefused(_("The URL must start with http:// or https:// and name a host."))
    return parsed


def _unresolvable(host: str) -> str:
    return _("The host name %(host)s does not resolve.") % {"host": host}


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to (an IP literal is its own)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise Unresolvable(_unresolvable(host)) from error
    return [ipaddress.ip_address(str(entry[4][0]).split("%", 1)[0]) for entry in found]


def check_url(url: str, *, allow_internal: bool | None = None) -> tuple[httpx.URL, Address]:
    """The parsed URL and the address to connect to; ``OutboundRefused`` when it is not allowed.

    ``allow_internal`` overrides ``settings.ALLOW_PRIVATE_WEBHOOKS`` for callers with a switch
    of their own (the outbound webhooks' ``integrations.allow_internal_receivers``)."""
    parsed = _parse(url)
    addresses = resolve(parsed.host, parsed.port or SCHEMES[parsed.scheme])
    if not addresses:
        raise Unresolvable(_unresolvable(parsed.host))
    if allow_internal is None:
        allow_internal = settings.ALLOW_PRIVATE_WEBHOOKS
    if not allow_internal and any(is_internal(a) for a in addresses):
        raise OutboundRefused(
            _("The URL points to a local or private network address, which Kehu does not call.")
        )
    return parsed, addresses[0]


def validate_url(url: str, *, allow_internal: bool | None = None) -> None:
    """Check a URL as it is saved: a name that does not resolve now is accepted, since it is
    checked again at each send."""
    try:
        check_url(url, allow_internal=allow_internal)
    except Unresolvable:
        return


MAX_CLIENTS = 64  # pooled clients kept (host names × timeouts); past it, one client a request
KEEPALIVE_SECONDS = 30.0
_clients: dict[tuple[str, str, float], httpx.Client] = {}
_clients_lock = threading.Lock()


def _client(parsed: httpx.URL, timeout: float) -> tuple[httpx.Client, bool]:
    """The pooled client of ``parsed``'s scheme and host name at ``timeout``, and whether the
    caller must close it (a one-off, once ``MAX_CLIENTS`` are kept)."""
    key = (parsed.scheme, parsed.host, timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is not None:
            return client, False
        fresh = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=8, keepalive_expiry=KEEPALIVE_SECONDS),
        )
        if len(_clients) >= MAX_CLIENTS:
            return fresh, True
        _clients[key] = fresh
        return fresh, False


def close_clients() -> None:
    """Close the pooled connections (tests; a process that stops sending)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def _post(parsed: httpx.URL, address: Address, timeout: float, **request: Any) -> httpx.Response:
    pinned = parsed.copy_with(host=str(address))
    headers = {**request.pop("headers", {}), "Host": parsed.netloc.decode("ascii")}
    extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
    client, one_off = _client(parsed, timeout)
    try:
        return client.post(pinned, headers=headers, extensions=extensions, **request)
    finally:
        if one_off:
            client.close()


def post_json(url: str, payload: dict[str, Any], *, timeout: float) -> httpx.Response:
    """POST ``payload`` as JSON to the checked address of ``url``; redirects are not followed."""
    parsed, address = check_url(url)
    return _post(parsed, address, timeout, json=payload)


def post_bytes(
    url: str,
    body: bytes,
    *,
    headers: dict[str, str],
    timeout: float,
    allow_internal: bool | None = None,
) -> httpx.Response:
    """POST exactly ``body`` (signed callers sign these bytes) to the checked address of
    ``url`` with ``headers``; redirects are not followed."""
    parsed, address = check_url(url, allow_internal=allow_internal)
    return _post(parsed, address, timeout, content=body, headers=dict(headers))
