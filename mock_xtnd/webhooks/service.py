"""Webhooks, XTND's way: domain events -> durable outbox -> parallel signed POSTs with retries on the injected clock.

Delivery semantics are the ASP.NET WebHooks sender's defaults (configurable): 3 attempts in all (at once, then 1
and 4 minutes later); the same Id on every attempt with Attempt counting up, each attempt re-signed; 2xx =
delivered; 410 = stop; any other status, a refused connection or a timeout = retry; several senders in parallel,
so no ordering guarantee and possible duplicates. Exhausted deliveries are dead-lettered and can be redelivered.

The wire is sender.py: a small keep-alive HTTP/1.1 client (aiohttp for https), not httpx, whose async pool
collapses under concurrency (shared/performance-notes.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..domain.clock import iso_ms
from ..domain.errors import DomainError, FieldError, not_found
from ..domain.events import ACTIONS, DomainEvent
from ..faults.deliveries import DeliveryFaults
from .outbox import DEAD, DELIVERED, GONE, PENDING, Attempt, Delivery, Outbox
from .sender import Sender
from .signing import sign
from .subscriptions import Subscription
from .urls import CallbackUrlError, check_callback_host

if TYPE_CHECKING:
    from fastapi import APIRouter

    from ..runtime import Runtime

FLUSH_EVERY_S = 0.05
STATS_KIND = "outbox_stats"  # the persisted record of what retention dropped


class Webhooks:
    """A runtime Part and the backend's ChangeSink."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.settings = rt.settings.delivery
        self.faults = DeliveryFaults(rt.settings.seed, rt.settings.delivery_faults.model_copy())
        self.subscriptions: dict[str, Subscription] = {}
        retention = rt.settings.retention
        self.outbox = Outbox(retention.finished_deliveries, retention.finished_delivery_bytes)
        self._flush_failing = False
        self._due: list[tuple[int, int, str]] = []
        self._seq = 0
        self._staged: list[Delivery] = []
        self._dirty: dict[str, Delivery] = {}
        self._queue: asyncio.Queue[str] | None = None
        self._in_flight = 0
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sender_client: Sender | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self.generation = 0
        self._restore()
        rt.backend.sinks.append(self)
        rt.backend.after_commit.append(self._after_commit)

    # ------------------------------------------------------------------ state
    def _config_subscriptions(self) -> dict[str, Subscription]:
        return {s.name: Subscription.from_settings(s) for s in self.rt.settings.subscriptions}

    def _restore(self) -> None:
        loaded = self.rt.loaded_records
        if "subscription" in loaded or "delivery" in loaded or self.rt.store is not None and loaded:
            for _key, rec in loaded.get("subscription", []):
                sub = Subscription.from_record(rec)
                self.subscriptions[sub.name] = sub
            # in creation order (the store lists records by key); retention applies at once if its limits shrank
            for rec in sorted((rec for _key, rec in loaded.get("delivery", [])),
                              key=lambda r: (r.get("seq", 0), r.get("created_at", 0), r.get("id", ""))):
                d = Delivery.from_record(rec)
                self.outbox.add(d)
                if d.status == PENDING:
                    self._push(d)
            for _key, rec in loaded.get(STATS_KIND, []):
                self.outbox.load_stats(rec)
        else:
            self.subscriptions = self._config_subscriptions()
            if self.rt.store is not None:
                self.rt.store.write([("subscription", s.name, s.to_record()) for s in self.subscriptions.values()],
                                    self.rt.meta())

    def truth_records(self) -> list[tuple[str, str, Any]]:
        """The subscriptions for ``/_mock/truth``: as persisted, the secret shown as a digest (a change shows)."""
        out = []
        for name, sub in self.subscriptions.items():
            rec = sub.to_record()
            rec["secret"] = "sha256:" + hashlib.sha256(rec["secret"].encode()).hexdigest()[:16]
            out.append(("subscription", name, rec))
        return out

    def reset_records(self) -> list[tuple[str, str, Any]]:
        """What a reset persists: the config file's subscriptions (an empty outbox)."""
        return [("subscription", s.name, s.to_record()) for s in self._config_subscriptions().values()]

    def reset(self) -> list[tuple[str, str, Any]]:
        self.generation += 1  # attempts still in flight belong to the old world: their outcome is dropped
        self.subscriptions = self._config_subscriptions()
        self.outbox.clear()
        self._due.clear()
        self._dirty.clear()
        self._staged.clear()
        self.faults = DeliveryFaults(self.rt.settings.seed, self.rt.settings.delivery_faults.model_copy())
        return self.reset_records()

    def _push(self, d: Delivery) -> None:
        """Plan the delivery's next attempt and wake the pump: it may be sleeping with nothing else to send."""
        self._seq += 1
        heapq.heappush(self._due, (d.next_attempt_at, self._seq, d.id))
        self.poke()

    def next_due(self) -> int | None:
        while self._due:
            due, _, did = self._due[0]
            d = self.outbox.pending(did)
            if d is None or d.next_attempt_at != due:
                heapq.heappop(self._due)
                continue
            return due
        return None

    # ------------------------------------------------------------------ fan-out (ChangeSink)
    def on_change(self, touched: dict[tuple[str, str], Any], events: list[DomainEvent]) -> list[tuple[str, str, Any]]:
        """Every event -> one notification per active subscription that wants it (warehouse filter; events
        without a warehouse pass). Staged now, persisted in the caller's transaction, queued after commit."""
        if not events or not self.subscriptions:
            return []
        per_sub: dict[str, list[tuple[dict[str, Any], str | None]]] = {}
        for ev in events:
            for sub in self.subscriptions.values():
                if sub.wants(ev.action, ev.warehouse_number):
                    per_sub.setdefault(sub.name, []).append(({"Action": ev.action, "Details": ev.details}, ev.origin))
        out: list[tuple[str, str, Any]] = []
        batch = self.faults.plan.batch
        now = self.rt.clock.now_ms()
        for name, notes in per_sub.items():
            sub = self.subscriptions[name]
            for i in range(0, len(notes), batch):
                chunk = notes[i : i + batch]
                d = self._new_delivery(sub, [n for n, _ in chunk], now)
                origins = {o for _, o in chunk}
                d.origin = origins.pop() if len(origins) == 1 else None
                self._staged.append(d)
                out.append(("delivery", d.id, d))
        return out

    def _new_delivery(self, sub: Subscription, notes: list[dict[str, Any]], now: int, forged: str | None = None) -> Delivery:
        ids = self.rt.ids
        did = ids.hex32("delivery")
        d = Delivery(did, ids.guid("notification"), sub.name, sub.callback_url, notes, now, now, forged=forged,
                     seq=ids.counters["delivery"])
        if forged is None:
            d.next_attempt_at = now + self.faults.extra_delay_ms(did, 1)
        return d

    def on_rollback(self) -> None:
        """The unit of work failed: its deliveries never existed (their ids are given back with the counters)."""
        self._staged.clear()

    def _after_commit(self, events: list[DomainEvent]) -> None:
        staged, self._staged = self._staged, []
        for d in staged:
            self.outbox.add(d)
            self._push(d)
        if staged:
            self.poke()

    def poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    # ------------------------------------------------------------------ dispatch
    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._wake = asyncio.Event()
        self._sender_client = Sender(self.settings.timeout_seconds, max_idle_per_host=self.settings.senders)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._sender()) for _ in range(self.settings.senders)]
        self._tasks.append(loop.create_task(self._pump()))
        self._flush_task = loop.create_task(self._flusher())
        self.poke()

    async def stop(self) -> None:
        tasks = self._tasks + ([self._flush_task] if self._flush_task else [])
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks, self._flush_task = [], None
        self.flush()
        if self._sender_client is not None:
            await self._sender_client.close()
            self._sender_client = None

    def _move_due(self) -> int:
        assert self._queue is not None
        now = self.rt.clock.now_ms()
        moved = 0
        while (due := self.next_due()) is not None and due <= now:
            _, _, did = heapq.heappop(self._due)
            self._in_flight += 1
            self._queue.put_nowait(did)
            moved += 1
        return moved

    async def _pump(self) -> None:
        assert self._wake is not None
        while True:
            self._move_due()
            due = self.next_due()
            if self.rt.clock.is_virtual or due is None:
                timeout = None
            else:
                timeout = max(0.0, (due - self.rt.clock.now_ms()) / 1000)
            self._wake.clear()
            if timeout is None:
                await self._wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=min(timeout, 1.0))

    async def drain_due(self) -> None:
        """Send every attempt due now and wait until they have finished (virtual clock)."""
        assert self._queue is not None
        while True:
            self._move_due()
            if self._in_flight == 0:
                break
            await self._queue.join()
        self.flush()

    async def _sender(self) -> None:
        assert self._queue is not None
        while True:
            did = await self._queue.get()
            try:
                await self.rt.pace.turn()
                d = self.outbox.pending(did)
                if d is not None:
                    await self._attempt(d)
                    self.outbox.settle(d)
            except Exception as e:  # a sender must never die: record and go on
                self.rt.log_error(f"delivery {did} failed unexpectedly: {e!r}")
            finally:
                self._in_flight -= 1
                self._queue.task_done()

    async def _post(self, url: str, body: bytes, signature: str | None) -> tuple[int | None, str | None, float]:
        assert self._sender_client is not None
        return await self._sender_client.post(url, body, signature)

    async def _attempt(self, d: Delivery) -> None:
        generation = self.generation
        sub = self.subscriptions.get(d.subscription)
        number = d.attempt_count + 1
        now = self.rt.clock.now_ms()
        if sub is None:
            d.attempts.append(Attempt(number, now, None, "subscription removed", 0.0))
            d.status = DEAD
            self._dirty[d.id] = d
            self._journal(d, number, now, (None, "subscription removed", 0.0), None, "dead")
            return
        status: int | None
        error: str | None
        duplicate: tuple[int | None, str | None, float] | None = None
        fault: str | None = None
        try:  # whatever goes wrong before or while sending, the attempt is a failed one: retried, then dead
            body = d.body(number)
            plan = self.faults.for_attempt(d.id, number) if d.forged is None else None
            if d.forged == "missing":
                signature: str | None = None
            elif d.forged == "bad" or (plan is not None and plan.tamper):
                signature = sign(sub.secret + "\x00tampered", body)
                fault = None if d.forged else "tampered-signature"
            else:
                signature = sign(sub.secret, body)
            if plan is not None and plan.drop:
                status, error, latency = None, "dropped", 0.0
                fault = "drop"
            else:
                status, error, latency = await self._post(sub.callback_url, body, signature)
                if plan is not None and plan.duplicate:  # the same attempt, sent twice (ASP.NET's parallel senders)
                    duplicate = await self._post(sub.callback_url, body, signature)
                await self.rt.pace.turn()  # the answer's bookkeeping is background work too
        except Exception as e:
            self.rt.log_error(f"delivery {d.id} attempt {number} could not be sent: {e!r}")
            status, error, latency, duplicate, fault = None, "error", 0.0, None, None
        if fault is None and d.forged is None:
            fault = self._scheduled_fault(d, number)
        if generation != self.generation:
            return  # a reset happened while this attempt was on the wire: it no longer exists
        d.attempts.append(Attempt(number, now, status, error, round(latency, 3), fault))
        if d.forged is not None:
            d.status = DELIVERED if status is not None and 200 <= status < 300 else DEAD
        elif status is not None and 200 <= status < 300:
            d.status = DELIVERED
        elif status == 410:
            d.status = GONE
        elif number < self._max_attempts(d):
            delays = self.settings.retry_delays_seconds
            delay = delays[(number - 1) % (1 + len(delays))] if (number - 1) % (1 + len(delays)) < len(delays) else 0
            d.next_attempt_at = self.rt.clock.now_ms() + int(delay * 1000) + self.faults.extra_delay_ms(d.id, number + 1)
            self._push(d)
        else:
            d.status = DEAD
        outcome = {DELIVERED: "delivered", GONE: "gone", DEAD: "dead"}.get(d.status, "retry")
        self._journal(d, number, now, (status, error, latency), fault, outcome, sub.callback_url)
        if duplicate is not None:  # a tampered attempt's copy is tampered too: label it so (the judge keys on it)
            self._journal(d, number, now, duplicate,
                          "tampered-signature" if fault == "tampered-signature" else "duplicate", outcome,
                          sub.callback_url)
        self._dirty[d.id] = d
        if len(self._dirty) >= 500:
            self.flush()

    def _scheduled_fault(self, d: Delivery, number: int) -> str | None:
        """The journal's label for a fault applied before the attempt was sent: ``reorder`` (a first attempt
        spread over the window), ``delay`` (extra delay or jitter), ``batched`` (several notifications)."""
        p = self.faults.plan
        redelivered_now = number > 1 and (number - 1) % (1 + len(self.settings.retry_delays_seconds)) == 0
        if not redelivered_now:  # a redelivery by hand goes at once, with no planned delay
            if number == 1 and p.reorder_window_seconds:
                return "reorder"
            if p.delay_seconds or p.jitter_seconds:
                return "delay"
        if len(d.notifications) > 1:
            return "batched"
        return None

    def _max_attempts(self, d: Delivery) -> int:
        """The budget: 1 + one per retry delay, renewed by each redelivery by hand."""
        return (1 + len(self.settings.retry_delays_seconds)) * (1 + d.redeliveries)

    def _journal(self, d: Delivery, number: int, at: int, result: tuple[int | None, str | None, float],
                 fault: str | None, outcome: str, url: str | None = None) -> None:
        status, error, latency = result
        self.rt.journal.append({
            "kind": "delivery", "time": iso_ms(at), "deliveryId": d.id, "notificationId": d.notification_id,
            "subscription": d.subscription, "url": url or d.url, "attempt": number, "notifications": d.notifications,
            "status": status, "error": error, "latencyMs": round(latency, 3), "outcome": outcome, "fault": fault,
            "forged": d.forged is not None, "origin": d.origin,
        })

    # ------------------------------------------------------------------ persistence of outcomes
    def flush(self) -> bool:
        """Persist attempt outcomes and what retention dropped. Group-committed: a crash before a flush only means
        a delivered hook is sent again after restart (at-least-once), never that a pending one is lost. When the
        store refuses (the database locked by another process), everything waits for the next flush; never raises.
        Returns whether everything is written."""
        evicted = self.outbox.take_evicted()
        if not self._dirty and not evicted:
            return True
        dirty, self._dirty = self._dirty, {}
        if self.rt.store is None:
            return True
        gone = set(evicted)
        records: list[tuple[str, str, Any]] = [("delivery", d.id, d) for d in dirty.values() if d.id not in gone]
        if evicted:  # dropped by retention: deleted on disk too, and counted
            records += [("delivery", did, None) for did in evicted]
            records.append((STATS_KIND, "outbox", self.outbox.stats_record()))
        try:
            self.rt.store.write(records, self.rt.meta())
        except Exception as e:
            self._dirty = {**dirty, **self._dirty}  # newer outcomes win
            self.outbox.evicted_ids = evicted + self.outbox.evicted_ids
            if not self._flush_failing:
                self.rt.log_error(f"outbox flush failed, will retry: {e}")
            self._flush_failing = True
            return False
        if self._flush_failing:
            self.rt.log_error("outbox flush succeeded again")
            self._flush_failing = False
        return True

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            self.flush()

    # ------------------------------------------------------------------ admin
    def save_subscription(self, name: str, sub: Subscription | None) -> None:
        """Add or replace (``sub``) or delete (None) a subscription - every way of changing one goes through here:
        its callback host must be allowed by ``callback_hosts`` (a 400 naming ``callbackUrl``), and it is persisted
        before memory changes, so a refused write (the database locked) changes nothing."""
        if sub is not None:
            try:
                check_callback_host(sub.callback_url, self.rt.settings.callback_hosts)
            except CallbackUrlError as e:
                raise DomainError(400, f"Invalid subscription: callbackUrl: {e}", [FieldError("callbackUrl", str(e))],
                                  "invalid") from None
        if self.rt.store is not None:
            # a dict, not the dataclass: the store would encode a dataclass with its snake_case field names
            self.rt.store.write([("subscription", name, sub.to_record() if sub is not None else None)],
                                self.rt.meta())
        if sub is None:
            self.subscriptions.pop(name, None)
        else:
            self.subscriptions[name] = sub

    def redeliver(self, did: str) -> Delivery:
        d = self.outbox.get(did)
        if d is None:
            raise not_found("Delivery", did, "id")
        if d.status == PENDING:
            raise DomainError(400, f"Delivery {did} is still pending.", [FieldError("deliveryId", "Pending.")])
        if d.forged is not None:
            raise DomainError(400, "A forged delivery is never redelivered.", [FieldError("deliveryId", "Forged.")])
        # ``d`` is a copy thawed from the finished row: persisted first, so a refused write changes nothing
        d.status = PENDING
        d.next_attempt_at = self.rt.clock.now_ms()
        d.redeliveries += 1
        if self.rt.store is not None:
            self.rt.store.write([("delivery", d.id, d)], self.rt.meta())
        self.outbox.add(d)
        self._dirty.pop(d.id, None)
        self._push(d)
        self.poke()
        return d

    def forge(self, action: str, details: dict[str, Any], signature: str, subscription: str | None) -> list[Delivery]:
        if action not in ACTIONS:
            raise DomainError(400, f"Unknown action {action!r}.", [FieldError("action", "Unknown action.")], "invalid")
        if signature not in ("bad", "missing"):
            raise DomainError(400, "signature must be 'bad' or 'missing'.", [FieldError("signature", "bad|missing")],
                              "invalid")
        if subscription and subscription not in self.subscriptions:
            raise not_found("Subscription", subscription, "subscription")
        subs = [self.subscriptions[subscription]] if subscription else [s for s in self.subscriptions.values() if s.active]
        now = self.rt.clock.now_ms()
        counters = dict(self.rt.ids.counters)
        out = [self._new_delivery(sub, [{"Action": action, "Details": details}], now, forged=signature) for sub in subs]
        if self.rt.store is not None and out:
            try:  # persisted before they exist in memory: a refused write leaves nothing behind, ids included
                self.rt.store.write([("delivery", d.id, d) for d in out], self.rt.meta())
            except BaseException:
                self.rt.ids.counters.clear()
                self.rt.ids.counters.update(counters)
                raise
        for d in out:
            self.outbox.add(d)
            self._push(d)
        self.poke()
        return out

    def delivery_json(self, d: Delivery) -> dict[str, Any]:
        return {
            "deliveryId": d.id, "notificationId": d.notification_id, "subscription": d.subscription, "url": d.url,
            "actions": d.actions(), "notifications": d.notifications, "status": d.status,
            "forged": d.forged is not None, "createdAt": iso_ms(d.created_at),
            "nextAttemptAt": iso_ms(d.next_attempt_at) if d.status == PENDING else None,
            "attempts": [{"attempt": a.attempt, "time": iso_ms(a.at_ms), "status": a.status, "error": a.error,
                          "latencyMs": a.latency_ms, "fault": a.fault} for a in d.attempts],
        }

    def outbox_records(self) -> list[dict[str, Any]]:
        """Every delivery as persisted (for /_mock/truth), in creation order."""
        return [d.to_record() for d in self.outbox.query(None, None, None)]

    def query(self, status: str | None, action: str | None, subscription: str | None) -> Iterable[Delivery]:
        return self.outbox.query(status, action, subscription)

    def admin_routers(self) -> list[APIRouter]:
        from .admin import router

        return [router(self)]
