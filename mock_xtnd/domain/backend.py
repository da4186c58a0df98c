"""The one object that owns the fake's truth (moto's backend): catalogue, stock ledger, customers, prices, orders.

Every mutating operation runs inside ``unit_of_work()``: it validates first, then changes state, records what it
touched and the domain events it caused; on leaving the block the whole change is handed to the persistence
store in one transaction (SQLite under ``--db``) together with the webhook notifications made from its events.
Validation happens before the first change, so a refused request leaves state exactly as it was.

The domain speaks in plain Python names; it knows nothing of HTTP or JSON. Event Details are the webhook's (§2 of
the contract: PascalCase with the API's names), since a hook's body is a domain fact, not a rendering choice.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from .changes import ChangeIndex
from .clock import Clock, iso_ms
from .errors import bad_request, not_found, refused
from .events import DomainEvent
from .ids import Ids
from .lifecycle import CANCELLABLE_BY_BACKOFFICE, PICKABLE, check_move, check_webshop_edit
from .models import (
    Address,
    BalanceAdjustment,
    Customer,
    CustomerInvoice,
    DiscountList,
    InvoiceRow,
    Offer,
    Order,
    OrderRow,
    PriceList,
    Product,
    ProductProperties,
    ProductTexts,
    PurchaseOrder,
    ReturnOrder,
    Shipment,
    StockItem,
    SupplierAgreement,
    Warehouse,
)
from .reference import ocr_number

FORWARDERS: tuple[tuple[str, str], ...] = (("PostNord", "00370"), ("DHL Freight", "JJD"), ("Bring", "70"),
                                           ("Schenker", "SE"))
INT32_MAX = 2**31 - 1
DAY_MS = 86_400_000
INT32_MIN = -(2**31)


@dataclass
class State:
    """Plain typed containers; reset() replaces the whole object, so it is trivially complete."""

    warehouses: dict[str, Warehouse] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    stock: dict[tuple[str, str], StockItem] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    price_lists: dict[str, PriceList] = field(default_factory=dict)
    discount_lists: dict[str, DiscountList] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    orders_by_external: dict[str, str] = field(default_factory=dict)
    purchases: dict[str, PurchaseOrder] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)
    invoices: dict[str, CustomerInvoice] = field(default_factory=dict)
    returns: dict[str, ReturnOrder] = field(default_factory=dict)
    # the ledger's history, oldest first, keyed by a zero-padded sequence number; at most adjustments_max kept
    adjustments: dict[str, BalanceAdjustment] = field(default_factory=dict)
    # overrides of the seeded master data (models.py says what each kind derives when it has no record)
    supplier_agreements: dict[str, SupplierAgreement] = field(default_factory=dict)  # "product\x1fnumber"
    product_texts: dict[str, ProductTexts] = field(default_factory=dict)
    product_properties: dict[str, ProductProperties] = field(default_factory=dict)
    # when each product's customer price inputs last changed (price list entries, discounts)
    price_changed_at: dict[str, int] = field(default_factory=dict)

    def index_orders(self) -> None:
        """Rebuild the orderNumberExternal index (after a load): the first order with each external number."""
        self.orders_by_external = {}
        for number in sorted(self.orders, key=_number_order):
            ext = self.orders[number].external_number
            if ext is not None:
                self.orders_by_external.setdefault(ext, number)


def _number_order(number: str) -> tuple[int, str]:
    return (int(number), "") if number.isdecimal() else (1 << 62, number)


# the state dict that holds each kind of persisted record (stock is keyed by (product, warehouse): _container)
_STATE_DICTS = {"warehouse": "warehouses", "product": "products", "customer": "customers",
                "price_list": "price_lists", "discount_list": "discount_lists", "order": "orders",
                "purchase": "purchases", "offer": "offers", "price_changed": "price_changed_at",
                "invoice": "invoices", "return": "returns", "adjustment": "adjustments",
                "supplier_agreement": "supplier_agreements", "product_texts": "product_texts",
                "product_properties": "product_properties"}
# records whose fields are all immutable values (or dicts replaced, never changed in place): a shallow copy is a copy
_FLAT = (StockItem, Warehouse, Product, BalanceAdjustment)


class _Absent:
    """The pre-image of a record a unit of work created."""

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()


_FIELDS: dict[type, tuple[str, ...]] = {cls: tuple(f.name for f in fields(cls)) for cls in _FLAT}


def _snapshot(obj: Any) -> Any:
    names = _FIELDS.get(type(obj))
    if names is not None:  # a storm step copies one of these per step: a tuple of its values is the cheapest copy
        return tuple(getattr(obj, n) for n in names)
    if isinstance(obj, PriceList):  # the standard list holds every product: copy its dict, not 100,000 floats
        saved = copy.copy(obj)
        saved.prices, saved.customer_groups = dict(obj.prices), list(obj.customer_groups)
        return saved
    return copy.deepcopy(obj)


def _copy_fields(saved: Any, target: Any) -> None:
    names = _FIELDS.get(type(target))
    if names is not None:
        for name, value in zip(names, saved, strict=True):
            setattr(target, name, value)
        return
    for f in fields(target):
        setattr(target, f.name, getattr(saved, f.name))


class ChangeSink(Protocol):
    """Receives a committed unit of work: the records it touched and the events it caused."""

    def on_change(self, touched: dict[tuple[str, str], Any], events: list[DomainEvent]) -> list[tuple[str, str, Any]]:
        """Return extra records (kind, key, object) to persist in the same transaction (e.g. outbox rows), staged
        until the commit (``after_commit``) or dropped (``on_rollback``)."""
        ...

    def on_rollback(self) -> None:
        """The unit of work failed (its commit included): forget what ``on_change`` staged."""
        ...


class Store(Protocol):
    def write(self, records: list[tuple[str, str, Any]], meta: dict[str, Any]) -> None: ...


@dataclass(slots=True)
class RowInput:
    """One order row as the webshop sent it. ``path`` is where it sits in the request body (for errors)."""

    product_number: str
    quantity: int
    unit: str
    path: str
    unit_price: float | None = None
    vat_percent: float | None = None
    currency: str | None = None
    warehouse: str | None = None
    active: bool = True  # rowOperation Inactive: the row is dropped
    extra: dict[str, Any] | None = None


@dataclass(slots=True)
class OrderInput:
    """A new order, or (for an update) the fields given; ``path`` prefixes the body paths of errors."""

    path: str
    customer_number: str | None = None
    external_number: str | None = None
    asked_delivery_date: int | None = None
    rows: list[RowInput] | None = None
    header: dict[str, Any] = field(default_factory=dict)
    given: frozenset[str] = frozenset()  # header fields present in the body (for updates)


@dataclass(slots=True)
class CustomerInput:
    """A customer as the webshop sent it: the fields the fake interprets, the rest in ``extra``."""

    path: str
    number: str | None = None
    name: str | None = None
    org_number: str | None = None
    email: str | None = None
    phone: str | None = None
    customer_group: str | None = None
    delivery_address: Address | None = None
    invoice_address: Address | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    given: frozenset[str] = frozenset()


@dataclass(slots=True)
class BestPrice:
    product_number: str
    price: float
    list_price: float
    currency: str
    source: str
    valid_to: int | None
    changed_at: int
    code: str = "STD"  # the price list, discount list or campaign the price comes from


class Backend:
    def __init__(self, clock: Clock, ids: Ids, *, default_warehouse: str = "1", allow_oversell: bool = True,
                 duplicate_external_order: str = "refuse", date_text: Callable[[int], str] = iso_ms,
                 adjustments_max: int = 100_000) -> None:
        self.clock = clock
        self.adjustments_max = adjustments_max  # balance adjustments kept (the oldest go first, counted)
        self.ids = ids
        self.default_warehouse = default_warehouse
        self.allow_oversell = allow_oversell
        self.duplicate_external_order = duplicate_external_order
        self.date_text = date_text  # dates inside webhook Details, as the API writes them
        self.store: Store | None = None
        self.sinks: list[ChangeSink] = []
        self.after_commit: list[Callable[[list[DomainEvent]], None]] = []
        self._depth = 0
        self._touched: dict[tuple[str, str], Any] = {}
        self._events: list[DomainEvent] = []
        # the current unit's pre-images: (kind, key) -> (the live record or _ABSENT, its copy or _ABSENT)
        self._before: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._undo: list[Callable[[], None]] = []
        self._counters_before: dict[str, int] | None = None
        self.origin: str | None = None  # set by a caller (a storm) around its units of work
        self.state = State()

    # ------------------------------------------------------------------ state and derived indexes
    @property
    def state(self) -> State:
        return self._state

    @state.setter
    def state(self, state: State) -> None:
        """Install a state (seeded, loaded or reset) and rebuild what is derived from it."""
        self._state = state
        state.index_orders()
        self.stock_changes: ChangeIndex[tuple[str, str]] = ChangeIndex(
            (key, item.changed_at) for key, item in state.stock.items())
        self._sorted_stock: list[tuple[str, str]] | None = None
        self._sorted_products: list[str] | None = None
        # (product, warehouse) -> numbers of the open purchase orders that bring it (ProductAvailability's
        # expected receivings), kept as purchases change
        self.incoming: dict[tuple[str, str], set[str]] = {}
        for po in state.purchases.values():
            self._index_purchase(po)
        # (product, warehouse) -> {return number: units still expected}: totalExpectedReceivingFromReturn
        self.incoming_returns: dict[tuple[str, str], dict[str, int]] = {}
        for ret in state.returns.values():
            self._index_return(ret)

    def _index_return(self, ret: ReturnOrder) -> None:
        expected: dict[str, int] = {}
        for row in ret.rows:
            expected[row.product_number] = expected.get(row.product_number, 0) + \
                (row.expected if ret.status in ("Ordered", "PartiallyReceived") else 0)
        for pn, qty in expected.items():
            key = (pn, ret.warehouse_number)
            if qty > 0:
                self.incoming_returns.setdefault(key, {})[ret.number] = qty
            else:
                self._drop_return_key(key, ret.number)

    def _unindex_return(self, ret: ReturnOrder) -> None:
        for row in ret.rows:
            self._drop_return_key((row.product_number, ret.warehouse_number), ret.number)

    def _drop_return_key(self, key: tuple[str, str], number: str) -> None:
        numbers = self.incoming_returns.get(key)
        if numbers is not None:
            numbers.pop(number, None)
            if not numbers:
                del self.incoming_returns[key]

    def return_changed(self, ret: ReturnOrder) -> None:
        """A return was registered, received or cancelled: what its items expect changed now (call inside the unit
        of work; the stock items' changeDate moves, no balance hook fires)."""
        self._index_return(ret)
        for row in ret.rows:
            item = self._state.stock.get((row.product_number, ret.warehouse_number))
            if item is not None:
                self.touch_stock(item)

    def expected_return(self, product_number: str, warehouse: str) -> int:
        """Units of open returns still expected in one item (totalExpectedReceivingFromReturn)."""
        numbers = self.incoming_returns.get((product_number, warehouse))
        return sum(numbers.values()) if numbers else 0

    def _index_purchase(self, po: PurchaseOrder) -> None:
        open_ = po.status in ("Open", "PartiallyDelivered")
        for pn, qty in po.lines.items():
            key = (pn, po.warehouse_number)
            if open_ and qty > 0:
                self.incoming.setdefault(key, set()).add(po.number)
            else:
                numbers = self.incoming.get(key)
                if numbers is not None:
                    numbers.discard(po.number)
                    if not numbers:
                        del self.incoming[key]

    def _unindex_purchase(self, po: PurchaseOrder) -> None:
        for pn in po.lines:
            key = (pn, po.warehouse_number)
            numbers = self.incoming.get(key)
            if numbers is not None:
                numbers.discard(po.number)
                if not numbers:
                    del self.incoming[key]

    def purchase_changed(self, po: PurchaseOrder) -> None:
        """A purchase order was placed, received or cancelled: what its items expect changed now (call inside the
        unit of work; the stock items' changeDate moves, no balance hook fires)."""
        self._index_purchase(po)
        for pn in po.lines:
            item = self._state.stock.get((pn, po.warehouse_number))
            if item is not None:
                self.touch_stock(item)

    def sorted_stock_keys(self) -> list[tuple[str, str]]:
        """Every (product number, warehouse), by product number then warehouse: the order of the stock lists."""
        if self._sorted_stock is None:
            self._sorted_stock = sorted(self._state.stock)
        return self._sorted_stock

    def sorted_product_numbers(self) -> list[str]:
        if self._sorted_products is None:
            self._sorted_products = sorted(self._state.products)
        return self._sorted_products

    def catalogue_changed(self) -> None:
        """A product or stock item was added or removed: the sorted key lists are rebuilt on next use."""
        self._sorted_stock = None
        self._sorted_products = None

    # ------------------------------------------------------------------ unit of work
    @contextmanager
    def unit_of_work(self) -> Iterator[None]:
        """Run a change as one unit: applied to memory only if its transaction commits.

        Inside the block an operation ``touch``es every record *before* it changes it (so its pre-image is kept),
        then changes it and ``emit``s events. On leaving the outermost block the change is handed to the sinks and
        the store in one transaction. If anything fails - the block itself, a sink, or the commit (the database
        locked by another process, a full disk) - the unit is rolled back in memory: records, the indexes derived
        from them, the id counters, and what the sinks staged. So memory never shows a change the database does
        not hold, and a client whose write failed retries against the state as it was. Nested blocks join the
        outermost one."""
        if self._depth == 0:
            self._counters_before = dict(self.ids.counters)
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self._rollback()
            raise
        self._depth -= 1
        if self._depth == 0:
            self._commit()

    def _commit(self) -> None:
        touched, events = self._touched, self._events
        if not touched and not events:
            self._forget()
            return
        try:
            extra: list[tuple[str, str, Any]] = []
            for sink in self.sinks:
                extra.extend(sink.on_change(touched, events))
            if self.store is not None:
                records = [(kind, key, obj) for (kind, key), obj in touched.items()] + extra
                self.store.write(records, self.meta())
        except BaseException:
            self._rollback()
            raise
        self._forget()
        for callback in self.after_commit:
            callback(events)

    def _forget(self) -> None:
        self._touched, self._events, self._before, self._undo = {}, [], {}, []
        self._counters_before = None

    def _rollback(self) -> None:
        """Put memory back as it was before the outermost unit began (see ``unit_of_work``)."""
        before, undo, counters = self._before, self._undo, self._counters_before
        self._forget()
        for fn in reversed(undo):
            fn()
        for (kind, key), (live, saved) in before.items():
            self._restore(kind, key, live, saved)
        if any(kind == "adjustment" and saved is not _ABSENT for (kind, _), (_, saved) in before.items()):
            # an adjustment the unit dropped (past adjustments_max) came back at the end: oldest first again
            self._state.adjustments = dict(sorted(self._state.adjustments.items()))
        if counters is not None:
            self.ids.counters.clear()
            self.ids.counters.update(counters)
        for sink in self.sinks:
            sink.on_rollback()

    def _container(self, kind: str, key: str) -> tuple[dict[Any, Any], Any] | None:
        """The state dict holding records of ``kind`` and the record's key in it; None for kinds kept elsewhere
        (their owners register an ``on_rollback`` undo instead)."""
        st = self._state
        if kind == "stock":
            pn, _, wh = key.partition("\x1f")
            return st.stock, (pn, wh)
        attr = _STATE_DICTS.get(kind)
        return (getattr(st, attr), key) if attr is not None else None

    def _restore(self, kind: str, key: str, live: Any, saved: Any) -> None:
        where = self._container(kind, key)
        if where is None:
            return
        container, dict_key = where
        if saved is _ABSENT:  # the unit created it: it goes
            removed = container.pop(dict_key, None)
            if kind == "order" and removed is not None and removed.external_number is not None \
                    and self._state.orders_by_external.get(removed.external_number) == key:
                del self._state.orders_by_external[removed.external_number]
            elif kind == "stock":
                self.stock_changes.discard(dict_key)
                self.catalogue_changed()
            elif kind == "product":
                self.catalogue_changed()
            elif kind == "purchase" and removed is not None:
                self._unindex_purchase(removed)
            elif kind == "return" and removed is not None:
                self._unindex_return(removed)
            return
        if kind == "price_changed":
            container[dict_key] = saved
            return
        # in place, so whoever holds the object sees it as it was; the stock change index may keep a later time
        # for the item, which only makes it a candidate a little longer (readers check the item's own time)
        _copy_fields(saved, live)
        container[dict_key] = live
        if kind == "purchase":
            self._index_purchase(live)
        elif kind == "return":
            self._index_return(live)

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Register how to undo a change to memory the backend does not own (an owner's own index, e.g. a sales
        channel's holds), should the current unit of work fail."""
        self._undo.append(undo)

    def meta(self) -> dict[str, Any]:
        """What every commit writes beside its records (the Runtime adds seed, epoch and start at start and reset)."""
        return {"counters": self.ids.counters, "now": self.clock.now_ms()}

    def touch(self, kind: str, key: str, obj: Any) -> None:
        """``obj`` (the record ``kind``/``key``, None to delete it) is changed by this unit and persisted with it.
        Call it *before* changing the record: the first touch keeps its pre-image for a rollback."""
        if (kind, key) not in self._before:
            self._keep(kind, key)
        self._touched[(kind, key)] = obj

    def _keep(self, kind: str, key: str) -> None:
        where = self._container(kind, key)
        if where is None:
            self._before[(kind, key)] = (None, _ABSENT)
            return
        container, dict_key = where
        live = container.get(dict_key, _ABSENT)
        self._before[(kind, key)] = (live, live if live is _ABSENT or kind == "price_changed" else _snapshot(live))

    def emit(self, action: str, details: dict[str, Any], warehouse: str | None) -> None:
        self._events.append(DomainEvent(action, details, warehouse, self.clock.now_ms(), self.origin))

    def now(self) -> int:
        return self.clock.now_ms()

    # ------------------------------------------------------------------ lookups
    def product(self, number: str) -> Product:
        p = self._state.products.get(number)
        if p is None:
            raise not_found("Product", number, "productNumber")
        return p

    def customer(self, number: str) -> Customer:
        c = self._state.customers.get(number)
        if c is None:
            raise not_found("Customer", number, "customerNumber")
        return c

    def order(self, number: str) -> Order:
        o = self._state.orders.get(number)
        if o is None:
            raise not_found("Order", number, "orderNumber")
        return o

    def warehouse(self, number: str, field_name: str = "warehouse") -> Warehouse:
        w = self._state.warehouses.get(number)
        if w is None:
            raise refused(f"Warehouse '{number}' does not exist.", field_name)
        return w

    def stock_item(self, product_number: str, warehouse: str) -> StockItem:
        """The item, or a zero item (not stored) when the product was never stocked there."""
        item = self._state.stock.get((product_number, warehouse))
        return item if item is not None else StockItem(product_number, warehouse, 0, 0, 0)

    # ------------------------------------------------------------------ stock ledger
    def check_stock(self, changes: Mapping[tuple[str, str], tuple[int, int]]) -> None:
        """Refuse a move that would take a figure outside what XTND's 32-bit integers hold (call before mutating)."""
        for (pn, wh), (d_on_hand, d_allocated) in changes.items():
            item = self.stock_item(pn, wh)
            for label, value in (("physicalBalance", item.on_hand + d_on_hand),
                                 ("orderedQuantity", item.allocated + d_allocated),
                                 ("availableBalanceNow", item.available + d_on_hand - d_allocated)):
                if not INT32_MIN <= value <= INT32_MAX:
                    raise refused(f"The {label} of product '{pn}' in warehouse {wh} would become {value}, "
                                  "outside a 32-bit integer.", "productNumber")

    def add_stock_item(self, item: StockItem) -> None:
        key = (item.product_number, item.warehouse_number)
        self.touch("stock", f"{key[0]}\x1f{key[1]}", item)  # before it exists: a rollback removes it
        self._state.stock[key] = item
        self.catalogue_changed()
        self.touch_stock(item)

    def touch_stock(self, item: StockItem) -> None:
        """The item's figures (or what is expected to arrive) change now: call before changing them."""
        key = (item.product_number, item.warehouse_number)
        self.touch("stock", f"{key[0]}\x1f{key[1]}", item)
        item.changed_at = self.now()
        self.stock_changes.touch(key, item.changed_at)

    def move_stock(self, changes: Mapping[tuple[str, str], tuple[int, int]],
                   reason: str = "BalanceAdjustment") -> None:
        """Apply (on-hand delta, allocated delta) per item; one event per item per kind of balance that moved.
        A move of the physical balance is recorded in the ledger's history as a balance adjustment of the event type
        ``reason`` (BalanceAdjustments). A move past what a 32-bit integer holds is refused (callers check first,
        naming their own fields; this is the backstop for every other path, and the unit of work rolls back)."""
        self.check_stock(changes)
        for (pn, wh), (d_on_hand, d_allocated) in changes.items():
            if d_on_hand == 0 and d_allocated == 0:
                continue
            item = self._state.stock.get((pn, wh))
            if item is None:
                item = StockItem(pn, wh, 0, 0, self.now())
                self.add_stock_item(item)
            self.touch_stock(item)
            before_available = item.available
            item.on_hand += d_on_hand
            item.allocated += d_allocated
            if d_on_hand:
                self.record_adjustment(pn, wh, reason, d_on_hand, item.on_hand)
                self.emit("BalanceChanged", {"ProductNumber": pn, "Warehouse": wh, "Balance": item.on_hand}, wh)
            if item.available != before_available:
                self.emit("AvailableBalanceChanged",
                          {"ProductNumber": pn, "Warehouse": wh, "AvailableBalance": item.available}, wh)

    def record_adjustment(self, product_number: str, warehouse: str, event_type: str, change: int, new_balance: int,
                          blocked_change: int | None = None) -> None:
        """One entry of the ledger's history (inside a unit of work). Past ``adjustments_max`` the oldest goes, and
        is counted (the id counter ``adjustment-dropped``)."""
        seq = self.ids.next("adjustment")
        key = f"{seq:012d}"
        adjustments = self._state.adjustments
        record = BalanceAdjustment(seq, product_number, warehouse, self.now(), event_type, change, new_balance,
                                   blocked_change)
        self.touch("adjustment", key, record)
        adjustments[key] = record
        while len(adjustments) > self.adjustments_max:
            oldest = next(iter(adjustments))
            self.touch("adjustment", oldest, None)
            del adjustments[oldest]
            self.ids.next("adjustment-dropped")

    def set_stock(self, product_number: str, warehouse: str, *, delta: int | None = None,
                  on_hand: int | None = None, blocked: int | None = None) -> StockItem:
        """A stock move from the warehouse (WarehouseStockLevels, the back office): adjust on-hand by ``delta``
        (a BalanceAdjustment), or set it to ``on_hand`` (a Stocktaking); optionally set the blocked balance (a
        Block)."""
        self.product(product_number)
        self.warehouse(warehouse)
        if delta is not None and on_hand is not None:
            raise bad_request("Give the difference or the new balance, not both.",
                              ("balanceDifference", "Give balanceDifference or physicalBalance, not both."))
        item = self.stock_item(product_number, warehouse)
        target = item.on_hand + delta if delta is not None else (on_hand if on_hand is not None else item.on_hand)
        if target < 0:
            raise refused(f"The physical balance of product '{product_number}' in warehouse {warehouse} cannot go "
                          f"below 0 (it would become {target}).", "balanceDifference")
        if blocked is not None and blocked < 0:
            raise bad_request("The blocked balance cannot be negative.", ("blockedBalance", "Must be >= 0."))
        change = {(product_number, warehouse): (target - item.on_hand, 0)}
        self.check_stock(change)
        if blocked is not None and not INT32_MIN <= target - item.allocated - blocked <= INT32_MAX:
            raise refused("The available balance would leave a 32-bit integer.", "blockedBalance")
        with self.unit_of_work():
            self.move_stock(change, "BalanceAdjustment" if delta is not None else "Stocktaking")
            if blocked is not None and blocked != item.blocked:
                stored = self._state.stock.get((product_number, warehouse))
                if stored is None:
                    stored = StockItem(product_number, warehouse, 0, 0, self.now())
                    self.add_stock_item(stored)
                self.touch_stock(stored)
                before = stored.available
                self.record_adjustment(product_number, warehouse, "Block", 0, stored.on_hand, blocked - stored.blocked)
                stored.blocked = blocked
                if stored.available != before:
                    self.emit("AvailableBalanceChanged", {"ProductNumber": product_number, "Warehouse": warehouse,
                                                          "AvailableBalance": stored.available}, warehouse)
        return self.stock_item(product_number, warehouse)

    # ------------------------------------------------------------------ orders
    def _build_rows(self, data: OrderInput, customer: Customer, *, start_position: int = 1,
                    held: Mapping[tuple[str, str], int] | None = None) -> list[OrderRow]:
        """Validate every row (nothing is changed, no id is drawn: ``_number_rows`` does that once the whole request
        is known to pass) and build the rows; raises on the first problem. ``held``: what the order being replaced
        already holds per item, available to its new rows."""
        held = held or {}
        if not data.rows or not any(r.active for r in data.rows):
            raise bad_request("An order needs at least one row.",
                              (f"{data.path}.orderRows", "At least one active order row is required."))
        wanted: dict[tuple[str, str], int] = {}
        rows: list[OrderRow] = []
        now = self.now()
        for r in data.rows:
            if not r.active:
                continue
            product = self._state.products.get(r.product_number)
            if product is None:
                raise refused(f"Product '{r.product_number}' does not exist.", f"{r.path}.product.productNumber")
            if product.status != "Active":
                raise refused(f"Product '{r.product_number}' cannot be sold ({product.status}).",
                              f"{r.path}.product.productNumber")
            if r.quantity <= 0:
                raise bad_request("The quantity must be greater than 0.",
                                  (f"{r.path}.salesData.quantity", "Must be greater than 0."))
            if r.unit_price is not None and r.unit_price < 0:
                raise bad_request("The unit price cannot be negative.",
                                  (f"{r.path}.salesData.unitPrice", "Must be 0 or more."))
            warehouse = r.warehouse or self.default_warehouse
            self.warehouse(warehouse, f"{r.path}.warehouse")
            key = (r.product_number, warehouse)
            wanted[key] = wanted.get(key, 0) + r.quantity
            price = r.unit_price
            if price is None:
                price = self.best_price(customer, product, now).price
            rows.append(OrderRow(
                position=start_position + len(rows),
                row_id="",
                product_number=r.product_number,
                product_name=product.name,
                quantity=r.quantity,
                unit=r.unit,
                unit_price=price,
                vat_percent=r.vat_percent if r.vat_percent is not None else product.vat_rate,
                currency=r.currency or customer.currency,
                warehouse=warehouse,
                status="Created",
                allocation="Physical"
                if self.stock_item(r.product_number, warehouse).available + held.get(key, 0) >= wanted[key]
                else "NotAllocated",
                extra=r.extra or None,
            ))
        if not self.allow_oversell:
            for (pn, wh), qty in wanted.items():
                available = self.stock_item(pn, wh).available + held.get((pn, wh), 0)
                if qty > available:
                    raise refused(f"Not enough of product '{pn}' in warehouse {wh}: {qty} asked, {available} "
                                  "available.", f"{data.path}.orderRows")
        return rows

    @staticmethod
    def _allocations(rows: Iterable[OrderRow], sign: int) -> dict[tuple[str, str], tuple[int, int]]:
        changes: dict[tuple[str, str], tuple[int, int]] = {}
        for row in rows:
            if row.outstanding:
                key = (row.product_number, row.warehouse)
                changes[key] = (0, changes.get(key, (0, 0))[1] + sign * row.outstanding)
        return changes

    def _number_rows(self, rows: Iterable[OrderRow]) -> None:
        """Draw the rows' orderRowIds: only after every check passed, so a refused request uses up no id."""
        for row in rows:
            row.row_id = self.ids.guid("order-row")

    def _order_details(self, order: Order) -> dict[str, Any]:
        return {"OrderNumber": order.number, "OrderNumberExternal": order.external_number,
                "Warehouse": order.warehouse}

    def _check_external(self, external: str | None, path: str, own: str | None = None) -> None:
        if external is None or self.duplicate_external_order == "accept":
            return
        existing = self._state.orders_by_external.get(external)
        if existing is not None and existing != own:
            raise refused(f"An order with orderNumberExternal '{external}' already exists (order {existing}).",
                          f"{path}.orderHeader.orderNumberExternal")

    def _new_order_customer(self, data: OrderInput) -> Customer:
        """A new order's customer, which must exist, and its orderNumberExternal, which must be new."""
        if data.customer_number is None:
            raise bad_request("The customer number is required.",
                              (f"{data.path}.orderHeader.customerNumber", "The customerNumber field is required."))
        customer = self.order_customer(data.customer_number, data.path)
        self._check_external(data.external_number, data.path)
        return customer

    def order_customer(self, number: str, path: str) -> Customer:
        """The customer an order body (at ``path``) names, which must exist."""
        customer = self._state.customers.get(number)
        if customer is None:
            raise refused(f"Customer '{number}' does not exist.", f"{path}.orderHeader.customerNumber")
        return customer

    def create_order(self, data: OrderInput) -> Order:
        customer = self._new_order_customer(data)
        rows = self._build_rows(data, customer)
        allocate = self._allocations(rows, +1)
        self.check_stock(allocate)
        now = self.now()
        # without an asked date the order is due two days after it was placed (chosen: XTND computes one too)
        asked = data.asked_delivery_date if data.asked_delivery_date is not None else now + 2 * DAY_MS
        with self.unit_of_work():  # ids are drawn inside: a failed commit gives them back
            self._number_rows(rows)
            number = str(self.ids.next("order", start=100001))
            while number in self._state.orders:
                number = str(self.ids.next("order", start=100001))
            order = Order(number=number, external_number=data.external_number, customer_number=customer.number,
                          warehouse=rows[0].warehouse, asked_delivery_date=asked, rows=rows,
                          status="Created", created_at=now, changed_at=now, header=dict(data.header))
            self.touch("order", number, order)
            self._state.orders[number] = order
            if order.external_number is not None:
                self._state.orders_by_external.setdefault(order.external_number, number)
            self.emit("OrderCreated", self._order_details(order), order.warehouse)
            self.move_stock(allocate)
        return order

    def update_order(self, number: str, data: OrderInput) -> Order:
        """The webshop's PUT: header fields given replace the stored ones, rows given replace the rows. Everything
        is validated before anything changes."""
        order = self.order(number)
        check_webshop_edit(number, order.status)
        if data.customer_number is not None and data.customer_number != order.customer_number:
            raise refused(f"The customer of order {number} cannot change.", f"{data.path}.orderHeader.customerNumber")
        if "orderNumberExternal" in data.given and data.external_number != order.external_number:
            raise refused(f"The orderNumberExternal of order {number} cannot change.",
                          f"{data.path}.orderHeader.orderNumberExternal")
        customer = self.customer(order.customer_number)
        held = {key: -d for key, (_, d) in self._allocations(order.rows, -1).items()}
        new_rows = self._build_rows(data, customer, held=held) if data.rows is not None else None
        net: dict[tuple[str, str], tuple[int, int]] = {}
        if new_rows is not None:
            for key, d in held.items():
                net[key] = (0, -d)
            for key, (_, d) in self._allocations(new_rows, +1).items():
                net[key] = (0, net.get(key, (0, 0))[1] + d)
            self.check_stock(net)
        date_moved = "askedDeliveryDate" in data.given and data.asked_delivery_date != order.asked_delivery_date
        with self.unit_of_work():
            self.touch("order", number, order)
            if new_rows is not None:
                self._number_rows(new_rows)
                order.rows = new_rows
                order.warehouse = new_rows[0].warehouse
                self.move_stock(net)
            order.header.update(data.header)
            if date_moved:
                order.asked_delivery_date = data.asked_delivery_date
            order.changed_at = self.now()
            if date_moved:
                self.emit("OrderDeliveryDataChanged", self._delivery_details(order), order.warehouse)
        return order

    def _delivery_details(self, order: Order) -> dict[str, Any]:
        asked = order.asked_delivery_date
        return {**self._order_details(order), "AskedDeliveryDate": self.date_text(asked) if asked is not None else None}

    def cancel_order(self, number: str, actor: str) -> Order:
        """Webshop (DELETE, only while Created) or back office (Created, Reserved, or the rest of a partly shipped
        order): what is not picked is annulled and its allocation released."""
        order = self.order(number)
        if actor == "webshop":
            check_webshop_edit(number, order.status)
        elif order.status not in CANCELLABLE_BY_BACKOFFICE:
            raise refused(f"Order {number} is {order.status}; it cannot be cancelled.", "orderNumber")
        release = self._allocations(order.rows, -1)
        with self.unit_of_work():
            self.touch("order", number, order)
            for row in order.rows:
                if row.outstanding:
                    row.status = "Annulled"
            order.status = "Terminated" if any(r.picked for r in order.rows) else "Annulled"
            order.changed_at = self.now()
            self.move_stock(release)
            self.emit("OrderCancelled", self._order_details(order), order.warehouse)
        return order

    def reserve_order(self, number: str) -> Order:
        """Back office: picking starts. After this the webshop can no longer change the order."""
        order = self.order(number)
        check_move(number, order.status, "Reserved", "backoffice")
        with self.unit_of_work():
            self.touch("order", number, order)
            order.status = "Reserved"
            for row in order.rows:
                if row.status == "Created":
                    row.status = "Reserved"
            order.changed_at = self.now()
            self.emit("OrderReserved", self._order_details(order), order.warehouse)
        return order

    def pick_order(self, number: str) -> Order:
        """Back office: ship what is on hand, row by row (a Created order is reserved first). Fully picked rows
        become Picked; the order Terminated, or PartiallyDelivered while some rows wait for stock. One shipment and
        one invoice per pick."""
        order = self.order(number)
        if order.status not in PICKABLE:
            raise refused(f"Order {number} is {order.status}; it cannot be picked.", "orderNumber")
        left: dict[tuple[str, str], int] = {}  # on-hand still unpicked, per item, while walking the rows
        plan: list[tuple[OrderRow, int]] = []
        for row in order.rows:
            if not row.outstanding:
                continue
            key = (row.product_number, row.warehouse)
            if key not in left:
                left[key] = max(0, self.stock_item(*key).on_hand)
            take = min(row.outstanding, left[key])
            left[key] -= take
            if take:
                plan.append((row, take))
        if not plan:
            raise refused(f"Nothing of order {number} is on hand to pick.", "orderNumber")
        with self.unit_of_work():  # the reservation and the pick commit together, or neither does
            if order.status == "Created":
                self.reserve_order(number)
            self.touch("order", number, order)
            rng = self.ids.rng("shipment-dice")
            now = self.now()
            forwarder, prefix = FORWARDERS[rng.randrange(len(FORWARDERS))]
            shipment = Shipment(f"SH{self.ids.next('shipment', start=500001)}", forwarder,
                                [prefix + "".join(str(rng.randrange(10)) for _ in range(14))
                                 for _ in range(1 + rng.randrange(2))], now,
                                str(order.header.get("deliveryMethod") or "Standard"))
            order.shipments.append(shipment)
            changes: dict[tuple[str, str], tuple[int, int]] = {}
            for row, take in plan:
                row.picked += take
                row.shipment_number = shipment.number
                row.ship_date = now
                if row.picked == row.quantity:
                    row.status = "Picked"
                    row.allocation = "Delivered"
                key = (row.product_number, row.warehouse)
                d_on, d_alloc = changes.get(key, (0, 0))
                changes[key] = (d_on - take, d_alloc - take)
            order.status = "PartiallyDelivered" if any(r.outstanding for r in order.rows) else "Terminated"
            order.changed_at = now
            self.move_stock(changes, "CorrectionOuttake")
            self.emit("OrderPicked", self._order_details(order), order.warehouse)
            invoice = self.create_invoice("OrderDebit", order.customer_number, order, [
                InvoiceRow(i + 1, row.product_number, row.product_name, take, row.unit, row.unit_price,
                           row.vat_percent, row.currency, row.row_id) for i, (row, take) in enumerate(plan)])
            order.invoice_numbers.append(invoice.number)
        return order

    def deliver_and_invoice(self, data: OrderInput) -> CustomerInvoice:
        """CustomerOrderInvoices: a new order delivered from stock and invoiced at once (OrderCreated, OrderReserved,
        OrderPicked, the balance hooks, CustomerInvoiceCreated, all in one unit of work). Every row must be on hand
        now (400 otherwise): an order invoiced at once has been handed over."""
        customer = self._new_order_customer(data)
        need: dict[tuple[str, str], int] = {}
        for row in self._build_rows(data, customer):
            key = (row.product_number, row.warehouse)
            need[key] = need.get(key, 0) + row.quantity
        for (pn, wh), quantity in need.items():
            on_hand = self.stock_item(pn, wh).on_hand
            if quantity > on_hand:
                raise refused(f"Only {max(0, on_hand)} of product '{pn}' on hand in warehouse {wh}, {quantity} to "
                              "deliver: an order invoiced at once must be on hand.", f"{data.path}.orderRows")
        with self.unit_of_work():
            order = self.create_order(data)
            self.pick_order(order.number)
        return self._state.invoices[order.invoice_numbers[-1]]

    # ------------------------------------------------------------------ invoices
    def create_invoice(self, kind: str, customer_number: str, order: Order | None, rows: list[InvoiceRow],
                       return_number: str | None = None) -> CustomerInvoice:
        """A new invoice (inside a unit of work; the caller touched ``order``): CustomerInvoiceCreated. Due 30 days
        after it was made (chosen)."""
        now = self.now()
        number = str(self.ids.next("invoice", start=700001))
        while number in self._state.invoices:
            number = str(self.ids.next("invoice", start=700001))
        invoice = CustomerInvoice(number, kind, customer_number, order.number if order is not None else None,
                                  "Created", rows, ocr_number(number), now, now, now + 30 * DAY_MS,
                                  return_number=return_number)
        self.touch("invoice", number, invoice)
        self._state.invoices[number] = invoice
        self.emit("CustomerInvoiceCreated", {"InvoiceNumber": number, "OrderNumber": invoice.order_number}, None)
        return invoice

    def move_delivery_date(self, number: str, asked_delivery_date: int) -> Order:
        """Back office: the asked delivery date moved (any status but Annulled and Terminated)."""
        order = self.order(number)
        if order.status in ("Annulled", "Terminated"):
            raise refused(f"Order {number} is {order.status}; its delivery date cannot move.", "orderNumber")
        if asked_delivery_date == order.asked_delivery_date:
            return order
        with self.unit_of_work():
            self.touch("order", number, order)
            order.asked_delivery_date = asked_delivery_date
            order.changed_at = self.now()
            self.emit("OrderDeliveryDataChanged", self._delivery_details(order), order.warehouse)
        return order

    # ------------------------------------------------------------------ customers
    def customer_groups(self) -> set[str]:
        from .seed import CUSTOMER_GROUPS

        return {c.customer_group for c in self._state.customers.values()} | set(CUSTOMER_GROUPS)

    def _check_group(self, data: CustomerInput) -> None:
        if data.customer_group is not None and data.customer_group not in self.customer_groups():
            raise refused(f"Customer group '{data.customer_group}' does not exist.",
                          f"{data.path}.customerGroups[0].name")

    def create_customer(self, data: CustomerInput) -> Customer:
        from .seed import PRICE_LIST_OF_GROUP

        if data.name is None or not data.name.strip():
            raise bad_request("The name is required.", (f"{data.path}.name", "The name field is required."))
        if data.delivery_address is None:
            raise bad_request("The delivery address is required.",
                              (f"{data.path}.customerDeliveryAddress", "The customerDeliveryAddress field is required."))
        if data.number is not None and (not data.number.strip() or data.number != data.number.strip()):
            # a key no path could name again (GET Customers/{id}); leave it out to have one assigned
            raise bad_request("The customerNumber cannot be blank or padded with spaces.",
                              (f"{data.path}.customerNumber", "Cannot be blank or start or end with a space."))
        if data.number is not None and data.number in self._state.customers:
            raise refused(f"Customer '{data.number}' already exists.", f"{data.path}.customerNumber")
        self._check_group(data)
        now = self.now()
        group = data.customer_group or "RETAIL"
        with self.unit_of_work():
            number = data.number
            if number is None:
                number = str(self.ids.next("customer", start=10001))
                while number in self._state.customers:  # the seeded customers hold the first numbers: never reuse
                    number = str(self.ids.next("customer", start=10001))
            customer = Customer(
                number=number, name=data.name.strip(), org_number=data.org_number or "", email=data.email or "",
                phone=data.phone or "", customer_group=group, price_list=PRICE_LIST_OF_GROUP.get(group, "STD"),
                salesperson="", currency="SEK", invoice_address=data.invoice_address or data.delivery_address,
                delivery_address=data.delivery_address, created_at=now, changed_at=now,
                extra=dict(data.extra) or None)
            self.touch("customer", number, customer)
            self._state.customers[number] = customer
            self.emit("CustomerCreated", {"CustomerNumber": number}, None)
        return customer

    def update_customer(self, number: str, data: CustomerInput) -> Customer:
        """The webshop's PUT: the fields given replace the stored ones (validated before anything changes)."""
        from .seed import PRICE_LIST_OF_GROUP

        customer = self.customer(number)
        if data.number is not None and data.number != number:
            raise refused(f"The customerNumber in the body ({data.number}) differs from the path ({number}).",
                          f"{data.path}.customerNumber")
        if "name" in data.given and (data.name is None or not data.name.strip()):
            raise bad_request("The name is required.", (f"{data.path}.name", "The name field is required."))
        self._check_group(data)
        with self.unit_of_work():
            self.touch("customer", number, customer)
            if data.name is not None:
                customer.name = data.name.strip()
            for attr in ("org_number", "email", "phone"):
                value = getattr(data, attr)
                if value is not None:
                    setattr(customer, attr, value)
            if data.customer_group is not None:
                customer.customer_group = data.customer_group
                customer.price_list = PRICE_LIST_OF_GROUP.get(data.customer_group, "STD")
            if data.delivery_address is not None:
                customer.delivery_address = data.delivery_address
            if data.invoice_address is not None:
                customer.invoice_address = data.invoice_address
            if data.extra:
                customer.extra = {**(customer.extra or {}), **data.extra}
            customer.changed_at = self.now()
            self.emit("CustomerChanged", {"CustomerNumber": number}, None)
        return customer

    # ------------------------------------------------------------------ prices
    def _active(self, valid_from: int | None, valid_to: int | None, now: int) -> bool:
        return (valid_from is None or valid_from <= now) and (valid_to is None or now < valid_to)

    def best_price(self, customer: Customer, product: Product, now: int) -> BestPrice:
        """The net best price right now: the minimum over the customer's price list (or the standard list),
        customer-group discount lists and campaign price lists that are active now."""
        candidates: list[tuple[float, int, str, int | None, str]] = []
        order = {"PriceList": 0, "Discount": 1, "Campaign": 2}
        std = self.state.price_lists.get("STD")
        std_price = std.prices.get(product.number, product.base_price) if std else product.base_price
        candidates.append((std_price, 0, "PriceList", std.valid_to if std else None, "STD"))
        own = self.state.price_lists.get(customer.price_list)
        if (own is not None and own.code != "STD" and self._active(own.valid_from, own.valid_to, now)
                and product.number in own.prices):
            candidates.append((own.prices[product.number], 0, "PriceList", own.valid_to, own.code))
        for dl in self.state.discount_lists.values():
            if dl.customer_group != customer.customer_group or not self._active(dl.valid_from, dl.valid_to, now):
                continue
            pct = dl.percent_by_product_group.get(product.group)
            if pct:
                candidates.append((round(std_price * (1 - pct / 100), 2), 1, "Discount", dl.valid_to, dl.code))
        for pl in self.state.price_lists.values():
            if pl.kind != "Campaign" or not self._active(pl.valid_from, pl.valid_to, now):
                continue
            if pl.customer_groups and customer.customer_group not in pl.customer_groups:
                continue
            if product.number in pl.prices:
                candidates.append((pl.prices[product.number], 2, "Campaign", pl.valid_to, pl.code))
        price, _, source, valid_to, code = min(candidates, key=lambda c: (c[0], order[c[2]]))
        return BestPrice(product.number, round(price, 2), round(std_price, 2), customer.currency, source, valid_to,
                         self.price_changed_at_for(customer, product.number, now), code)

    def price_changed_at_for(self, customer: Customer, product_number: str, now: int) -> int:
        """When this customer's best price for the product last (possibly) changed: the latest of its price
        inputs' edits and of campaign starts/ends that have passed."""
        latest = self.state.price_changed_at.get(product_number, 0)
        for pl in self.state.price_lists.values():
            if pl.kind != "Campaign" or product_number not in pl.prices:
                continue
            if pl.customer_groups and customer.customer_group not in pl.customer_groups:
                continue
            for edge in (pl.valid_from, pl.valid_to):
                if edge is not None and edge <= now:
                    latest = max(latest, edge)
        return latest

    # ------------------------------------------------------------------ back office: catalogue edits
    def edit_customer(self, number: str, **changes: Any) -> Customer:
        customer = self.customer(number)
        with self.unit_of_work():
            self.touch("customer", number, customer)
            for k, v in changes.items():
                setattr(customer, k, v)
            customer.changed_at = self.now()
            self.emit("CustomerChanged", {"CustomerNumber": number}, None)
        return customer

    # ------------------------------------------------------------------ views
    def balances(self) -> Iterable[StockItem]:
        return self._state.stock.values()

    def expected_receiving(self, product_number: str, warehouse: str) -> tuple[int, int | None, int | None]:
        """(total expected from purchases, next receiving date, quantity on it) for one item."""
        total, next_at, next_qty = 0, None, None
        for number in self.incoming.get((product_number, warehouse), ()):
            po = self._state.purchases[number]
            qty = po.lines.get(product_number, 0)
            if qty <= 0:
                continue
            total += qty
            at = po.expected_at if po.expected_at is not None else po.created_at
            if next_at is None or at < next_at:
                next_at, next_qty = at, qty
            elif at == next_at and next_qty is not None:
                next_qty += qty
        return total, next_at, next_qty


def sorted_by_number(numbers: Sequence[str]) -> list[str]:
    """Order numbers (and other numeric keys) in numeric order, any non-numeric ones after them."""
    return sorted(numbers, key=_number_order)
