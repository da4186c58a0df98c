"""XTND's dates: answers carry ISO 8601 with milliseconds and the tenant's offset
(``2026-01-05T09:00:00.107+01:00``); change filters (``modifiedDateFrom``) are sent as ``YYYY-MM-DDTHH:MM:SS`` and
read as UTC ("fully qualified utc format").

Comparisons use integer epoch milliseconds, never the strings: the same instant can be written with any offset.
"""

from __future__ import annotations

from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(text: str) -> int:
    """Epoch milliseconds of an ISO 8601 timestamp; a value without offset is UTC. Raises ValueError."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def to_filter(ms: int) -> str:
    """A change filter value: UTC, whole seconds, rounded *down* (the filter is inclusive, so earlier is safe)."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
