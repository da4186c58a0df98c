"""XTND's wire timestamps: ISO 8601 UTC with milliseconds (``2026-01-05T08:00:00.000Z``).

Comparisons use integer epoch milliseconds, never the strings: a tenant that sends ``+00:00`` or drops the
milliseconds must still compare correctly. Cursors keep the server's own string, so a ``changedSince`` we send
back is exactly a value the server produced.
"""

from __future__ import annotations

from datetime import UTC, datetime

# The start of every changedSince cursor: "everything". Sending it (rather than no filter) keeps every list call
# a changedSince call, which is what XTND asks of clients.
BEGINNING = "1970-01-01T00:00:00.000Z"


def to_ms(text: str) -> int:
    """Epoch milliseconds of an ISO 8601 timestamp; a value without offset is UTC. Raises ValueError."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
