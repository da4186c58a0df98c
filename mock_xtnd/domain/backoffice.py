"""Back-office operations that are not the webshop's: purchases, new products, other sales channels, offers,
invoices, customers registered in XTND itself, price-list edits.

Pure domain, as functions over a ``Backend`` (the order lifecycle and catalogue edits live on the Backend itself).
Each one validates before it changes anything, then mutates inside ``backend.unit_of_work()``, touching the records
it changed and emitting events whose Details are exactly the contract's (§2).

Errors name the fields of the ``/_mock/backoffice`` bodies (camelCase, the API's names: docs/control-surface.md):
a bad value is ``bad_request`` (400 with ``ModelState`` naming the field), a well-formed request the back office
will not do (an unknown product, a purchase already delivered) is ``unprocessable``/``conflict`` (400 ``Message``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from .backend import INT32_MAX, Backend
from .errors import bad_request, conflict, not_found, unprocessable
from .models import Address, Customer, Offer, Product, PurchaseOrder, StockItem
from .seed import CUSTOMER_GROUPS, GROUPS, PRICE_LIST_OF_GROUP, UNITS, ean13

PURCHASE_OPEN = ("Open", "PartiallyDelivered")
OFFER_STATUSES = ("Open", "Accepted", "Declined", "Expired")
CHANNEL_RECORD_KIND = "channel_reservation"


# ---------------------------------------------------------------------------------------------- purchases
def _purchase(b: Backend, number: str) -> PurchaseOrder:
    po = b.state.purchases.get(number)
    if po is None:
        raise not_found("Purchase order", number, "purchaseNumber")
    return po


def _purchase_details(po: PurchaseOrder) -> dict[str, str]:
    return {"PurchaseNumber": po.number, "Warehouse": po.warehouse_number}


def _check_lines(b: Backend, lines: dict[str, int], field: str = "rows") -> None:
    if not lines:
        raise bad_request("At least one row is required.", (field, "At least one row is required."))
    for pn, qty in lines.items():
        if pn not in b.state.products:
            raise unprocessable(f"Product '{pn}' does not exist.", (f"{field}.productNumber", "Unknown product."))
        if qty <= 0:
            raise bad_request("The quantity must be greater than 0.", (f"{field}.quantity", "Must be > 0."))


def create_purchase_order(b: Backend, warehouse_number: str, lines: dict[str, int],
                          expected_in_days: float = 7.0) -> PurchaseOrder:
    """A purchase order to a supplier. XTND has no hook for its creation; ProductAvailability shows it as expected
    receivings (``nextReceivingDate``, ``quantityOnNextReceiving``, ``totalExpectedReceivingFromPurchase``)."""
    b.warehouse(warehouse_number)
    _check_lines(b, lines)
    for pn, qty in lines.items():  # ProductAvailability sums what is expected: a 32-bit integer in XTND
        expected = b.expected_receiving(pn, warehouse_number)[0] + qty
        if expected > INT32_MAX:
            raise bad_request(f"Product '{pn}' would be expected {expected} times in warehouse {warehouse_number}, "
                              "past a 32-bit integer.", ("rows.quantity", f"At most {INT32_MAX} expected in all."))
    now = b.now()
    with b.unit_of_work():  # records are touched before they change, ids drawn inside: a failed commit undoes all
        number = str(b.ids.next("purchase", start=400001))
        po = PurchaseOrder(number, warehouse_number, dict(lines), "Open", now, now,
                           expected_at=now + int(expected_in_days * 86_400_000))
        b.touch("purchase", number, po)
        b.state.purchases[number] = po
        b.purchase_changed(po)
    return po


def receive_purchase(b: Backend, number: str, quantity: int | None = None) -> PurchaseOrder:
    """Goods arrive: ``quantity`` units (all that is still due when None), taken line by line in order.
    On-hand rises (BalanceChanged + AvailableBalanceChanged per item), then PurchasePartiallyDelivered or,
    once nothing is due any more, PurchaseDelivered."""
    po = _purchase(b, number)
    if po.status not in PURCHASE_OPEN:
        raise unprocessable(
            f"Purchase order {number} is {po.status}; nothing more can arrive.", ("purchaseNumber", po.status)
        )
    due = sum(po.lines.values())
    if quantity is not None and quantity <= 0:
        raise bad_request("The quantity must be greater than 0.", ("quantity", "Must be > 0."))
    left = due if quantity is None else min(quantity, due)
    arriving: dict[str, int] = {}
    for pn, qty in po.lines.items():
        if left <= 0:
            break
        take = min(qty, left)
        if take:
            arriving[pn] = take
            left -= take
    with b.unit_of_work():
        b.touch("purchase", number, po)
        for pn, take in arriving.items():
            po.lines[pn] -= take
        po.status = "Delivered" if sum(po.lines.values()) == 0 else "PartiallyDelivered"
        po.changed_at = b.now()
        b.purchase_changed(po)
        b.move_stock({(pn, po.warehouse_number): (take, 0) for pn, take in arriving.items()})
        action = "PurchaseDelivered" if po.status == "Delivered" else "PurchasePartiallyDelivered"
        b.emit(action, _purchase_details(po), po.warehouse_number)
    return po


def cancel_purchase(b: Backend, number: str) -> PurchaseOrder:
    """The rest of a purchase order will not come (whatever already arrived stays on hand)."""
    po = _purchase(b, number)
    if po.status not in PURCHASE_OPEN:
        raise unprocessable(f"Purchase order {number} is {po.status}; it cannot be cancelled.",
                            ("purchaseNumber", po.status))
    with b.unit_of_work():
        b.touch("purchase", number, po)
        po.status = "Cancelled"
        po.changed_at = b.now()
        b.purchase_changed(po)
        b.emit("PurchaseCancelled", _purchase_details(po), po.warehouse_number)
    return po


# ---------------------------------------------------------------------------------------------- products
@dataclass(slots=True)
class ProductInput:
    name: str
    number: str | None = None
    description: str | None = None
    group: str | None = None
    unit: str | None = None
    base_price: float | None = None
    vat_rate: float = 25.0
    weight_kg: float | None = None
    ean: str | None = None
    on_hand: int = 0  # in every warehouse: the first delivery, counted in at creation


def create_product(b: Backend, data: ProductInput, rng: random.Random | None = None) -> Product:
    """A new article: ProductCreated, a standard-price-list entry, and a stock row in every warehouse (so
    ProductAvailability lists it at once). Initial stock, if any, fires the balance events after ProductCreated.
    What ``data`` leaves out is drawn from ``rng``; without one, from the ``backoffice/product`` stream, drawn only
    once the product is valid (a refused request must not move a counter of the persisted state)."""
    number = data.number
    if number is not None:
        if not number.strip() or number != number.strip():
            raise bad_request("The productNumber cannot be blank or padded.",
                              ("productNumber", "Cannot be blank or start or end with a space."))
        if number in b.state.products:
            raise conflict(f"Product '{number}' already exists.", "productNumber")
    if not data.name.strip():
        raise bad_request("The productName cannot be blank.", ("productName", "The productName field is required."))
    if data.base_price is not None and data.base_price < 0:
        raise bad_request("The price cannot be negative.", ("price", "Must be 0 or more."))
    if data.on_hand < 0:
        raise bad_request("The physicalBalance cannot be negative.", ("physicalBalance", "Must be 0 or more."))
    if data.group is not None and data.group not in GROUPS:
        raise unprocessable(f"Product group '{data.group}' does not exist (known: {', '.join(GROUPS)}).",
                            ("productGroup", "Unknown group."))
    now = b.now()
    with b.unit_of_work():  # ids and dice drawn inside: a failed commit gives them back
        if number is None:
            number = f"NP-{b.ids.next('product', start=1001)}"
            while number in b.state.products:
                number = f"NP-{b.ids.next('product', start=1001)}"
        if rng is None:
            rng = b.ids.rng("backoffice/product")
        group = data.group or rng.choice(GROUPS)
        price = data.base_price if data.base_price is not None else float(rng.choice((99, 149, 199, 299, 499)))
        product = Product(
            number=number,
            name=data.name.strip(),
            description=data.description if data.description is not None else f"{data.name.strip()}. Ny artikel.",
            ean=data.ean or ean13(rng),
            unit=data.unit or rng.choice(UNITS),
            weight_kg=data.weight_kg if data.weight_kg is not None else round(rng.uniform(0.05, 5.0), 3),
            vat_rate=data.vat_rate,
            group=group,
            status="Active",
            base_price=round(price, 2),
            created_at=now,
            changed_at=now,
        )
        b.touch("product", number, product)
        b.state.products[number] = product
        b.catalogue_changed()
        std = b.state.price_lists.get("STD")
        if std is not None:
            b.touch("price_list", std.code, std)
            std.prices[number] = product.base_price
            std.changed_at = now
        b.touch("price_changed", number, now)
        b.state.price_changed_at[number] = now
        for wh in b.state.warehouses:
            b.add_stock_item(StockItem(number, wh, 0, 0, now))
        b.emit("ProductCreated", {"ProductNumber": number}, None)
        if data.on_hand:
            b.move_stock({(number, wh): (data.on_hand, 0) for wh in b.state.warehouses})
    return product


def change_list_price(b: Backend, price_list: str, product_number: str, price: float) -> None:
    """A customer price list is edited. XTND has no price hook: ``GET ProductPrices`` answers the new best price at
    once; ``price_changed_at`` records when it changed."""
    b.product(product_number)
    pl = b.state.price_lists.get(price_list)
    if pl is None:
        raise not_found("Price list", price_list, "priceList")
    if price < 0:
        raise bad_request("The price cannot be negative.", ("price", "Must be 0 or more."))
    now = b.now()
    with b.unit_of_work():
        b.touch("price_list", pl.code, pl)
        pl.prices[product_number] = round(price, 2)
        pl.changed_at = now
        b.touch("price_changed", product_number, now)
        b.state.price_changed_at[product_number] = now


# ---------------------------------------------------------------------------------------------- customers
def register_customer(b: Backend, *, name: str, email: str, phone: str, address: Address,
                      customer_group: str = "RETAIL", org_number: str = "", salesperson: str = "") -> Customer:
    """A customer entered in XTND's back office (B2B customers are often mastered there): CustomerCreated."""
    if not name.strip():
        raise bad_request("The name cannot be blank.", ("name", "The name field is required."))
    if customer_group not in CUSTOMER_GROUPS:
        raise unprocessable(f"Customer group '{customer_group}' does not exist (known: {', '.join(CUSTOMER_GROUPS)}).",
                            ("customerGroup", "Unknown group."))
    price_list = PRICE_LIST_OF_GROUP[customer_group]
    if price_list not in b.state.price_lists:
        price_list = "STD"
    now = b.now()
    with b.unit_of_work():
        # the seeded customers are numbered from 10001 without the counter: skip past them
        number = str(b.ids.next("customer", start=10001))
        while number in b.state.customers:
            number = str(b.ids.next("customer", start=10001))
        customer = Customer(number=number, name=name, org_number=org_number, email=email,
                            phone=phone, customer_group=customer_group, price_list=price_list,
                            salesperson=salesperson, currency="SEK", invoice_address=address,
                            delivery_address=address, created_at=now, changed_at=now)
        b.touch("customer", number, customer)
        b.state.customers[number] = customer
        b.emit("CustomerCreated", {"CustomerNumber": number}, None)
    return customer


# ---------------------------------------------------------------------------------------------- other channels
def _item_key(pn: str, wh: str) -> tuple[str, str]:
    return (pn, wh)


class OtherChannel:
    """Another sales channel on the same stock (a marketplace, the physical store, a B2B portal).

    It holds its own reservations per item, so releasing never touches the webshop's: allocated stays >= the
    webshop orders' share and never goes below 0. Holds are persisted as records of kind
    ``channel_reservation`` (key ``channel\\x1fproduct\\x1fwarehouse``) so a restart with ``--db`` keeps them.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.held: dict[tuple[str, str], int] = {}

    def record_key(self, pn: str, wh: str) -> str:
        return f"{self.name}\x1f{pn}\x1f{wh}"

    def load(self, records: Iterable[tuple[str, object]]) -> None:
        """Restore holds from persisted records (``Runtime.loaded_records[CHANNEL_RECORD_KIND]``)."""
        prefix = f"{self.name}\x1f"
        for key, value in records:
            if key.startswith(prefix) and isinstance(value, int) and value > 0:
                pn, wh = key[len(prefix):].rsplit("\x1f", 1)
                self.held[(pn, wh)] = value

    def clear(self) -> None:
        self.held.clear()

    def records(self) -> list[tuple[str, str, object]]:
        """The holds as persisted: (``channel_reservation``, key, quantity)."""
        return [(CHANNEL_RECORD_KIND, self.record_key(pn, wh), qty) for (pn, wh), qty in sorted(self.held.items())]

    def _check(self, b: Backend, pn: str, wh: str, quantity: int) -> None:
        b.product(pn)
        b.warehouse(wh)
        if quantity <= 0:
            raise bad_request("The quantity must be greater than 0.", ("quantity", "Must be greater than 0."))

    def _set_held(self, b: Backend, pn: str, wh: str, value: int) -> None:
        key = _item_key(pn, wh)
        old = self.held.get(key, 0)
        b.on_rollback(lambda: self._restore_held(key, old))
        if value:
            self.held[key] = value
        else:
            self.held.pop(key, None)
        # None deletes the record (SqliteStore.write)
        b.touch(CHANNEL_RECORD_KIND, self.record_key(pn, wh), value or None)

    def _restore_held(self, key: tuple[str, str], value: int) -> None:
        if value:
            self.held[key] = value
        else:
            self.held.pop(key, None)

    def reserve(self, b: Backend, pn: str, wh: str, quantity: int = 1) -> StockItem:
        """An order taken in the other channel: allocated (``orderedQuantity``) rises, available falls
        (AvailableBalanceChanged)."""
        self._check(b, pn, wh, quantity)
        with b.unit_of_work():
            self._set_held(b, pn, wh, self.held.get(_item_key(pn, wh), 0) + quantity)
            b.move_stock({(pn, wh): (0, quantity)})
        return b.state.stock[(pn, wh)]

    def release(self, b: Backend, pn: str, wh: str, quantity: int = 1) -> StockItem:
        """The other channel's order is cancelled: its reservation goes back (AvailableBalanceChanged)."""
        self._check(b, pn, wh, quantity)
        held = self.held.get(_item_key(pn, wh), 0)
        if quantity > held:
            raise unprocessable(f"The {self.name} channel holds {held} of '{pn}' in warehouse {wh}.",
                                ("quantity", f"At most {held}."))
        with b.unit_of_work():
            self._set_held(b, pn, wh, held - quantity)
            b.move_stock({(pn, wh): (0, -quantity)})
        return b.state.stock[(pn, wh)]

    def ship(self, b: Backend, pn: str, wh: str) -> int:
        """The other channel ships what it holds and what is on hand: on-hand and allocated fall together
        (BalanceChanged; available moves only for the part released unshipped). Returns units shipped."""
        b.product(pn)
        b.warehouse(wh)
        held = self.held.get(_item_key(pn, wh), 0)
        if held == 0:
            return 0
        item = b.state.stock.get((pn, wh))
        shipped = min(held, max(0, item.on_hand if item else 0))
        with b.unit_of_work():
            self._set_held(b, pn, wh, 0)
            b.move_stock({(pn, wh): (-shipped, -held)})
        return shipped


def other_channel_sale(b: Backend, pn: str, wh: str, quantity: int) -> StockItem:
    """A sale over the counter in another channel: on-hand falls at once (BalanceChanged +
    AvailableBalanceChanged). Refused when fewer than ``quantity`` units are on hand."""
    b.product(pn)
    b.warehouse(wh)
    if quantity <= 0:
        raise bad_request("The quantity must be greater than 0.", ("quantity", "Must be greater than 0."))
    item = b.state.stock.get((pn, wh))
    on_hand = item.on_hand if item else 0
    if quantity > on_hand:
        raise unprocessable(f"Only {on_hand} of '{pn}' on hand in warehouse {wh}.", ("quantity", f"At most {on_hand}."))
    with b.unit_of_work():
        b.move_stock({(pn, wh): (-quantity, 0)})
    return b.state.stock[(pn, wh)]


# ---------------------------------------------------------------------------------------------- offers
def _offer(b: Backend, number: str) -> Offer:
    offer = b.state.offers.get(number)
    if offer is None:
        raise not_found("Offer", number, "offerNumber")
    return offer


def create_offer(b: Backend, customer_number: str, lines: dict[str, int]) -> Offer:
    """A quotation to a customer (OfferCreated)."""
    b.customer(customer_number)
    _check_lines(b, lines)
    now = b.now()
    with b.unit_of_work():
        number = str(b.ids.next("offer", start=600001))
        offer = Offer(number, customer_number, dict(lines), "Open", now, now)
        b.touch("offer", number, offer)
        b.state.offers[number] = offer
        b.emit("OfferCreated", {"OfferNumber": number}, None)
    return offer


def change_offer(b: Backend, number: str, *, lines: dict[str, int] | None = None, status: str | None = None) -> Offer:
    """An open offer's lines or status change (OfferChanged). Closed offers (not Open) are final."""
    offer = _offer(b, number)
    if offer.status != "Open":
        raise unprocessable(f"Offer {number} is {offer.status}; it can no longer change.", ("offerNumber", offer.status))
    if lines is None and status is None:
        raise bad_request("Give rows or offerStatus.", ("rows", "Nothing to change: give rows or offerStatus."))
    if lines is not None:
        _check_lines(b, lines)
    if status is not None and status not in OFFER_STATUSES:
        raise bad_request(f"Unknown offer status '{status}'.", ("offerStatus", f"One of {', '.join(OFFER_STATUSES)}."))
    with b.unit_of_work():
        b.touch("offer", number, offer)
        if lines is not None:
            offer.lines = dict(lines)
        if status is not None:
            offer.status = status
        offer.changed_at = b.now()
        b.emit("OfferChanged", {"OfferNumber": number}, None)
    return offer


# ---------------------------------------------------------------------------------------------- invoices
def change_invoice(b: Backend, order_number: str) -> str:
    """The invoice of a picked order changes in XTND (paid, reminded, credited...): CustomerInvoiceChanged.

    The fake keeps no invoice model beyond the number on the order (the contract has no invoice endpoint), so
    only the hook is observable. Returns the invoice number."""
    order = b.order(order_number)
    if not order.invoice_numbers:
        raise unprocessable(f"Order {order_number} has no invoice yet (it is {order.status}).",
                            ("orderNumber", "Not invoiced."))
    invoice = order.invoice_numbers[-1]
    with b.unit_of_work():
        b.emit("CustomerInvoiceChanged", {"InvoiceNumber": invoice, "OrderNumber": order.number}, None)
    return invoice
