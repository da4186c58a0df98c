"""Callback URLs: what the fake accepts at subscribe time, and the exact request line it sends.

A URL is checked once, where it enters (the config file, ``/_mock/webhooks``), by the same parser the sender uses,
so a subscription that was accepted can always be sent: scheme http(s), a host (an IP address, or a name that
IDNA-encodes), a port from 1 to 65535, no user:password@, no control characters. A non-ASCII path or query is
sent percent-encoded as UTF-8, a non-ASCII host as its IDNA (punycode) form.

Which hosts a callback may name is the fake's SSRF surface: the sender connects to whatever a subscription names,
and the delivery log tells refused from timed-out from answered, so whoever can add a subscription can probe
hosts and ports the fake can reach. ``callback_hosts`` (settings) limits it; the default is loopback only.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

MAX_URL_LENGTH = 2048
_HOST_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$")
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


class CallbackUrlError(ValueError):
    """A callback URL the fake will not accept; the message says why (it becomes the 400's ModelState text)."""


@dataclass(frozen=True, slots=True)
class CallbackTarget:
    scheme: str  # "http" | "https"
    host: str  # ASCII: an IP address (no brackets) or an IDNA-encoded name, lower case
    port: int
    target: str  # the request-target: path and query, ASCII, percent-encoded
    host_header: str  # what the Host header carries: host[:port] as written

    @property
    def url(self) -> str:
        """The URL in its ASCII wire form."""
        return f"{self.scheme}://{self.host_header}{self.target}"

    @property
    def is_ip(self) -> bool:
        return _ip(self.host) is not None


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def parse_callback_url(url: str) -> CallbackTarget:
    """The URL checked and in its wire form. Every delivery attempt asks again for its subscription's URL, so the
    answers are remembered (a few per run; CallbackTarget is immutable)."""
    if not isinstance(url, str):
        raise CallbackUrlError("must be an absolute http(s) URL")
    return _parse_callback_url(url)


@lru_cache(maxsize=256)
def _parse_callback_url(url: str) -> CallbackTarget:
    if not url:
        raise CallbackUrlError("must be an absolute http(s) URL")
    if len(url) > MAX_URL_LENGTH:
        raise CallbackUrlError(f"must be at most {MAX_URL_LENGTH} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url) or url != url.strip():
        raise CallbackUrlError("must not contain control characters or leading/trailing spaces")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or not parts.hostname:
        raise CallbackUrlError("must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise CallbackUrlError("must not carry user:password@ (the sender does not use it)")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise CallbackUrlError("the port must be a number from 1 to 65535")
    hostname = parts.hostname
    ip = _ip(hostname)
    if ip is not None:
        host = str(ip)
        written = f"[{host}]" if ip.version == 6 else host
    else:
        try:
            host = hostname.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise CallbackUrlError(f"the host {hostname!r} is not a valid domain name") from None
        if not _HOST_NAME.match(host) or len(host) > 253 or any(len(label) > 63 for label in host.split(".")):
            raise CallbackUrlError(f"the host {hostname!r} is not a valid domain name")
        written = host
    target = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=_QUERY_SAFE)
    default = 443 if parts.scheme == "https" else 80
    return CallbackTarget(parts.scheme, host, port if port is not None else default, target,
                          written if port is None else f"{written}:{port}")


def check_host_patterns(patterns: list[str]) -> None:
    """Each entry is ``*`` (any host), an IP address or network (``10.0.0.0/8``), a host name, or ``*.suffix``."""
    for p in patterns:
        if not isinstance(p, str) or not p.strip():
            raise ValueError("callback host entries must be non-empty strings")
        if p == "*" or _network(p) is not None:
            continue
        name = p[2:] if p.startswith("*.") else p
        if not _HOST_NAME.match(name):
            raise ValueError(f"{p!r} is not a host name, an IP address or network, '*.suffix' or '*'")


def _network(p: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(p.strip("[]"), strict=False)
    except ValueError:
        return None


def host_allowed(target: CallbackTarget, patterns: list[str]) -> bool:
    ip = _ip(target.host)
    for p in patterns:
        if p == "*":
            return True
        net = _network(p)
        if net is not None:
            if ip is not None and ip.version == net.version and ip in net:
                return True
            continue
        name = p.lower().rstrip(".")
        host = target.host.rstrip(".")
        if name.startswith("*."):
            if host.endswith(name[1:]):
                return True
        elif host == name:
            return True
    return False


def check_callback_host(url: str, patterns: list[str]) -> CallbackTarget:
    """Parse ``url`` and refuse a host ``patterns`` (``callback_hosts``) does not allow."""
    target = parse_callback_url(url)
    if not host_allowed(target, patterns):
        raise CallbackUrlError(
            f"the host {target.host!r} is not an allowed callback host ({', '.join(patterns) or 'none'}); add it to "
            "callback_hosts in the config (docs/webhooks.md: the sender reaches whatever a callback names)")
    return target
