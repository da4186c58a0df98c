"""The one object that owns the fake's truth (moto's backend): catalogue, stock ledger, customers, prices, orders.

Every mutating operation runs inside ``unit_of_work()``: it validates first, then changes state, records what it
touched and the domain events it caused; on leaving the block the whole change is handed to the persistence
store in one transaction (SQLite under ``--db``) together with the webhook notifications made from its events.
Validation happens before the first change, so a refused request leaves state exactly as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import orjson

from .clock import Clock, date_of, day_start_ms, iso_ms
from .errors import DomainError, FieldError, bad_request, conflict, not_found, unprocessable
from .events import DomainEvent
from .ids import Ids
from .lifecycle import check_move
from .models import (
    Address,
    Customer,
    DiscountList,
    Offer,
    Order,
    OrderLine,
    PriceList,
    Product,
    PurchaseOrder,
    Shipment,
    ShipmentLine,
    StockItem,
    Warehouse,
)

CARRIERS: tuple[tuple[str, str], ...] = (("PostNord", "00370"), ("DHL Freight", "JJD"), ("Bring", "70"), ("Schenker", "SE"))


@dataclass
class State:
    """Plain typed containers; reset() replaces the whole object, so it is trivially complete."""

    warehouses: dict[str, Warehouse] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    stock: dict[tuple[str, str], StockItem] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    customers_by_external: dict[str, str] = field(default_factory=dict)
    price_lists: dict[str, PriceList] = field(default_factory=dict)
    discount_lists: dict[str, DiscountList] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    orders_by_external: dict[str, str] = field(default_factory=dict)
    purchases: dict[str, PurchaseOrder] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)
    # when each product's customer price inputs last changed (price list entries, discounts)
    price_changed_at: dict[str, int] = field(default_factory=dict)


class ChangeSink(Protocol):
    """Receives a committed unit of work: the records it touched and the events it caused."""

    def on_change(self, touched: dict[tuple[str, str], Any], events: list[DomainEvent]) -> list[tuple[str, str, Any]]:
        """Return extra records (kind, key, object) to persist in the same transaction (e.g. outbox rows)."""
        ...


class Store(Protocol):
    def write(self, records: list[tuple[str, str, Any]], meta: dict[str, Any]) -> None: ...


@dataclass(slots=True)
class OrderLineInput:
    product_number: str
    quantity: int
    unit_price: float
    currency: str


@dataclass(slots=True)
class OrderInput:
    external_number: str
    customer_number: str
    warehouse_number: str | None
    delivery_address: Address | None
    delivery_method: str | None
    expected_delivery_date: str | None
    lines: list[OrderLineInput]


@dataclass(slots=True)
class CustomerInput:
    external_number: str
    name: str
    org_number: str | None
    email: str | None
    phone: str | None
    customer_group: str | None
    price_list: str | None
    invoice_address: Address | None
    delivery_address: Address | None


@dataclass(slots=True)
class BestPrice:
    product_number: str
    price: float
    currency: str
    source: str
    valid_to: int | None
    changed_at: int


def fingerprint(body: Any) -> str:
    """Equal once parsed: the canonical JSON (sorted keys) of the validated body, hashed."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class Backend:
    def __init__(self, clock: Clock, ids: Ids, *, default_warehouse: str = "1", allow_oversell: bool = True) -> None:
        self.clock = clock
        self.ids = ids
        self.state = State()
        self.default_warehouse = default_warehouse
        self.allow_oversell = allow_oversell
        self.store: Store | None = None
        self.sinks: list[ChangeSink] = []
        self.after_commit: list[Callable[[list[DomainEvent]], None]] = []
        self._depth = 0
        self._touched: dict[tuple[str, str], Any] = {}
        self._events: list[DomainEvent] = []
        self.origin: str | None = None  # set by a caller (a storm) around its units of work

    # ------------------------------------------------------------------ unit of work
    @contextmanager
    def unit_of_work(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        except BaseException:
            if self._depth == 1:
                # Operations validate before they mutate; anything touched here is only dirty bookkeeping.
                self._touched, self._events = {}, []
            raise
        finally:
            self._depth -= 1
        if self._depth == 0:
            self._commit()

    def _commit(self) -> None:
        touched, events = self._touched, self._events
        self._touched, self._events = {}, []
        if not touched and not events:
            return
        extra: list[tuple[str, str, Any]] = []
        for sink in self.sinks:
            extra.extend(sink.on_change(touched, events))
        if self.store is not None:
            records = [(kind, key, obj) for (kind, key), obj in touched.items()] + extra
            self.store.write(records, self.meta())
        for callback in self.after_commit:
            callback(events)

    def meta(self) -> dict[str, Any]:
        return {"counters": self.ids.counters, "now": self.clock.now_ms(), "seed": self.ids.seed}

    def touch(self, kind: str, key: str, obj: Any) -> None:
        self._touched[(kind, key)] = obj

    def emit(self, action: str, details: dict[str, Any], warehouse_number: str | None) -> None:
        self._events.append(DomainEvent(action, details, warehouse_number, self.clock.now_ms(), self.origin))

    def now(self) -> int:
        return self.clock.now_ms()

    # ------------------------------------------------------------------ lookups
    def product(self, number: str) -> Product:
        p = self.state.products.get(number)
        if p is None:
            raise not_found("Product", number, "productNumber")
        return p

    def customer(self, number: str) -> Customer:
        c = self.state.customers.get(number)
        if c is None:
            raise not_found("Customer", number, "customerNumber")
        return c

    def order(self, number: str) -> Order:
        o = self.state.orders.get(number)
        if o is None:
            raise not_found("Order", number, "orderNumber")
        return o

    def warehouse(self, number: str, field_name: str = "WarehouseNumber") -> Warehouse:
        w = self.state.warehouses.get(number)
        if w is None:
            raise unprocessable(f"Warehouse {number!r} does not exist.", (field_name, f"No warehouse {number!r}."))
        return w

    # ------------------------------------------------------------------ stock ledger
    def move_stock(self, changes: dict[tuple[str, str], tuple[int, int]]) -> None:
        """Apply (on_hand delta, reserved delta) per item; one event per item per kind of balance that moved."""
        now = self.now()
        for (pn, wh), (d_on_hand, d_reserved) in changes.items():
            if d_on_hand == 0 and d_reserved == 0:
                continue
            item = self.state.stock.get((pn, wh))
            if item is None:
                item = StockItem(pn, wh, 0, 0, now)
                self.state.stock[(pn, wh)] = item
            before_available = item.available
            item.on_hand += d_on_hand
            item.reserved += d_reserved
            item.changed_at = now
            self.touch("stock", f"{pn}\x1f{wh}", item)
            if d_on_hand:
                self.emit("BalanceChanged", {"ProductNumber": pn, "WarehouseNumber": wh, "Balance": item.on_hand}, wh)
            if item.available != before_available:
                self.emit(
                    "AvailableBalanceChanged",
                    {"ProductNumber": pn, "WarehouseNumber": wh, "AvailableBalance": item.available},
                    wh,
                )

    def set_stock(self, product_number: str, warehouse_number: str, *, delta: int | None, on_hand: int | None) -> StockItem:
        """Back-office stock move (inventory count or adjustment)."""
        self.product(product_number)
        self.warehouse(warehouse_number)
        if (delta is None) == (on_hand is None):
            raise bad_request("Give exactly one of Delta or OnHand.", ("Delta", "Give Delta or OnHand, not both."))
        item = self.state.stock.get((product_number, warehouse_number))
        current = item.on_hand if item else 0
        target = current + delta if delta is not None else on_hand
        assert target is not None
        if target < 0:
            raise unprocessable("On-hand stock cannot go below zero.", ("OnHand", f"Would become {target}."))
        with self.unit_of_work():
            self.move_stock({(product_number, warehouse_number): (target - current, 0)})
        return self.state.stock[(product_number, warehouse_number)]

    # ------------------------------------------------------------------ orders
    def _validate_lines(self, lines: Sequence[OrderLineInput], warehouse_number: str) -> None:
        if not lines:
            raise unprocessable("An order needs at least one line.", ("Lines", "At least one line is required."))
        wanted: dict[str, int] = {}
        for i, line in enumerate(lines):
            f = f"Lines[{i}]"
            if line.product_number not in self.state.products:
                raise unprocessable(
                    f"Product {line.product_number!r} does not exist.", (f"{f}.ProductNumber", "Unknown product.")
                )
            if self.state.products[line.product_number].status != "Active":
                raise unprocessable(
                    f"Product {line.product_number!r} is not sellable.", (f"{f}.ProductNumber", "Product is not Active.")
                )
            if line.quantity <= 0:
                raise unprocessable("Quantity must be greater than zero.", (f"{f}.Quantity", "Must be > 0."))
            if line.unit_price < 0:
                raise unprocessable("UnitPrice cannot be negative.", (f"{f}.UnitPrice", "Must be >= 0."))
            wanted[line.product_number] = wanted.get(line.product_number, 0) + line.quantity
        if not self.allow_oversell:
            for pn, qty in wanted.items():
                item = self.state.stock.get((pn, warehouse_number))
                available = item.available if item else 0
                if qty > available:
                    raise unprocessable(
                        f"Not enough stock of {pn!r} in warehouse {warehouse_number}: {available} available.",
                        ("Lines", f"{pn}: asked {qty}, available {available}."),
                    )

    @staticmethod
    def _reservations(order: Order, sign: int) -> dict[tuple[str, str], tuple[int, int]]:
        changes: dict[tuple[str, str], tuple[int, int]] = {}
        for line in order.lines:
            key = (line.product_number, order.warehouse_number)
            on_hand, reserved = changes.get(key, (0, 0))
            changes[key] = (on_hand, reserved + sign * line.quantity)
        return changes

    def create_order(self, data: OrderInput, body_fingerprint: str) -> tuple[Order, bool]:
        """Returns (order, created). The same ExternalOrderNumber with an identical body is a safe retry."""
        existing = _replayed(self.state.orders_by_external, self.state.orders, data.external_number,
                             body_fingerprint, "order", "ExternalOrderNumber")
        if existing is not None:
            return existing, False
        customer = self.state.customers.get(data.customer_number)
        if customer is None:
            raise unprocessable(
                f"Customer {data.customer_number!r} does not exist.", ("CustomerNumber", "Unknown customer.")
            )
        warehouse = data.warehouse_number or self.default_warehouse
        self.warehouse(warehouse)
        self._validate_lines(data.lines, warehouse)
        now = self.now()
        number = str(self.ids.next("order", start=100001))
        order = Order(
            number=number,
            external_number=data.external_number,
            customer_number=customer.number,
            warehouse_number=warehouse,
            delivery_address=data.delivery_address or customer.delivery_address,
            delivery_method=data.delivery_method or "Standard",
            expected_delivery_date=data.expected_delivery_date,
            lines=[
                OrderLine(i + 1, ln.product_number, ln.quantity, ln.unit_price, ln.currency)
                for i, ln in enumerate(data.lines)
            ],
            status="Created",
            created_at=now,
            changed_at=now,
            fingerprint=body_fingerprint,
        )
        with self.unit_of_work():
            self.state.orders[number] = order
            self.state.orders_by_external[order.external_number] = number
            self.touch("order", number, order)
            self.emit("OrderCreated", self._order_details(order), warehouse)
            self.move_stock(self._reservations(order, +1))
        return order, True

    @staticmethod
    def _order_details(order: Order) -> dict[str, Any]:
        return {
            "OrderNumber": order.number,
            "ExternalOrderNumber": order.external_number,
            "WarehouseNumber": order.warehouse_number,
        }

    def update_order(
        self,
        number: str,
        *,
        lines: list[OrderLineInput] | None,
        delivery_address: Address | None,
        delivery_method: str | None,
        expected_delivery_date: str | None,
        date_given: bool,
    ) -> Order:
        order = self.order(number)
        if order.status != "Created":
            check_move(number, order.status, "Created", "webshop")  # raises: locked
        if lines is not None:
            self._validate_lines(lines, order.warehouse_number)
        with self.unit_of_work():
            if lines is not None:
                release = self._reservations(order, -1)
                order.lines = [
                    OrderLine(i + 1, ln.product_number, ln.quantity, ln.unit_price, ln.currency)
                    for i, ln in enumerate(lines)
                ]
                reserve = self._reservations(order, +1)
                net: dict[tuple[str, str], tuple[int, int]] = {}
                for key in set(release) | set(reserve):
                    net[key] = (0, release.get(key, (0, 0))[1] + reserve.get(key, (0, 0))[1])
                self.move_stock(net)
            if delivery_address is not None:
                order.delivery_address = delivery_address
            if delivery_method is not None:
                order.delivery_method = delivery_method
            date_moved = date_given and expected_delivery_date != order.expected_delivery_date
            if date_given:
                order.expected_delivery_date = expected_delivery_date
            order.changed_at = self.now()
            self.touch("order", number, order)
            if date_moved:
                self.emit(
                    "OrderDeliveryDataChanged",
                    {**self._order_details(order), "ExpectedDeliveryDate": order.expected_delivery_date},
                    order.warehouse_number,
                )
        return order

    def cancel_order(self, number: str, actor: str) -> Order:
        order = self.order(number)
        check_move(number, order.status, "Cancelled", actor)
        with self.unit_of_work():
            order.status = "Cancelled"
            order.changed_at = self.now()
            self.touch("order", number, order)
            self.move_stock(self._reservations(order, -1))
            self.emit("OrderCancelled", self._order_details(order), order.warehouse_number)
        return order

    def reserve_order(self, number: str) -> Order:
        """Back office: picking starts. After this the webshop can no longer change the order."""
        order = self.order(number)
        check_move(number, order.status, "Reserved", "backoffice")
        with self.unit_of_work():
            order.status = "Reserved"
            order.changed_at = self.now()
            self.touch("order", number, order)
            self.emit("OrderReserved", self._order_details(order), order.warehouse_number)
        return order

    def pick_order(self, number: str) -> Order:
        """Back office: ship the order. Picks what is on hand per line (short picks are recorded in
        PickedQuantity), consumes on-hand, releases the whole reservation, makes one shipment and an invoice."""
        order = self.order(number)
        if order.status == "Created":
            self.reserve_order(number)
        check_move(number, order.status, "Picked", "backoffice")
        rng = self.ids.rng("shipment-dice")
        with self.unit_of_work():
            changes: dict[tuple[str, str], tuple[int, int]] = {}
            shipped: list[ShipmentLine] = []
            left: dict[str, int] = {}  # on-hand still unpicked, per product, while walking the lines
            for line in order.lines:
                key = (line.product_number, order.warehouse_number)
                if line.product_number not in left:
                    item = self.state.stock.get(key)
                    left[line.product_number] = max(0, item.on_hand if item else 0)
                picked = min(line.quantity, left[line.product_number])
                left[line.product_number] -= picked
                line.picked_quantity = picked
                d_on, d_res = changes.get(key, (0, 0))
                changes[key] = (d_on - picked, d_res - line.quantity)
                if picked:
                    shipped.append(ShipmentLine(line.line_number, line.product_number, picked))
            carrier, prefix = CARRIERS[rng.randrange(len(CARRIERS))]
            tracking = prefix + "".join(str(rng.randrange(10)) for _ in range(14))
            if shipped:  # nothing on hand at all: Picked with PickedQuantity 0 and no shipment
                order.shipments.append(
                    Shipment(f"SH{self.ids.next('shipment', start=500001)}", carrier, tracking, self.now(), shipped)
                )
            order.status = "Picked"
            order.changed_at = self.now()
            order.invoice_number = str(self.ids.next("invoice", start=700001))
            self.touch("order", number, order)
            self.move_stock(changes)
            self.emit("OrderPicked", self._order_details(order), order.warehouse_number)
            self.emit(
                "CustomerInvoiceCreated", {"InvoiceNumber": order.invoice_number, "OrderNumber": order.number}, None
            )
        return order

    def move_delivery_date(self, number: str, expected_delivery_date: str) -> Order:
        """Back office: the expected delivery date moved (any status but Cancelled/Picked)."""
        order = self.order(number)
        if order.status in ("Cancelled", "Picked"):
            raise unprocessable(
                f"Order {number} is {order.status}; its delivery date cannot move.", ("OrderNumber", order.status)
            )
        if expected_delivery_date == order.expected_delivery_date:
            return order
        with self.unit_of_work():
            order.expected_delivery_date = expected_delivery_date
            order.changed_at = self.now()
            self.touch("order", number, order)
            self.emit(
                "OrderDeliveryDataChanged",
                {**self._order_details(order), "ExpectedDeliveryDate": expected_delivery_date},
                order.warehouse_number,
            )
        return order

    # ------------------------------------------------------------------ customers
    def create_customer(self, data: CustomerInput, body_fingerprint: str) -> tuple[Customer, bool]:
        existing_customer = _replayed(self.state.customers_by_external, self.state.customers, data.external_number,
                                      body_fingerprint, "customer", "ExternalCustomerNumber")
        if existing_customer is not None:
            return existing_customer, False
        if not data.name.strip():
            raise unprocessable("Name cannot be blank.", ("Name", "Required."))
        groups = {c.customer_group for c in self.state.customers.values()} | {"RETAIL"}
        group = data.customer_group or "RETAIL"
        if group not in groups:
            raise unprocessable(f"Customer group {group!r} does not exist.", ("CustomerGroup", "Unknown group."))
        price_list = data.price_list or "STD"
        if price_list not in self.state.price_lists or self.state.price_lists[price_list].kind != "PriceList":
            raise unprocessable(f"Price list {price_list!r} does not exist.", ("PriceList", "Unknown price list."))
        now = self.now()
        number = str(self.ids.next("customer", start=10001))
        while number in self.state.customers:  # the seeded customers hold the first numbers: never reuse one
            number = str(self.ids.next("customer", start=10001))
        fallback = Address(data.name, "", "", "", "SE")
        customer = Customer(
            number=number,
            external_number=data.external_number,
            name=data.name,
            org_number=data.org_number or "",
            email=data.email or "",
            phone=data.phone or "",
            customer_group=group,
            price_list=price_list,
            salesperson="",
            currency="SEK",
            invoice_address=data.invoice_address or data.delivery_address or fallback,
            delivery_address=data.delivery_address or data.invoice_address or fallback,
            created_at=now,
            changed_at=now,
            fingerprint=body_fingerprint,
        )
        with self.unit_of_work():
            self.state.customers[number] = customer
            self.state.customers_by_external[data.external_number] = number
            self.touch("customer", number, customer)
            self.emit("CustomerCreated", {"CustomerNumber": number}, None)
        return customer, True

    # ------------------------------------------------------------------ prices
    def _active(self, valid_from: int | None, valid_to: int | None, now: int) -> bool:
        return (valid_from is None or valid_from <= now) and (valid_to is None or now < valid_to)

    def best_price(self, customer: Customer, product: Product, now: int) -> BestPrice:
        """The net best price right now: the minimum over the customer's price list (or the standard list),
        customer-group discount lists and campaign price lists that are active now."""
        candidates: list[tuple[float, int, str, int | None]] = []
        order = {"PriceList": 0, "Discount": 1, "Campaign": 2}
        std = self.state.price_lists.get("STD")
        std_price = std.prices.get(product.number, product.base_price) if std else product.base_price
        candidates.append((std_price, 0, "PriceList", std.valid_to if std else None))
        own = self.state.price_lists.get(customer.price_list)
        if (own is not None and own.code != "STD" and self._active(own.valid_from, own.valid_to, now)
                and product.number in own.prices):
            candidates.append((own.prices[product.number], 0, "PriceList", own.valid_to))
        for dl in self.state.discount_lists.values():
            if dl.customer_group != customer.customer_group or not self._active(dl.valid_from, dl.valid_to, now):
                continue
            pct = dl.percent_by_product_group.get(product.group)
            if pct:
                candidates.append((round(std_price * (1 - pct / 100), 2), 1, "Discount", dl.valid_to))
        for pl in self.state.price_lists.values():
            if pl.kind != "Campaign" or not self._active(pl.valid_from, pl.valid_to, now):
                continue
            if pl.customer_groups and customer.customer_group not in pl.customer_groups:
                continue
            if product.number in pl.prices:
                candidates.append((pl.prices[product.number], 2, "Campaign", pl.valid_to))
        price, _, source, valid_to = min(candidates, key=lambda c: (c[0], order[c[2]]))
        return BestPrice(product.number, round(price, 2), customer.currency, source, valid_to,
                         self.price_changed_at_for(customer, product.number, now))

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
    def edit_product(self, number: str, **changes: Any) -> Product:
        product = self.product(number)
        allowed = {"name", "description", "status", "base_price", "weight_kg", "group"}
        unknown = set(changes) - allowed
        if unknown:
            raise bad_request(f"Cannot edit {sorted(unknown)}.", *((u, "Not editable.") for u in sorted(unknown)))
        with self.unit_of_work():
            for k, v in changes.items():
                setattr(product, k, v)
            product.changed_at = self.now()
            if "base_price" in changes:
                std = self.state.price_lists.get("STD")
                if std is not None:
                    std.prices[number] = changes["base_price"]
                    std.changed_at = self.now()
                    self.touch("price_list", std.code, std)
                self.state.price_changed_at[number] = self.now()
                self.touch("price_changed", number, self.now())
            self.touch("product", number, product)
            self.emit("ProductChanged", {"ProductNumber": number}, None)
        return product

    def edit_customer(self, number: str, **changes: Any) -> Customer:
        customer = self.customer(number)
        with self.unit_of_work():
            for k, v in changes.items():
                setattr(customer, k, v)
            customer.changed_at = self.now()
            self.touch("customer", number, customer)
            self.emit("CustomerChanged", {"CustomerNumber": number}, None)
        return customer

    # ------------------------------------------------------------------ views
    def balances(self) -> Iterable[StockItem]:
        return self.state.stock.values()

    def as_of(self, ms: int) -> str:
        return iso_ms(ms)

    def today_plus(self, days: int) -> str:
        d = date_of(self.now())
        return date_of(day_start_ms(d) + days * 86_400_000).isoformat()


R = TypeVar("R", Order, Customer)


def _replayed(index: dict[str, str], records: dict[str, R], external_number: str, body_fingerprint: str,
              what: str, field_name: str) -> R | None:
    """The idempotency key (chosen by the mock): the record a safe retry (identical body) refers to, or None for a
    new key. The same key with a different body is a 409; a blank key a 422."""
    number = index.get(external_number)
    if number is not None:
        existing = records[number]
        if existing.fingerprint == body_fingerprint:
            return existing
        raise conflict(f"{field_name} {external_number!r} already belongs to {what} {existing.number} "
                       "with a different body.", field_name)
    if not external_number.strip():
        raise unprocessable(f"{field_name} cannot be blank.", (field_name, "Required."))
    return None


def require(condition: bool, message: str, field_name: str) -> None:
    if not condition:
        raise DomainError(400, message, [FieldError(field_name, message)])
