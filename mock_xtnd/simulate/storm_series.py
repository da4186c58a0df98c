"""A storm over time: steps emitted and hooks delivered per second, delivery latency per second, and how long a
client's view lagged the truth. What the dashboard's storm page and ``mock-xtnd storm --report`` plot.

Constant memory per second of storm: counts in lists indexed by the second after the storm's start (on the fake's
clock, so a virtual-clock storm plots in virtual seconds), and each second's latencies in coarse log buckets (25%
wide: per-second percentiles are estimates within that; the storm's overall figures keep their 1% histogram).

**The lag between the truth and a client's view** (chosen by the mock: the fake cannot see inside a client, so it
measures what the journal proves). The truth of an item (product, warehouse) changes at a storm step; the change is
known to the fake as the moment its AvailableBalanceChanged notification was created (a hook exists only for a
subscription, so without one nothing is measured). The client's view of that item is taken as fresh from its first
good ``ProductAvailability`` read that covers the item (names the product, or is a list read without a product
filter; the warehouse matches or is not given) and arrived after the change. Lag = that read's arrival - the
earliest change it covers: the staleness the client's view had at most, whatever it then does with the answer.
Reads by any API user count (the fake cannot tell a client under check from another one); changes never read are
reported as ``unread``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

COARSE = 1.25  # per-second latency buckets: 25% wide
COARSE_FLOOR_MS = 0.1
HIST_BINS_PER_DECADE = 10  # the overall histogram as plotted: 10 log-spaced bins per factor of ten
CUT_FAULTS = frozenset({"drop", "truncate", "commit-then-drop", "outage"})


def _coarse_key(ms: float) -> int:
    return -1 if ms < COARSE_FLOOR_MS else int(math.log(ms / COARSE_FLOOR_MS, COARSE))


def _coarse_value(key: int) -> float:
    return 0.0 if key < 0 else round(COARSE_FLOOR_MS * COARSE ** (key + 0.5), 2)


def quantile(buckets: Mapping[int, int], total: int, q: float) -> float | None:
    """The q-quantile of a coarse bucket map (key -> count), as the bucket's middle."""
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for key in sorted(buckets):
        seen += buckets[key]
        if seen >= rank:
            return _coarse_value(key)
    return None  # pragma: no cover


class PerSecond:
    """Counts and coarse latency buckets per second after a start."""

    def __init__(self) -> None:
        self.counts: list[int] = []
        self.buckets: list[dict[int, int]] = []
        self.maxima: list[float | None] = []

    def _grow(self, second: int) -> None:
        while len(self.counts) <= second:
            self.counts.append(0)
            self.buckets.append({})
            self.maxima.append(None)

    def add(self, offset_ms: int, value_ms: float | None = None) -> None:
        second = max(0, offset_ms // 1000)
        self._grow(second)
        self.counts[second] += 1
        if value_ms is not None:
            key = _coarse_key(value_ms)
            b = self.buckets[second]
            b[key] = b.get(key, 0) + 1
            top = self.maxima[second]
            self.maxima[second] = value_ms if top is None else max(top, value_ms)

    def quantiles(self, q: float) -> list[float | None]:
        """Each second's q-quantile (a bucket's middle, never above the second's largest value)."""
        out: list[float | None] = []
        for b, top in zip(self.buckets, self.maxima, strict=True):
            value = quantile(b, sum(b.values()), q)
            out.append(None if value is None or top is None else min(value, round(top, 2)))
        return out


class LagTracker:
    """Folds journal records (in order) into lag samples; see the module docstring for what is measured."""

    def __init__(self, origin: str | None, started_ms: int, user: str | None = None) -> None:
        self.origin = origin  # None: hooks of any origin (a whole run, not one storm)
        self.user = user  # None: reads by any API user
        self.started_ms = started_ms
        self.pending: dict[str, dict[str, int]] = {}  # product -> warehouse -> earliest change not yet read (ms)
        self.unread = 0
        self.seen: set[str] = set()  # delivery ids already counted (attempts after the first add nothing)
        self.per_second = PerSecond()  # by the change's second: how long it waited to be read
        self.samples: dict[int, int] = {}  # coarse buckets over the whole storm
        self.count = 0
        self.max_ms = 0.0
        self.users: set[str] = set()

    def change(self, product: str, warehouse: str, at_ms: int) -> None:
        items = self.pending.setdefault(product, {})
        if warehouse not in items:
            items[warehouse] = at_ms
            self.unread += 1
        elif at_ms < items[warehouse]:
            items[warehouse] = at_ms

    def read(self, at_ms: int, products: Iterable[str], warehouse: str | None) -> None:
        names = list(products) or list(self.pending)
        for product in names:
            items = self.pending.get(product)
            if not items:
                continue
            for wh in [w for w, changed in items.items() if changed <= at_ms and warehouse in (None, w)]:
                changed = items.pop(wh)
                self.unread -= 1
                lag = float(at_ms - changed)
                self.per_second.add(changed - self.started_ms, lag)
                key = _coarse_key(lag)
                self.samples[key] = self.samples.get(key, 0) + 1
                self.count += 1
                self.max_ms = max(self.max_ms, lag)
            if not items:
                del self.pending[product]

    def fold(self, record: Mapping[str, Any], created_at: int | None, at_ms: int) -> None:
        """One journal record: a storm hook's first attempt is a change; a good availability read by any user
        reads every pending change it covers."""
        if record.get("kind") == "delivery":
            if (self.origin is not None and record.get("origin") != self.origin) or record.get("forged"):
                return
            did = str(record.get("deliveryId"))
            if did in self.seen:
                return
            self.seen.add(did)
            for note in record.get("notifications") or ():
                details = note.get("Details") or {}
                if note.get("Action") == "AvailableBalanceChanged" and details.get("ProductNumber") is not None:
                    self.change(str(details["ProductNumber"]), str(details.get("Warehouse")),
                                created_at if created_at is not None else at_ms)
            return
        if (record.get("kind") != "api" or record.get("resource") != "ProductAvailability"
                or record.get("user") is None or record.get("method") != "GET"
                or (self.user is not None and record.get("user") != self.user)):
            return
        status = record.get("status") or 0
        if not 200 <= status < 300 or record.get("fault") in CUT_FAULTS or not self.unread:
            return
        self.users.add(str(record["user"]))
        warehouse = record.get("warehouse")
        self.read(at_ms, [str(p) for p in record.get("productNumbers") or ()],
                  None if warehouse is None else str(warehouse))

    def _clamped(self, q: float) -> float | None:
        value = quantile(self.samples, self.count, q)
        return None if value is None else min(value, round(self.max_ms, 1))

    def to_json(self) -> dict[str, Any]:
        return {
            "measured": self.count,
            "unread": self.unread,
            "users": sorted(self.users),
            "p50Ms": self._clamped(0.5),
            "p99Ms": self._clamped(0.99),
            "maxMs": round(self.max_ms, 1) if self.count else None,
            "perSecondP50Ms": self.per_second.quantiles(0.5),
            "perSecondMaxMs": [None if m is None else round(m, 1) for m in self.per_second.maxima],
        }


class StormSeries:
    """Steps emitted and hooks delivered per second of one storm."""

    def __init__(self) -> None:
        self.emitted = PerSecond()
        self.delivered = PerSecond()

    def step(self, offset_ms: int) -> None:
        self.emitted.add(offset_ms)

    def delivery(self, answered_offset_ms: int, latency_ms: float) -> None:
        self.delivered.add(answered_offset_ms, latency_ms)

    def to_json(self) -> dict[str, Any]:
        n = max(len(self.emitted.counts), len(self.delivered.counts))
        emitted = self.emitted.counts + [0] * (n - len(self.emitted.counts))
        delivered = self.delivered.counts + [0] * (n - len(self.delivered.counts))
        pad: list[float | None] = [None] * (n - len(self.delivered.buckets))
        return {
            "seconds": list(range(n)),
            "emitted": emitted,
            "delivered": delivered,
            "p50LatencyMs": self.delivered.quantiles(0.5) + pad,
            "p99LatencyMs": self.delivered.quantiles(0.99) + pad,
        }


def histogram(counts: Mapping[int, int], bucket: float, floor_ms: float) -> dict[str, list[float]]:
    """A fine log histogram (key -> count, keys as ``int(log(ms / floor, bucket))``, -1 below the floor) merged
    into ``HIST_BINS_PER_DECADE`` bins per decade: ``{"edgesMs": [...], "counts": [...]}`` (one more edge than
    counts), empty bins inside the range kept so the bars sit where they belong."""
    if not counts:
        return {"edgesMs": [], "counts": []}
    merged: dict[int, int] = {}
    for key, n in counts.items():
        ms = 0.0 if key < 0 else floor_ms * bucket ** (key + 0.5)
        b = -10**6 if ms <= 0 else math.floor(math.log10(ms) * HIST_BINS_PER_DECADE)
        merged[b] = merged.get(b, 0) + n
    low = min(k for k in merged if k > -10**6) if any(k > -10**6 for k in merged) else 0
    high = max(merged)
    if -10**6 in merged:  # latencies too small to place: counted in the first bin
        merged[low] = merged.get(low, 0) + merged.pop(-10**6)
    bins = range(low, high + 1)
    return {"edgesMs": [round(10 ** (b / HIST_BINS_PER_DECADE), 3) for b in [*bins, high + 1]],
            "counts": [merged.get(b, 0) for b in bins]}
