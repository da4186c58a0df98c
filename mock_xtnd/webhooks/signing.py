"""XTND webhook signing: HMAC-SHA256 over the exact raw body bytes, keyed by the hook's secret (UTF-8).

The header is ``ms-signature: sha256=<64 UPPERCASE hex>`` (the ASP.NET WebHooks sender's format).
This module is shared by the fake (which signs) and the reference sync (which verifies); it has no
dependencies beyond the standard library so any integration can copy it.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "ms-signature"
_PREFIX = "sha256="


def signature_hex(secret: str, body: bytes) -> str:
    """The 64-character UPPERCASE hex HMAC-SHA256 of ``body`` under ``secret``."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest().upper()


def sign(secret: str, body: bytes) -> str:
    """The full ``ms-signature`` header value for ``body``: ``sha256=<UPPERCASE hex>``."""
    return _PREFIX + signature_hex(secret, body)


def verify(secret: str, body: bytes, header_value: str | None) -> bool:
    """True when ``header_value`` is a valid signature of ``body`` under ``secret``.

    The comparison is constant-time. The hex digits are compared case-insensitively (XTND sends
    uppercase; a receiver should not reject a lowercase copy), the ``sha256=`` prefix is required.
    """
    if not header_value:
        return False
    value = header_value.strip()
    if value[: len(_PREFIX)].lower() != _PREFIX:
        return False
    given = value[len(_PREFIX) :].upper()
    if len(given) != 64:
        return False
    expected = signature_hex(secret, body)
    return hmac.compare_digest(given.encode("ascii", "replace"), expected.encode("ascii"))
