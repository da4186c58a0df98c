"""Verifying XTND's webhook signature: ``ms-signature: sha256=<UPPERCASE hex HMAC-SHA256 of the exact body bytes>``,
keyed by the subscription's secret (UTF-8). Standard library only: copy it as it is."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "ms-signature"
_PREFIX = "sha256="


def verify_signature(secret: str, body: bytes, header_value: str | None) -> bool:
    """True when ``header_value`` signs ``body`` under ``secret``. Constant-time; the hex digits are compared
    case-insensitively (XTND sends uppercase), the ``sha256=`` prefix is required."""
    if not header_value or not header_value.strip().lower().startswith(_PREFIX):
        return False
    given = header_value.strip()[len(_PREFIX) :].upper().encode("ascii", "replace")
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest().upper().encode("ascii")
    return hmac.compare_digest(given, expected)
