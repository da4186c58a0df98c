"""Storms: load for webhook receivers and sync clients, made of real stock changes.

Every step is another sales channel (the "storm" channel) reserving or releasing one unit of one
(product, warehouse) inside one unit of work, so each step fires exactly one ``AvailableBalanceChanged`` and
``ProductAvailability`` always agrees with the last hook for an item. The channel only releases what it holds
itself, so the allocated figure (``orderedQuantity``) never falls below the webshop orders' share nor below 0.

Shapes (``rate`` in steps per second; chosen by the mock):

- ``constant``: ``rate`` throughout.
- ``ramp``: from 0 up to ``rate`` linearly over the duration (so a count takes 2 x count / rate seconds).
- ``burst``: periods of ``burstPeriodSeconds`` (default 10): the first 10% of each at 10 x ``rate``, the rest at
  ``rate`` / 4 (1.225 x ``rate`` on average). So a burst's peak is ten times the rate asked for: progress states
  it (``plannedPeakRate``, ``peakRate``) so nobody mistakes ``rate`` for the load a receiver must take.
- ``poisson``: exponential inter-arrival times with mean 1 / ``rate`` from a seeded generator. With a
  durationSeconds the number of steps is drawn first (Poisson(rate x duration); a rounded normal above 500), then
  the arrival times as sorted uniforms - the same process, with the plan known up front.

For the deterministic shapes step k (from 0) happens when the shape's cumulative count reaches k + 1, so a
count-bounded storm's last step falls exactly at its duration. Times are whole milliseconds after the start.

Emission: under the virtual clock one timer at a time on ``rt.scheduler`` (``POST /_mock/clock/advance`` runs
each at its exact time); under the real clock an asyncio task wakes every ~5 ms, emits what is due (catching up
when late, at most ``MAX_STEPS_PER_WAKE`` a wake), one step per turn of ``rt.pace`` so that a burst of steps never
keeps an API request waiting for more than the loop pass's slice for background work (mock_xtnd/pacing.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from ..api.errors import json_response
from ..domain import backoffice as ops
from ..domain.clock import iso_ms, parse_iso
from ..domain.errors import DomainError, StoreUnavailable, bad_request, not_found
from ..runtime import Runtime
from .sampling import Zipf, poisson
from .storm_series import StormSeries

MAX_COUNT = 1_000_000  # the default of settings.storm_max_steps
MAX_DURATION_SECONDS = 3600.0
WAKE_SECONDS = 0.005
MAX_STEPS_PER_WAKE = 4096
SPIKE_FACTOR, SPIKE_SHARE, BASE_FACTOR = 10.0, 0.1, 0.25
LATENCY_BUCKET = 1.01  # percentiles are reported to within 1%
PEAK_WINDOW_MS, PEAK_BUCKET_MS = 1000, 10  # the peak rate: most steps in any one second, in 10 ms steps


class StormSpec(BaseModel):
    """``POST /_mock/storm`` body."""

    model_config = ConfigDict(extra="forbid")

    shape: Literal["constant", "ramp", "burst", "poisson"] = "constant"
    rate: float = Field(gt=0, le=1_000_000, description="Steps (AvailableBalanceChanged events) per second.")
    count: int | None = Field(default=None, ge=1, description="Steps in all (at most storm_max_steps, by default "
                                                                 f"{MAX_COUNT:,}).")
    durationSeconds: float | None = Field(default=None, gt=0, description="Or: how long (at most 3600 s).")
    products: int | None = Field(default=None, ge=1, description="How many products to use (default all).")
    skew: Literal["uniform", "zipf"] = "uniform"
    zipfS: float = Field(default=1.1, gt=0, le=10)
    warehouses: list[str] | None = Field(default=None, description="Default: all warehouses.")
    burstPeriodSeconds: float = Field(default=10.0, gt=0, le=3600)


# ---------------------------------------------------------------------------------------------- shapes
class Plan:
    """How many steps a storm makes and when: ``offsets()`` yields each step's ms after the start, in order."""

    def __init__(self, spec: StormSpec, rng: random.Random, max_count: int = MAX_COUNT) -> None:
        self.spec = spec
        self.rng = rng
        r = spec.rate
        if spec.count is not None and spec.durationSeconds is not None:
            both = "Give count or durationSeconds, not both."
            raise bad_request(both, ("count", both))
        if spec.count is None and spec.durationSeconds is None:
            neither = "Give count or durationSeconds."
            raise bad_request(neither, ("count", neither))
        if spec.count is not None:
            if spec.count > max_count:
                raise bad_request(f"count is at most {max_count:,} (storm_max_steps).",
                                  ("count", f"At most {max_count:,}."))
            self.count = spec.count
            self.duration = self._duration_for(spec.count) if spec.shape != "poisson" else self.count / r
        else:
            assert spec.durationSeconds is not None
            if spec.durationSeconds > MAX_DURATION_SECONDS:
                raise bad_request("durationSeconds is at most 3600.", ("durationSeconds", "At most 3600 seconds."))
            self.duration = spec.durationSeconds
            if spec.shape == "poisson":
                self.count = poisson(rng, r * self.duration)
            else:
                self.count = math.floor(self._cumulative(self.duration) + 1e-9)
            if self.count > max_count:
                too_many = f"That storm would make {self.count:,} steps; at most {max_count:,} (storm_max_steps)."
                raise bad_request(too_many, ("rate", f"{too_many} Lower the rate or the duration."))
            if self.count < 1:
                none = "That storm would make no steps at all."
                raise bad_request(none, ("rate", f"{none} Raise the rate or the duration."))
        if self.duration > MAX_DURATION_SECONDS + 1e-6:
            # a count at a low rate is bounded like a duration (poisson: its expected duration)
            too_long = f"That storm would last {self.duration:,.0f} s; at most 3600."
            raise bad_request(too_long, ("count", f"{too_long} Lower the count or raise the rate."))

    # cumulative expected steps by t (deterministic shapes) and its inverse
    def _period(self) -> tuple[float, float, float]:
        p = self.spec.burstPeriodSeconds
        spike_len = SPIKE_SHARE * p
        spike_steps = SPIKE_FACTOR * self.spec.rate * spike_len
        per_period = spike_steps + BASE_FACTOR * self.spec.rate * (p - spike_len)
        return spike_len, spike_steps, per_period

    def _cumulative(self, t: float) -> float:
        r, shape = self.spec.rate, self.spec.shape
        if shape == "constant":
            return r * t
        if shape == "ramp":
            return r * t * t / (2 * self.duration)
        p = self.spec.burstPeriodSeconds
        spike_len, spike_steps, per_period = self._period()
        whole, u = divmod(t, p)
        part = SPIKE_FACTOR * r * u if u < spike_len else spike_steps + BASE_FACTOR * r * (u - spike_len)
        return whole * per_period + part

    def _inverse(self, x: float) -> float:
        r, shape = self.spec.rate, self.spec.shape
        if shape == "constant":
            return x / r
        if shape == "ramp":
            return math.sqrt(2 * self.duration * x / r)
        p = self.spec.burstPeriodSeconds
        spike_len, spike_steps, per_period = self._period()
        whole = math.floor(x / per_period)
        rem = x - whole * per_period
        if rem <= 0 and whole > 0:  # exactly at a period's end: the end of the previous period
            whole, rem = whole - 1, per_period
        if rem <= spike_steps:
            return whole * p + rem / (SPIKE_FACTOR * r)
        return whole * p + spike_len + (rem - spike_steps) / (BASE_FACTOR * r)

    @property
    def peak_rate(self) -> float:
        """The highest rate the shape plans, in steps per second: ``rate`` for constant and ramp (reached at the
        end), 10 x ``rate`` for a burst's spikes; for poisson the mean, which random clusters exceed."""
        return self.spec.rate * (SPIKE_FACTOR if self.spec.shape == "burst" else 1.0)

    def _duration_for(self, count: int) -> float:
        if self.spec.shape == "ramp":
            return 2 * count / self.spec.rate
        return self._inverse(count)

    def offsets(self) -> Iterator[int]:
        if self.spec.shape != "poisson":
            for k in range(self.count):
                yield round(self._inverse(k + 1) * 1000)
        elif self.spec.count is not None:
            t = 0.0
            for _ in range(self.count):
                t += self.rng.expovariate(self.spec.rate)
                yield round(t * 1000)
        else:
            # sorted uniforms on [0, D], smallest first: the minimum of n uniforms on [a, D] is
            # a + (D - a)(1 - U^(1/n))
            a, d = 0.0, self.duration
            for n in range(self.count, 0, -1):
                a += (d - a) * (1.0 - self.rng.random() ** (1.0 / n))
                yield round(a * 1000)


# ---------------------------------------------------------------------------------------------- peak rate
class PeakRate:
    """The most steps emitted within any one second (a window sliding in 10 ms steps), in constant memory: a ring
    of per-bucket counts and their running sum. Steps are counted at the time they were emitted, so a real-clock
    storm that fell behind and caught up shows the rate it really went at."""

    def __init__(self, window_ms: int = PEAK_WINDOW_MS, bucket_ms: int = PEAK_BUCKET_MS) -> None:
        self.bucket_ms = bucket_ms
        self.counts = [0] * (window_ms // bucket_ms)
        self.bucket = 0  # the latest bucket counted into
        self.in_window = 0
        self.peak = 0

    def add(self, at_ms: int) -> None:
        bucket = max(self.bucket, at_ms // self.bucket_ms)  # a clock never goes back; be safe if it did
        n = len(self.counts)
        if bucket > self.bucket:
            for b in range(self.bucket + 1, min(bucket, self.bucket + n) + 1):  # buckets leaving the window
                self.in_window -= self.counts[b % n]
                self.counts[b % n] = 0
            self.bucket = bucket
        self.counts[bucket % n] += 1
        self.in_window += 1
        self.peak = max(self.peak, self.in_window)


# ---------------------------------------------------------------------------------------------- delivery stats
class LatencyHistogram:
    """Log-spaced buckets (1% wide): constant memory for millions of deliveries, percentiles within 1%."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0

    def add(self, ms: float) -> None:
        key = -1 if ms < 0.01 else int(math.log(ms / 0.01, LATENCY_BUCKET))
        self.counts[key] = self.counts.get(key, 0) + 1
        self.total += 1

    def quantile(self, q: float) -> float | None:
        if not self.total:
            return None
        rank = max(1, math.ceil(q * self.total))
        seen = 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return 0.0 if key < 0 else round(0.01 * LATENCY_BUCKET ** (key + 0.5), 2)
        return None  # pragma: no cover


@dataclass
class DeliveryStats:
    """Delivery attempts journaled for the storm's notifications (see ``Storms.refresh``)."""

    cursor: int = 0
    sent: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    last_delivered_ms: int | None = None
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)


@dataclass
class Storm:
    id: str
    spec: StormSpec
    plan: Plan
    products: list[str]
    warehouses: list[str]
    rng: random.Random
    started_ms: int
    zipf: Zipf | None = None
    offsets: Iterator[int] = field(default_factory=lambda: iter(()))
    next_offset: int | None = None
    emitted: int = 0
    refused: int = 0  # steps whose commit the store refused (the database locked): they did not happen
    finished_ms: int | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = None
    stats: DeliveryStats = field(default_factory=DeliveryStats)
    peak: PeakRate = field(default_factory=PeakRate)
    series: StormSeries = field(default_factory=StormSeries)  # per second, for plots (storm_series.py)
    product_set: frozenset[str] = frozenset()
    warehouse_set: frozenset[str] = frozenset()

    @property
    def state(self) -> str:
        return "running" if self.finished_ms is None else "done"


# ---------------------------------------------------------------------------------------------- the part
class Storms:
    """The Part that runs storms (``POST /_mock/storm``) and reports their progress."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.channel = ops.OtherChannel("storm")
        self.channel.load(rt.loaded_records.get(ops.CHANNEL_RECORD_KIND, []))
        self.storms: dict[str, Storm] = {}
        self.evicted = 0  # finished storms dropped by retention (settings.retention.storms)

    # ------------------------------------------------------------------ Part protocol
    def admin_routers(self) -> list[Any]:
        return [router(self)]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self._cancel_tasks()

    def truth_records(self) -> list[tuple[str, str, Any]]:
        """This part's sales channel's holds, for ``/_mock/truth`` (persisted as ``channel_reservation``)."""
        return self.channel.records()

    def reset_records(self) -> list[tuple[str, str, Any]]:
        return []

    def reset(self) -> list[tuple[str, str, Any]]:
        # the scheduler (virtual timers) is already cleared; real-clock tasks stop at their next wake
        for storm in self.storms.values():
            if storm.task is not None:
                storm.task.cancel()
        self.storms.clear()
        self.evicted = 0
        self.channel.clear()
        return []

    async def _cancel_tasks(self) -> None:
        tasks = [s.task for s in self.storms.values() if s.task is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    # ------------------------------------------------------------------ starting
    def start_storm(self, spec: StormSpec) -> Storm:
        b = self.rt.backend
        all_products = list(b.state.products)
        if spec.products is not None and spec.products > len(all_products):
            raise bad_request(f"Only {len(all_products)} products exist.", ("products", f"At most {len(all_products)}."))
        warehouses = list(dict.fromkeys(spec.warehouses)) if spec.warehouses else list(b.state.warehouses)
        for wh in warehouses:
            b.warehouse(wh, "warehouses")
        counters = dict(self.rt.ids.counters)
        try:
            storm_id = f"storm-{self.rt.ids.next('storm')}"
            rng = self.rt.ids.rng(f"storm/{storm_id}")
            plan = Plan(spec, rng, self.rt.settings.storm_max_steps)
        except DomainError:  # a refused storm draws no id: the counters are as they were
            self.rt.ids.counters.clear()
            self.rt.ids.counters.update(counters)
            raise
        n = spec.products or len(all_products)
        # zipf ranks follow a seeded shuffle, so the hot products are not always the catalogue's first
        products = rng.sample(all_products, n) if (n < len(all_products) or spec.skew == "zipf") else all_products
        storm = Storm(storm_id, spec, plan, products, warehouses, rng, self.rt.clock.now_ms(),
                      zipf=Zipf(n, spec.zipfS) if spec.skew == "zipf" else None,
                      product_set=frozenset(products), warehouse_set=frozenset(warehouses))
        storm.offsets = plan.offsets()
        storm.next_offset = next(storm.offsets, None)
        storm.stats.cursor = self.rt.journal.last_seq
        self._retain()
        self.storms[storm_id] = storm
        if self.rt.clock.is_virtual:
            self._schedule(storm)
        else:
            storm.task = asyncio.get_running_loop().create_task(self._run_real(storm))
        return storm

    def _retain(self) -> None:
        """Keep at most ``retention.storms`` finished storms (the oldest go); running ones always stay."""
        keep = self.rt.settings.retention.storms
        finished = [sid for sid, s in self.storms.items() if s.finished_ms is not None]
        for sid in finished[: max(0, len(finished) - keep + 1)]:
            del self.storms[sid]
            self.evicted += 1

    # ------------------------------------------------------------------ emitting
    def _step(self, storm: Storm) -> None:
        rng = storm.rng
        idx = storm.zipf.draw(rng) if storm.zipf is not None else rng.randrange(len(storm.products))
        pn = storm.products[idx]
        wh = storm.warehouses[rng.randrange(len(storm.warehouses))] if len(storm.warehouses) > 1 else storm.warehouses[0]
        held = self.channel.held.get((pn, wh), 0)
        backend = self.rt.backend
        backend.origin = f"storm:{storm.id}"  # its deliveries carry this tag, so the figures count exactly them
        try:
            if held and rng.random() < 0.5:
                self.channel.release(backend, pn, wh, 1)
            else:
                self.channel.reserve(backend, pn, wh, 1)
        except StoreUnavailable:
            storm.refused += 1  # rolled back: this step did not happen; the storm goes on
            return
        finally:
            backend.origin = None
        storm.emitted += 1
        offset = self.rt.clock.now_ms() - storm.started_ms
        storm.peak.add(offset)
        storm.series.step(offset)

    def _emit_due(self, storm: Storm, now_offset: int, limit: int) -> int:
        done = 0
        while storm.next_offset is not None and storm.next_offset <= now_offset and done < limit:
            self._step(storm)
            done += 1
            storm.next_offset = next(storm.offsets, None)
        if storm.next_offset is None and storm.finished_ms is None:
            storm.finished_ms = self.rt.clock.now_ms()
        return done

    def _schedule(self, storm: Storm) -> None:
        """Virtual clock: one timer at the next step's exact time; it emits every step due then, and re-arms."""
        if storm.next_offset is None:
            return

        def fire() -> None:
            if self.storms.get(storm.id) is not storm:
                return  # reset since
            try:
                self._emit_due(storm, self.rt.clock.now_ms() - storm.started_ms, storm.plan.count)
            except DomainError as e:
                storm.error, storm.finished_ms = e.message, self.rt.clock.now_ms()
                return
            self._schedule(storm)

        self.rt.scheduler.call_at(storm.started_ms + storm.next_offset, f"storm {storm.id}", fire)

    async def _run_real(self, storm: Storm) -> None:
        clock, pace = self.rt.clock, self.rt.pace
        try:
            while storm.next_offset is not None:
                budget = MAX_STEPS_PER_WAKE
                while budget > 0:
                    await pace.turn()  # one step at a time, within the loop pass's slice for background work
                    if self._emit_due(storm, clock.now_ms() - storm.started_ms, 1) == 0:
                        break
                    budget -= 1
                if storm.next_offset is None:
                    break
                wait = (storm.next_offset - (clock.now_ms() - storm.started_ms)) / 1000
                await asyncio.sleep(min(1.0, max(WAKE_SECONDS, wait)))
        except DomainError as e:
            storm.error = e.message
        except Exception as e:  # a storm must not die silently
            storm.error = repr(e)
            self.rt.log_error(f"storm {storm.id} failed: {e!r}")
        finally:
            if storm.finished_ms is None:
                storm.finished_ms = clock.now_ms()
            storm.task = None

    # ------------------------------------------------------------------ progress
    def refresh(self, storm: Storm) -> DeliveryStats:
        """Fold the journal's new delivery attempts into the storm's figures: exactly the attempts whose events
        the storm made (tagged with its origin). Latency is from the notification's creation to the receiver's
        answer (retry waits included), when the outbox still knows the delivery; else the attempt's own."""
        outbox = self.rt.webhooks.outbox if self.rt.webhooks is not None else None
        st = storm.stats
        if self.rt.journal.last_seq <= st.cursor:
            return st
        records = self.rt.journal.since(st.cursor, kind="delivery", origin=f"storm:{storm.id}")
        st.cursor = self.rt.journal.last_seq
        for rec in records:
            at = parse_iso(rec["time"])
            st.sent += 1
            outcome = rec.get("outcome")
            if outcome == "delivered":
                st.delivered += 1
                latency = float(rec.get("latencyMs") or 0.0)
                created_at = outbox.created_at(rec.get("deliveryId", "")) if outbox is not None else None
                if created_at is not None:
                    latency += at - created_at
                st.latency.add(latency)
                end = at + round(float(rec.get("latencyMs") or 0.0))
                st.last_delivered_ms = end if st.last_delivered_ms is None else max(st.last_delivered_ms, end)
                storm.series.delivery(end - storm.started_ms, latency)
            elif outcome == "retry":
                st.retried += 1
            elif outcome in ("dead", "gone"):
                st.failed += 1
        return st

    def progress(self, storm: Storm) -> dict[str, Any]:
        st = self.refresh(storm)
        span_ms = (st.last_delivered_ms or storm.started_ms) - storm.started_ms
        rate = st.delivered / (span_ms / 1000) if span_ms > 0 else (float(st.delivered) if st.delivered else 0.0)
        return {
            "stormId": storm.id,
            "state": storm.state,
            "shape": storm.spec.shape,
            "rate": storm.spec.rate,
            "plannedPeakRate": storm.plan.peak_rate,
            "peakRate": storm.peak.peak,
            "planned": storm.plan.count,
            "emitted": storm.emitted,
            "refused": storm.refused,
            "startedAt": iso_ms(storm.started_ms),
            "finishedAt": iso_ms(storm.finished_ms) if storm.finished_ms is not None else None,
            "plannedDurationSeconds": round(storm.plan.duration, 3),
            "products": len(storm.products),
            "warehouses": storm.warehouses,
            "error": storm.error,
            "deliveries": {
                "sent": st.sent,
                "delivered": st.delivered,
                "retried": st.retried,
                "failed": st.failed,
                "deliveriesPerSecond": round(rate, 2),
                "p50LatencyMs": st.latency.quantile(0.50),
                "p99LatencyMs": st.latency.quantile(0.99),
            },
        }


# ---------------------------------------------------------------------------------------------- admin surface
def router(storms: Storms) -> APIRouter:
    r = APIRouter(tags=["storms"])

    @r.post("/storm", status_code=202,
            summary="Start a storm of real stock changes: {shape, rate, count | durationSeconds, products, skew, "
            "zipfS, warehouses, burstPeriodSeconds} -> 202 {stormId, planned, plannedDurationSeconds, "
            "plannedPeakRate}")
    async def start(body: StormSpec) -> Response:
        storm = storms.start_storm(body)
        return json_response({"stormId": storm.id, "planned": storm.plan.count,
                              "plannedDurationSeconds": round(storm.plan.duration, 3),
                              "plannedPeakRate": storm.plan.peak_rate}, 202)

    @r.get("/storm", summary="Every storm since the last reset, with progress")
    async def list_storms() -> Response:
        return json_response({"items": [storms.progress(s) for s in storms.storms.values()],
                              "evicted": storms.evicted})

    @r.get("/storm/{stormId}", summary="A storm's progress: steps emitted, the peak rate planned and emitted (most "
           "steps in any one second), deliveries sent/delivered/retried/failed, deliveries per second, p50/p99 "
           "delivery latency")
    async def progress(stormId: str) -> Response:
        storm = storms.storms.get(stormId)
        if storm is None:
            raise not_found("Storm", stormId, "stormId")
        return json_response(storms.progress(storm))

    return r
