"""The injected clock. Every time-dependent piece of the fake reads one of these, never the OS clock directly.

Time is kept as integer milliseconds since the Unix epoch (UTC): exact, cheap to compare and to persist, and
what XTND's wire format carries (ISO 8601 with milliseconds). Formatting happens only at the edge.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Protocol

DEFAULT_VIRTUAL_START = "2026-01-05T08:00:00.000Z"


class Clock(Protocol):
    is_virtual: bool

    def now_ms(self) -> int: ...


class RealClock:
    """Wall-clock time, truncated to milliseconds so a ChangedAt round-trips through its ISO form exactly."""

    is_virtual = False

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class VirtualClock:
    """A clock that only moves when told to (trio's MockClock, Twisted's task.Clock)."""

    is_virtual = True

    def __init__(self, start_ms: int) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def set_ms(self, value: int) -> None:
        if value < self._now:
            raise ValueError("a virtual clock never goes backwards")
        self._now = value

    def rewind(self, value: int) -> None:
        """Only for a reset to the seeded start: everything that read the old time is discarded with it."""
        self._now = value


def iso_ms(ms: int) -> str:
    """``2026-01-05T08:00:00.000Z``. Every API call and delivery attempt is stamped with one, mostly a new
    millisecond each time, so the date part is formatted once per second and the milliseconds appended."""
    seconds, millis = divmod(ms, 1000)
    return f"{_iso_second(seconds)}{millis:03d}Z"


@lru_cache(maxsize=4096)
def _iso_second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.")


def parse_iso(text: str) -> int:
    """Parse an ISO 8601 timestamp to epoch ms. A value without offset is taken as UTC. Raises ValueError."""
    value = text.strip()
    if not value or len(value) > 40:
        raise ValueError("not an ISO 8601 timestamp")
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000) if dt.microsecond % 1000 == 0 else int(dt.timestamp() * 1000)


def date_of(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


def day_start_ms(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)


def make_clock(kind: str, start: str | None = None) -> RealClock | VirtualClock:
    if kind == "real":
        return RealClock()
    if kind == "virtual":
        return VirtualClock(parse_iso(start or DEFAULT_VIRTUAL_START))
    raise ValueError(f"unknown clock kind {kind!r} (expected 'real' or 'virtual')")


class TenantDates:
    """Dates as XTND's API writes them: ISO 8601 with milliseconds and the tenant's offset,
    ``2026-01-05T09:00:00.000+01:00`` (documented format; the zone is the tenant's, Europe/Stockholm by default).
    The second is formatted once and cached (a page of 100 rows stamps many dates of the same few seconds)."""

    def __init__(self, zone: str = "Europe/Stockholm") -> None:
        from zoneinfo import ZoneInfo

        self.zone = ZoneInfo(zone)
        self._second = lru_cache(maxsize=8192)(self._format_second)
        # whole stamps too: a list page re-stamps the same records' change dates on every read
        self.text = lru_cache(maxsize=65536)(self._text)  # type: ignore[method-assign]

    def _format_second(self, seconds: int) -> tuple[str, str]:
        local = datetime.fromtimestamp(seconds, self.zone)
        offset = local.strftime("%z")  # +0100
        return local.strftime("%Y-%m-%dT%H:%M:%S."), f"{offset[:3]}:{offset[3:]}"

    def text(self, ms: int) -> str:
        return self._text(ms)

    def _text(self, ms: int) -> str:
        seconds, millis = divmod(ms, 1000)
        head, offset = self._second(seconds)
        return f"{head}{millis:03d}{offset}"

    def maybe(self, ms: int | None) -> str | None:
        return None if ms is None else self.text(ms)
