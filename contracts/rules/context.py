"""What the judge is given: the journal, the user under judgement, the probe and the truth."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .model import ApiCall, Delivery, Notification, Record, lookup, order_external, order_rows, parse_time

#: XTND's documented "Standard" limit: calls per company per rolling minute, per endpoint family.
DEFAULT_RATE_LIMIT = 300


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

    ``records`` is the journal as exported (both kinds, any order; they are sorted by ``seq``). Only API calls
    made as ``user`` are judged (all API calls when it is None); a refused call counts as the user its header
    named (``claimedUser``), and one without a readable header is judged too while ``include_unauthenticated`` is
    true (the fake cannot tell whose it was: in a harness run the client is the only caller). Deliveries are those sent to ``webhook_urls`` (all when None).
    Records with ``fault`` set were produced by the harness, deliveries with ``forged: true`` were forged by it
    on purpose, and records with ``quirk`` set are the real system's habits.
    """

    records: Sequence[Record]
    user: str | None = None
    #: The client's view from ``GET /xtnd/probe``, or None when it serves no probe.
    probe: Mapping[str, Any] | None = None
    #: ``GET /_mock/state`` after the run settled (``balances`` and ``orders``).
    truth: Mapping[str, Any] | None = None
    webhooks_enabled: bool = True
    #: Calls per rolling window in every endpoint family, unless ``rate_limit_families`` says otherwise.
    rate_limit_default: int = DEFAULT_RATE_LIMIT
    rate_limit_families: Mapping[str, int] = field(default_factory=dict)
    rate_limit_window_seconds: float = 60.0
    #: What the harness asked the shop to order (``POST /xtnd/shop/orders`` bodies, ``{rows, warehouse}``):
    #: identical requests legitimately make identical orders. None when unknown.
    shop_orders_requested: Sequence[Mapping[str, Any]] | None = None
    webhook_urls: Collection[str] | None = None
    #: End of the observation on the fake's clock (ISO time or epoch seconds), e.g. when the client was stopped:
    #: later records (hooks the fake sent to a client no longer running) are not judged. Default: no cut-off.
    ended_at: str | float | None = None
    include_unauthenticated: bool = True

    calls: list[ApiCall] = field(init=False, repr=False)
    deliveries: list[Delivery] = field(init=False, repr=False)
    end_time: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        cutoff = parse_time(self.ended_at) if self.ended_at is not None else None
        ordered = sorted(self.records, key=lambda r: int(r["seq"]))
        calls: list[ApiCall] = []
        deliveries: list[Delivery] = []
        for record in ordered:
            kind = record.get("kind")
            if kind == "api":
                call = ApiCall.from_record(record)
                mine = (
                    self.user is None
                    or call.user == self.user
                    or (call.user is None and (call.claimed_user == self.user if call.claimed_user is not None
                                               else self.include_unauthenticated))
                )
                if mine and (cutoff is None or call.time <= cutoff):
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

    def rate_limit(self, family: str | None) -> int:
        if family is None:
            return self.rate_limit_default
        return int(self.rate_limit_families.get(family, self.rate_limit_default))

    # -- indexes -----------------------------------------------------------------------------------------------

    @cached_property
    def _calls_by_time(self) -> tuple[list[float], list[ApiCall]]:
        ordered = sorted(self.calls, key=lambda c: (c.time, c.seq))
        return [c.time for c in ordered], ordered

    def calls_between(self, start: float, end: float) -> list[ApiCall]:
        """Calls that arrived in ``[start, end]``, by time."""
        times, ordered = self._calls_by_time
        return ordered[bisect.bisect_left(times, start) : bisect.bisect_right(times, end)]

    def _index(self, subject: str) -> Mapping[str, list[HookItem]]:
        index: dict[str, list[HookItem]] = defaultdict(list)
        for delivery in self.deliveries:
            for note in delivery.notifications:
                key = getattr(note, subject)
                if key is not None:
                    index[key].append(HookItem(delivery.time, delivery, note))
        for items in index.values():
            items.sort(key=lambda h: (h.time, h.delivery.seq))
        return index

    @cached_property
    def hooks_by_product(self) -> Mapping[str, list[HookItem]]:
        return self._index("product")

    @cached_property
    def hooks_by_order(self) -> Mapping[str, list[HookItem]]:
        return self._index("order")

    @cached_property
    def hooks_by_customer(self) -> Mapping[str, list[HookItem]]:
        return self._index("customer")

    def hooks_about(self, kind: str, key: str) -> list[HookItem]:
        index = {"product": self.hooks_by_product, "productData": self.hooks_by_product, "order": self.hooks_by_order,
                 "customer": self.hooks_by_customer}
        return index[kind].get(key, []) if kind in index else []

    def hooks_between(self, kind: str, key: str, start: float, end: float) -> list[HookItem]:
        """Hook notifications about ``(kind, key)`` sent in ``[start, end]``."""
        items = self.hooks_about(kind, key)
        if not items:
            return []
        times = [h.time for h in items]
        return items[bisect.bisect_left(times, start) : bisect.bisect_right(times, end)]

    def hooks_for_product(self, product: str, start: float, end: float) -> list[HookItem]:
        return self.hooks_between("product", product, start, end)

    @cached_property
    def order_creates(self) -> list[ApiCall]:
        return [c for c in self.calls if c.is_order_create]

    @cached_property
    def own_external_orders(self) -> frozenset[str]:
        """``orderNumberExternal`` values the client sent in ``POST CustomerOrders`` bodies: the orders it owns."""
        return frozenset(e for c in self.order_creates if (e := order_external(c.body)) is not None)

    @cached_property
    def own_order_numbers(self) -> frozenset[str]:
        """Order numbers of the client's orders: answered to it, or known to the truth by orderNumberExternal."""
        out = {c.result_key for c in self.order_creates if c.result_key is not None}
        for number, order in self.truth_orders.items():
            external = order.get("orderNumberExternal")
            if external is not None and str(external) in self.own_external_orders:
                out.add(number)
        return frozenset(out)

    @cached_property
    def order_products(self) -> Mapping[str, frozenset[str]]:
        """Products on each of the client's orders, by order number and by orderNumberExternal."""
        out: dict[str, set[str]] = defaultdict(set)
        for call in self.order_creates:
            products = set(call.product_numbers)
            for row in order_rows(call.body):
                number = lookup(row, "product", "productNumber")
                if number is not None:
                    products.add(str(number))
            external = order_external(call.body)
            if external is not None:
                out[external] |= products
            if call.result_key is not None:
                out[call.result_key] |= products
        for number, order in self.truth_orders.items():
            external = order.get("orderNumberExternal")
            if external is not None and str(external) in out:
                out[number] |= out[str(external)]
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
        rows = view.get("balances") if isinstance(view, Mapping) else None
        for row in rows if isinstance(rows, list) else ():
            if isinstance(row, Mapping) and row.get("productNumber") is not None:
                out[(str(row["productNumber"]), str(row.get("warehouse")))] = row
        return out

    @staticmethod
    def _orders(view: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
        out: dict[str, Mapping[str, Any]] = {}
        rows = view.get("orders") if isinstance(view, Mapping) else None
        for row in rows if isinstance(rows, list) else ():
            if isinstance(row, Mapping) and row.get("orderNumber") is not None:
                out[str(row["orderNumber"])] = row
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
