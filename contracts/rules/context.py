"""What the judge is given: the journal, the client under judgement, the probe and the truth."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .model import ApiCall, Delivery, Notification, Record, parse_time

DEFAULT_RATE_LIMITS: Mapping[str, int] = {"Standard": 300, "List": 60, "Write": 120}


@dataclass(frozen=True)
class HookItem:
    """One notification of one delivery attempt, indexed by what it is about."""

    time: float
    delivery: Delivery
    note: Notification

    @property
    def forged(self) -> bool:
        return self.delivery.forged


@dataclass
class JudgeContext:
    """Everything a rule may look at. Build it once per run and hand it to ``judge``.

    ``records`` is the journal as exported (both kinds, any order; they are sorted by ``Seq``). Only API calls
    made by ``client_id`` are judged (all API calls when it is None); deliveries are those sent to
    ``webhook_urls`` (all when None). Records with ``Fault`` set were produced by the harness, deliveries with
    ``Forged: true`` were forged by it on purpose.
    """

    records: Sequence[Record]
    client_id: str | None = None
    #: The client's view from ``GET /xtnd/probe``, or None when it serves no probe.
    probe: Mapping[str, Any] | None = None
    #: ``GET /_mock/state`` after the run settled (``Balances`` and ``Orders``).
    truth: Mapping[str, Any] | None = None
    webhooks_enabled: bool = True
    #: Calls per rolling minute, by rate-limit group.
    rate_limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    #: What the harness asked the shop to order (``POST /xtnd/shop/orders`` bodies, ``{Lines, WarehouseNumber}``):
    #: identical requests legitimately make identical orders. None when unknown.
    shop_orders_requested: Sequence[Mapping[str, Any]] | None = None
    webhook_urls: Collection[str] | None = None
    #: End of the observation on the fake's clock (ISO time or epoch seconds), e.g. when the client was stopped:
    #: later records (hooks the fake sent to a client no longer running) are not judged. Default: no cut-off.
    ended_at: str | float | None = None

    calls: list[ApiCall] = field(init=False, repr=False)
    deliveries: list[Delivery] = field(init=False, repr=False)
    end_time: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        cutoff = parse_time(self.ended_at) if self.ended_at is not None else None
        ordered = sorted(self.records, key=lambda r: int(r["Seq"]))
        calls: list[ApiCall] = []
        deliveries: list[Delivery] = []
        for record in ordered:
            kind = record.get("Kind")
            if kind == "api":
                call = ApiCall.from_record(record)
                if (self.client_id is None or call.client_id == self.client_id) and (
                    cutoff is None or call.time <= cutoff
                ):
                    calls.append(call)
            elif kind == "delivery":
                delivery = Delivery.from_record(record)
                if (self.webhook_urls is None or delivery.url in self.webhook_urls) and (
                    cutoff is None or delivery.time <= cutoff
                ):
                    deliveries.append(delivery)
        self.calls = calls
        self.deliveries = deliveries
        times = [c.answered_at for c in calls] + [d.time + d.latency_ms / 1000.0 for d in deliveries]
        self.end_time = cutoff if cutoff is not None else (max(times) if times else 0.0)

    # -- indexes -----------------------------------------------------------------------------------------------

    @cached_property
    def call_times(self) -> list[float]:
        """Arrival times of ``calls``, in Seq order (nearly sorted; use ``calls_between`` to search)."""
        return [c.time for c in self.calls]

    @cached_property
    def _calls_by_time(self) -> tuple[list[float], list[ApiCall]]:
        ordered = sorted(self.calls, key=lambda c: (c.time, c.seq))
        return [c.time for c in ordered], ordered

    def calls_between(self, start: float, end: float) -> list[ApiCall]:
        """Calls that arrived in ``[start, end]``, by time."""
        times, ordered = self._calls_by_time
        return ordered[bisect.bisect_left(times, start) : bisect.bisect_right(times, end)]

    @cached_property
    def hooks_by_product(self) -> Mapping[str, list[HookItem]]:
        index: dict[str, list[HookItem]] = defaultdict(list)
        for delivery in self.deliveries:
            for note in delivery.notifications:
                if note.product is not None:
                    index[note.product].append(HookItem(delivery.time, delivery, note))
        for items in index.values():
            items.sort(key=lambda h: (h.time, h.delivery.seq))
        return index

    @cached_property
    def hooks_by_order(self) -> Mapping[str, list[HookItem]]:
        index: dict[str, list[HookItem]] = defaultdict(list)
        for delivery in self.deliveries:
            for note in delivery.notifications:
                if note.order is not None:
                    index[note.order].append(HookItem(delivery.time, delivery, note))
        for items in index.values():
            items.sort(key=lambda h: (h.time, h.delivery.seq))
        return index

    @cached_property
    def _hook_times_by_product(self) -> Mapping[str, list[float]]:
        return {product: [h.time for h in items] for product, items in self.hooks_by_product.items()}

    def hooks_for_product(self, product: str, start: float, end: float) -> list[HookItem]:
        """Hook notifications about ``product`` sent in ``[start, end]``."""
        items = self.hooks_by_product.get(product)
        if not items:
            return []
        times = self._hook_times_by_product[product]
        return items[bisect.bisect_left(times, start) : bisect.bisect_right(times, end)]

    @cached_property
    def order_creates(self) -> list[ApiCall]:
        return [c for c in self.calls if c.is_order_create]

    @cached_property
    def own_external_orders(self) -> frozenset[str]:
        """ExternalOrderNumbers the client sent in ``POST CustomerOrders`` bodies: the orders it owns."""
        out = set()
        for call in self.order_creates:
            if call.body and call.body.get("ExternalOrderNumber") is not None:
                out.add(str(call.body["ExternalOrderNumber"]))
        return frozenset(out)

    @cached_property
    def own_order_numbers(self) -> frozenset[str]:
        """Order numbers of the client's orders: returned to it, or known to the truth by ExternalOrderNumber."""
        out = {c.result_key for c in self.order_creates if c.result_key is not None}
        for order in self.truth_orders.values():
            if order.get("ExternalOrderNumber") is not None and str(order["ExternalOrderNumber"]) in (
                self.own_external_orders
            ):
                out.add(str(order["OrderNumber"]))
        return frozenset(out)

    @cached_property
    def order_products(self) -> Mapping[str, frozenset[str]]:
        """Products on each of the client's orders, by order number and by ExternalOrderNumber."""
        out: dict[str, set[str]] = defaultdict(set)
        for call in self.order_creates:
            products = set(call.product_numbers)
            if call.body:
                for line in call.body.get("Lines") or ():
                    if isinstance(line, Mapping) and line.get("ProductNumber") is not None:
                        products.add(str(line["ProductNumber"]))
                if call.body.get("ExternalOrderNumber") is not None:
                    out[str(call.body["ExternalOrderNumber"])] |= products
            if call.result_key is not None:
                out[call.result_key] |= products
        return {k: frozenset(v) for k, v in out.items()}

    def is_own_order(self, note: Notification) -> bool:
        return (note.external_order is not None and note.external_order in self.own_external_orders) or (
            note.order is not None and note.order in self.own_order_numbers
        )

    def products_of_order(self, note: Notification) -> frozenset[str]:
        found: frozenset[str] = frozenset()
        for key in (note.order, note.external_order):
            if key is not None and key in self.order_products:
                found = found | self.order_products[key]
        return found

    # -- probe and truth ---------------------------------------------------------------------------------------

    @staticmethod
    def _balances(view: Mapping[str, Any] | None) -> dict[tuple[str, str], Mapping[str, Any]]:
        out: dict[tuple[str, str], Mapping[str, Any]] = {}
        for row in (view or {}).get("Balances") or ():
            if isinstance(row, Mapping) and row.get("ProductNumber") is not None:
                out[(str(row["ProductNumber"]), str(row.get("WarehouseNumber")))] = row
        return out

    @staticmethod
    def _orders(view: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
        out: dict[str, Mapping[str, Any]] = {}
        for row in (view or {}).get("Orders") or ():
            if isinstance(row, Mapping) and row.get("OrderNumber") is not None:
                out[str(row["OrderNumber"])] = row
        return out

    @cached_property
    def truth_balances(self) -> dict[tuple[str, str], Mapping[str, Any]]:
        return self._balances(self.truth)

    @cached_property
    def truth_orders(self) -> dict[str, Mapping[str, Any]]:
        return self._orders(self.truth)

    @cached_property
    def probe_balances(self) -> dict[tuple[str, str], Mapping[str, Any]]:
        return self._balances(self.probe)

    @cached_property
    def probe_orders(self) -> dict[str, Mapping[str, Any]]:
        return self._orders(self.probe)
