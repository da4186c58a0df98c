"""The dashboard Part: serves the page at ``/_mock/ui`` and the read endpoints it needs (docs/ui.md).

Everything the page shows or changes goes through ``/_mock``: the endpoints here only read, except ``PATCH
/_mock/webhooks/{name}`` (pause or resume a subscription without sending its secret back, which ``GET`` masks).
They are built to stay cheap under a storm: counters are folded from the journal incrementally (at most
``FOLD_LIMIT`` new records per request, the rest on the next), lists are paged on the server, and the page asks
the journal only for what came after the last record it has (``since``, ``limit``).
"""

from __future__ import annotations

import mimetypes
from collections import Counter, deque
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from fastapi import APIRouter, Body, Query
from starlette.responses import FileResponse, Response

from .. import __version__
from ..api.errors import json_response
from ..api.render import order_full
from ..domain.clock import iso_ms, parse_iso
from ..domain.errors import DomainError, FieldError, not_found
from ..domain.events import ACTIONS
from ..simulate.storm_series import LagTracker, histogram

if TYPE_CHECKING:
    from ..runtime import Runtime
    from ..simulate.storm import Storm, Storms

STATIC = Path(__file__).parent / "static"
FOLD_LIMIT = 20_000  # journal records folded into the counters per request (about 40 ms at most)
RATE_SECONDS = 300  # per-second API and hook rates kept for the overview's chart
RECENT_ERRORS = 30
ORDER_HOOK_ACTIONS = ("OrderCreated", "OrderReserved", "OrderPicked", "OrderCancelled", "OrderDeliveryDataChanged",
                      "CustomerInvoiceCreated", "CustomerInvoiceChanged")
TYPES = {".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8", ".json": "application/json"}


class JournalFold:
    """Counters over the journal, folded incrementally from a cursor (a reset starts them again)."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.cursor = 0
        self.api_calls = 0
        self.api_errors: Counter[str] = Counter()
        self.api_faults = 0
        self.api_quirks = 0
        self.attempts = 0
        self.outcomes: Counter[str] = Counter()
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_ERRORS)
        self.rates: dict[int, list[int]] = {}  # epoch second -> [API calls, delivery attempts]

    def fold(self, rt: Runtime) -> None:
        journal = rt.journal
        if journal.last_seq < self.cursor:  # the journal was cleared (a reset)
            self.clear()
        if journal.last_seq == self.cursor:
            return
        lines = journal.lines(since=self.cursor, limit=FOLD_LIMIT)
        for line in lines:
            rec = orjson.loads(line)
            self.cursor = rec["seq"]
            try:
                second = parse_iso(rec["time"]) // 1000
            except (KeyError, ValueError):
                second = None
            if rec.get("kind") == "api":
                self.api_calls += 1
                kind = rec.get("errorKind")
                if kind:
                    self.api_errors[kind] += 1
                    label = rec.get("fault") or rec.get("quirk")
                    self.recent.append({"seq": rec["seq"], "time": rec["time"], "kind": "api",
                                        "text": f"{rec.get('method')} {rec.get('path')} -> {rec.get('status')} {kind}"
                                        + (f" ({label})" if label else "")
                                        + (f": {rec['message']}" if rec.get("message") else "")})
                self.api_faults += rec.get("fault") is not None
                self.api_quirks += rec.get("quirk") is not None
                slot = 0
            else:
                self.attempts += 1
                outcome = str(rec.get("outcome"))
                self.outcomes[outcome] += 1
                if outcome != "delivered":
                    actions = ", ".join(str(n.get("Action")) for n in rec.get("notifications") or ())
                    answer = rec.get("status") if rec.get("status") is not None else rec.get("error")
                    self.recent.append({"seq": rec["seq"], "time": rec["time"], "kind": "delivery",
                                        "text": f"hook {actions} to {rec.get('subscription')} attempt "
                                        f"{rec.get('attempt')} -> {answer} ({outcome})"})
                slot = 1
            if second is not None:
                self.rates.setdefault(second, [0, 0])[slot] += 1
        if len(self.rates) > RATE_SECONDS:
            for second in sorted(self.rates)[:-RATE_SECONDS]:
                del self.rates[second]


class Dashboard:
    """A runtime Part: the dashboard's files and its read endpoints under /_mock."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.fold = JournalFold()
        self._stock_keys: list[tuple[str, str]] = []
        self._stock_of: object = None
        self.lags: dict[str, tuple[int, LagTracker]] = {}  # storm id -> (journal cursor, tracker)

    # ------------------------------------------------------------------ Part protocol
    def admin_routers(self) -> list[Any]:
        return [router(self)]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def reset(self) -> list[tuple[str, str, Any]]:
        self.fold.clear()
        self.lags.clear()
        self._stock_of = None
        return []

    # ------------------------------------------------------------------ helpers
    def storms(self) -> Storms | None:
        from ..simulate.storm import Storms

        return next((p for p in self.rt.parts if isinstance(p, Storms)), None)

    def stock_keys(self) -> list[tuple[str, str]]:
        """The (product, warehouse) keys in order; sorted again only when the stock table changed size or was
        replaced (items are added rarely, never removed but by a reset)."""
        stock = self.rt.backend.state.stock
        if self._stock_of is not stock or len(self._stock_keys) != len(stock):
            self._stock_keys = sorted(stock)
            self._stock_of = stock
        return self._stock_keys

    def stats(self) -> dict[str, Any]:
        rt = self.rt
        self.fold.fold(rt)
        f = self.fold
        st = rt.backend.state
        statuses = Counter(o.status for o in st.orders.values())
        subs = rt.webhooks.subscriptions if rt.webhooks is not None else {}
        storms = self.storms()
        now_s = rt.clock.now_ms() // 1000
        first = min(f.rates, default=now_s)
        # every second (quiet ones as 0) from the first record, at least the last minute, at most RATE_SECONDS
        seconds = list(range(min(max(first, now_s - RATE_SECONDS + 1), now_s - 59), now_s + 1))
        runtime_errors = [{"seq": None, "time": None, "kind": "runtime", "text": e} for e in rt.errors[-10:]]
        return {
            "name": "mock-xtnd",
            "version": __version__,
            "company": rt.settings.company,
            "apiBase": f"/RESTAPI/v1_0/{rt.settings.company}",
            "seed": rt.settings.seed,
            "clock": {"now": iso_ms(rt.clock.now_ms()), "kind": "virtual" if rt.clock.is_virtual else "real"},
            "journal": {"lastSeq": rt.journal.last_seq, "dropped": rt.journal.dropped, "records": len(rt.journal),
                        "foldedTo": f.cursor},
            "api": {"calls": f.api_calls, "errors": dict(f.api_errors), "faulted": f.api_faults,
                    "quirks": f.api_quirks},
            "deliveries": {"attempts": f.attempts, "outcomes": dict(f.outcomes),
                           "kept": len(rt.webhooks.outbox) if rt.webhooks is not None else 0},
            "catalogue": {"products": len(st.products), "warehouses": len(st.warehouses), "items": len(st.stock),
                          "customers": len(st.customers)},
            "orders": {"total": len(st.orders), "byStatus": dict(statuses)},
            "subscriptions": {"total": len(subs), "active": sum(1 for s in subs.values() if s.active)},
            "storms": {"total": len(storms.storms) if storms else 0,
                       "running": sum(1 for s in storms.storms.values() if s.state == "running") if storms else 0},
            "apiFaults": len(rt.faults.faults) if rt.faults is not None else 0,
            "actions": list(ACTIONS),
            "rates": {"seconds": seconds, "api": [f.rates.get(s, (0, 0))[0] for s in seconds],
                      "hooks": [f.rates.get(s, (0, 0))[1] for s in seconds]},
            "recentErrors": runtime_errors + list(reversed(f.recent)),
        }

    def balances(self, q: str | None, warehouse: str | None, offset: int, limit: int) -> dict[str, Any]:
        st = self.rt.backend.state
        needle = (q or "").strip().lower()
        matched: list[tuple[str, str]] = []
        for key in self.stock_keys():
            pn, wh = key
            if warehouse and wh != warehouse:
                continue
            if needle:
                product = st.products.get(pn)
                if needle not in pn.lower() and (product is None or needle not in product.name.lower()):
                    continue
            matched.append(key)
        items = []
        for key in matched[offset:offset + limit]:
            s = st.stock[key]
            product = st.products.get(key[0])
            items.append({"productNumber": s.product_number, "productName": product.name if product else None,
                          "warehouse": s.warehouse_number, "physicalBalance": s.on_hand,
                          "orderedQuantity": s.allocated, "blockedBalance": s.blocked,
                          "availableBalanceNow": s.available, "changeDate": iso_ms(s.changed_at)})
        return {"items": items, "total": len(matched), "offset": offset, "limit": limit,
                "warehouses": sorted(st.warehouses)}

    def orders(self, q: str | None, status: str | None, offset: int, limit: int) -> dict[str, Any]:
        needle = (q or "").strip().lower()
        found = []
        for o in self.rt.backend.state.orders.values():
            if status and o.status != status:
                continue
            if needle and not any(needle in (v or "").lower() for v in (o.number, o.external_number, o.customer_number)):
                continue
            found.append(o)
        found.sort(key=lambda o: (o.created_at, int(o.number) if o.number.isdecimal() else 0), reverse=True)
        dates = self.rt.dates.text
        items = [{"orderNumber": o.number, "orderNumberExternal": o.external_number, "orderStatus": o.status,
                  "customerNumber": o.customer_number, "warehouse": o.warehouse, "rows": len(o.rows),
                  "quantity": sum(r.quantity for r in o.rows),
                  "askedDeliveryDate": dates(o.asked_delivery_date) if o.asked_delivery_date is not None else None,
                  "createdAt": iso_ms(o.created_at), "changedAt": iso_ms(o.changed_at)}
                 for o in found[offset:offset + limit]]
        return {"items": items, "total": len(found), "offset": offset, "limit": limit}

    def order(self, number: str) -> dict[str, Any]:
        rt = self.rt
        b = rt.backend
        order = b.state.orders.get(number)
        if order is None:
            raise not_found("Order", number, "orderNumber")
        hooks: list[dict[str, Any]] = []
        if rt.webhooks is not None:
            w = rt.webhooks
            seen: set[str] = set()
            for action in ORDER_HOOK_ACTIONS:
                for d in w.query(None, action, None):
                    if d.id in seen:
                        continue
                    if any(str((n.get("Details") or {}).get("OrderNumber")) == number for n in d.notifications):
                        seen.add(d.id)
                        hooks.append(w.delivery_json(d))
            hooks.sort(key=lambda h: h["createdAt"])
        calls = []
        quoted = f'"{number}"'.encode()
        for line in rt.journal.lines(kind="api", path=f"/RESTAPI/v1_0/{rt.settings.company}/CustomerOrders"):
            if quoted not in line:
                continue
            rec = orjson.loads(line)
            query_values = [v for values in (rec.get("query") or {}).values() for v in values]
            if number in (rec.get("key"), rec.get("resultKey")) or number in query_values:
                calls.append(rec)
        return {"order": order_full(b, order, rt.dates.text), "hooks": hooks, "calls": calls[-200:]}

    def wire(self, delivery_id: str) -> dict[str, Any]:
        """Each attempt as it went on the wire: the exact body and the ``ms-signature`` header, signed again
        with the subscription's secret (so with a secret changed since, the signature is the new secret's)."""
        from ..webhooks.signing import sign

        w = self.rt.webhooks
        d = w.outbox.get(delivery_id) if w is not None else None
        if w is None or d is None:
            raise not_found("Delivery", delivery_id, "deliveryId")
        sub = w.subscriptions.get(d.subscription)
        numbers = sorted({a.attempt for a in d.attempts}) or [d.attempt_count + 1]
        attempts = []
        for number in numbers:
            body = d.body(number)
            if sub is None:
                signature, note = None, "the subscription is gone: its secret is unknown"
            elif d.forged == "missing":
                signature, note = None, "forged: sent without a signature"
            elif d.forged == "bad" or (d.forged is None and w.faults.for_attempt(d.id, number).tamper):
                signature, note = sign(sub.secret + "\x00tampered", body), "signed with a wrong key (tampered)"
            else:
                signature, note = sign(sub.secret, body), None
            headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "mock-xtnd-webhooks"}
            if signature is not None:
                headers["ms-signature"] = signature
            attempts.append({"attempt": number, "url": d.url, "headers": headers, "body": body.decode(),
                             "note": note, "sent": any(a.attempt == number for a in d.attempts)})
        return {"deliveryId": d.id, "subscription": d.subscription, "attempts": attempts}

    def patch_subscription(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        from ..webhooks.subscriptions import Subscription

        w = self.rt.webhooks
        if w is None or name not in w.subscriptions:
            raise not_found("Subscription", name, "name")
        if "name" in body and body["name"] != name:
            raise DomainError(400, "A subscription cannot be renamed: name must match the path.",
                              [FieldError("name", f"Expected {name!r}.")], "invalid")
        current = w.subscriptions[name].to_json(reveal_secret=True)
        sub = Subscription.from_json({**current, **body, "name": name})
        w.save_subscription(name, sub)  # the host allow-list, and persisted before memory changes
        return sub.to_json()

    def series(self, storm: Storm) -> dict[str, Any]:
        from ..simulate.storm import LATENCY_BUCKET

        storms = self.storms()
        assert storms is not None
        progress = storms.progress(storm)  # folds the storm's new deliveries into its figures and series
        cursor, lag = self.lags.get(storm.id, (0, None))
        if lag is None:
            lag = LagTracker(f"storm:{storm.id}", storm.started_ms)
        outbox = self.rt.webhooks.outbox if self.rt.webhooks is not None else None
        origin = f'"origin":"{lag.origin}"'.encode()
        lines = self.rt.journal.lines(since=cursor, limit=FOLD_LIMIT * 5)
        for line in lines:
            # cheap filters on the stored line before decoding (records are compact JSON)
            if origin not in line and b'"resource":"ProductAvailability"' not in line:
                continue
            rec = orjson.loads(line)
            created = outbox.created_at(str(rec.get("deliveryId"))) if (
                outbox is not None and rec.get("kind") == "delivery") else None
            lag.fold(rec, created, parse_iso(rec["time"]))
        if lines:
            cursor = int(orjson.loads(lines[-1])["seq"])
        self.lags[storm.id] = (cursor, lag)
        latency = storm.stats.latency
        return {
            "stormId": storm.id,
            "progress": progress,
            "series": storm.series.to_json(),
            "latency": {
                "histogram": histogram(latency.counts, LATENCY_BUCKET, 0.01),
                "percentiles": {name: latency.quantile(q) for name, q in
                                (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999), ("max", 1.0))},
            },
            "lag": lag.to_json(),
        }


def _static_file(path: str) -> Response:
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC.resolve()) or not target.is_file():
        raise DomainError(404, f"No such file: /_mock/ui/{path}.", [], "not_found")
    media = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    cache = "public, max-age=86400, immutable" if path.startswith("vendor/") else "no-cache"
    return FileResponse(target, media_type=media, headers={"Cache-Control": cache})


def router(d: Dashboard) -> APIRouter:
    r = APIRouter(tags=["Dashboard"])

    @r.get("/ui", include_in_schema=False)
    async def index() -> Response:
        return _static_file("index.html")

    @r.get("/ui/{path:path}", include_in_schema=False)
    async def static(path: str) -> Response:
        return _static_file(path or "index.html")

    @r.get("/stats", summary="Counters for the dashboard: clock, journal, API calls and errors, delivery outcomes, "
           "orders by status, subscriptions, storms, per-second rates, recent errors")
    async def stats() -> Response:
        return json_response(d.stats())

    @r.get("/balances", summary="Balances per product and warehouse, paged: q (product number or name), warehouse")
    async def balances(
        q: Annotated[str | None, Query(max_length=200)] = None,
        warehouse: Annotated[str | None, Query(max_length=50)] = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        return json_response(d.balances(q, warehouse, offset, limit))

    @r.get("/orders", summary="Orders, newest first, paged: q (order number, external number or customer), "
           "orderStatus")
    async def orders(
        q: Annotated[str | None, Query(max_length=200)] = None,
        orderStatus: Annotated[str | None, Query(max_length=50)] = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        return json_response(d.orders(q, orderStatus, offset, limit))

    @r.get("/orders/{orderNumber}", summary="One order as GET CustomerOrders/{id} answers it, with the hooks made "
           "about it and the API calls that named it")
    async def order(orderNumber: str) -> Response:
        return json_response(d.order(orderNumber))

    @r.patch("/webhooks/{name}", summary="Change some fields of a subscription (e.g. {active: false} to pause it); "
             "the secret is kept unless given")
    async def patch_subscription(name: str, body: Annotated[dict[str, Any], Body(examples=[{"active": False}])]
                                 ) -> Response:
        return json_response(d.patch_subscription(name, body))

    @r.get("/deliveries/{deliveryId}/wire", summary="Each attempt of a delivery as sent: headers (ms-signature) and "
           "the exact body")
    async def wire(deliveryId: str) -> Response:
        return json_response(d.wire(deliveryId))

    @r.get("/storm/{stormId}/series", summary="A storm over time: steps emitted and hooks delivered per second, "
           "delivery latency per second, its histogram and percentiles, and the lag of clients' reads")
    async def series(stormId: str) -> Response:
        storms = d.storms()
        storm = storms.storms.get(stormId) if storms is not None else None
        if storm is None:
            raise not_found("Storm", stormId, "stormId")
        return json_response(d.series(storm))

    return r
