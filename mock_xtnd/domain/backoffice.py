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
from typing import Any

from .backend import DAY_MS, INT32_MAX, Backend
from .errors import bad_request, conflict, not_found, refused, unprocessable
from .models import (
    Address,
    Customer,
    CustomerInvoice,
    Offer,
    Product,
    PurchaseArrival,
    PurchaseOrder,
    StockItem,
)
from .reference import SUPPLIER_AGREEMENTS
from .seed import CUSTOMER_GROUPS, GROUPS, PRICE_LIST_OF_GROUP, UNITS, ean13

PURCHASE_OPEN = ("Open", "PartiallyDelivered")
# the fake's purchase statuses in XTND's words (PurchaseOrderHeaderStatus)
PURCHASE_STATUS_NAMES = {"Open": "Ordered", "PartiallyDelivered": "PartiallyReceived", "Delivered": "Received",
                         "Cancelled": "Cancelled"}
# XTND's OfferStatus: the first three are open (the offer can change), the rest final
OFFER_OPEN = ("Created", "Sent", "Resting")
OFFER_STATUSES = (*OFFER_OPEN, "Rejected", "Accepted", "Cancelled")
# the control surface's earlier names, still understood
OFFER_STATUS_ALIASES = {"Open": "Created", "Declined": "Rejected", "Expired": "Cancelled"}
# XTND's InvoiceStatus as the back office moves an invoice along (CustomerInvoiceChanged at each step)
INVOICE_NEXT = {"Created": "InvoiceSent", "InvoiceSent": "Paid"}
CHANNEL_RECORD_KIND = "channel_reservation"


# ---------------------------------------------------------------------------------------------- purchases
def purchase(b: Backend, number: str) -> PurchaseOrder:
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
                          expected_in_days: float = 7.0, *, expected_at: int | None = None,
                          supplier_number: str | None = None, header: dict[str, Any] | None = None,
                          row_extra: dict[str, dict[str, Any]] | None = None, field: str = "rows",
                          warehouse_field: str = "warehouse") -> PurchaseOrder:
    """A purchase order to a supplier (the back office, or POST PurchaseOrders). XTND has no hook for its creation;
    ProductAvailability shows it as expected receivings (``nextReceivingDate``, ``quantityOnNextReceiving``,
    ``totalExpectedReceivingFromPurchase``). ``field`` names the rows in errors."""
    b.warehouse(warehouse_number, warehouse_field)
    _check_lines(b, lines, field)
    for pn, qty in lines.items():  # ProductAvailability sums what is expected: a 32-bit integer in XTND
        expected = b.expected_receiving(pn, warehouse_number)[0] + qty
        if expected > INT32_MAX:
            raise bad_request(f"Product '{pn}' would be expected {expected} times in warehouse {warehouse_number}, "
                              "past a 32-bit integer.", (f"{field}.quantity", f"At most {INT32_MAX} expected in all."))
    now = b.now()
    with b.unit_of_work():  # records are touched before they change, ids drawn inside: a failed commit undoes all
        number = str(b.ids.next("purchase", start=400001))
        while number in b.state.purchases:
            number = str(b.ids.next("purchase", start=400001))
        po = PurchaseOrder(number, warehouse_number, dict(lines), "Open", now, now,
                           expected_at=expected_at if expected_at is not None
                           else now + int(expected_in_days * 86_400_000),
                           ordered=dict(lines), supplier_number=supplier_number or default_supplier(b, lines),
                           header=dict(header or {}), row_extra=dict(row_extra or {}))
        b.touch("purchase", number, po)
        b.state.purchases[number] = po
        b.purchase_changed(po)
    return po


def receive_purchase(b: Backend, number: str, quantity: int | None = None) -> PurchaseOrder:
    """Goods arrive: ``quantity`` units (all that is still due when None), taken line by line in order.
    On-hand rises (BalanceChanged + AvailableBalanceChanged per item), then PurchasePartiallyDelivered or,
    once nothing is due any more, PurchaseDelivered."""
    po = purchase(b, number)
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
        po.arrivals.append(PurchaseArrival(f"{number}-{len(po.arrivals) + 1}", po.changed_at,
                                           sum(arriving.values())))
        b.purchase_changed(po)
        b.move_stock({(pn, po.warehouse_number): (take, 0) for pn, take in arriving.items()}, "ManualReceiving")
        action = "PurchaseDelivered" if po.status == "Delivered" else "PurchasePartiallyDelivered"
        b.emit(action, _purchase_details(po), po.warehouse_number)
    return po


def default_supplier(b: Backend, lines: dict[str, int]) -> str:
    """The supplier of a purchase that names none: the seeded agreement of its first product's group."""
    first = b.state.products.get(next(iter(lines), ""))
    agreement = SUPPLIER_AGREEMENTS.get(first.group) if first is not None else None
    return agreement[1] if agreement is not None else "SA-HOME"


def update_purchase(b: Backend, number: str, *, lines: dict[str, int] | None = None, expected_at: int | None = None,
                    header: dict[str, Any] | None = None, row_extra: dict[str, dict[str, Any]] | None = None,
                    supplier_number: str | None = None, cancel: bool = False, field: str = "rows") -> PurchaseOrder:
    """PUT PurchaseOrders/{id}: while goods may still come, the rows given replace the quantities ordered (never
    below what already arrived), the expected date moves, kept header fields are replaced; ``cancel`` cancels the
    rest (PurchaseCancelled). A purchase received in full or cancelled is final (400). Validated first."""
    po = purchase(b, number)
    if po.status not in PURCHASE_OPEN:
        raise refused(f"Purchase order {number} is {PURCHASE_STATUS_NAMES[po.status]} and can no longer be changed.",
                      "purchaseNumber")
    new_lines: dict[str, int] | None = None
    ordered: dict[str, int] | None = None
    if lines is not None:
        _check_lines(b, lines, field)
        ordered = {}
        new_lines = {}
        for pn in dict.fromkeys([*po.lines, *lines]):
            received = po.ordered_quantity(pn) - po.lines.get(pn, 0)
            want = lines.get(pn, received)  # a row left out keeps what already arrived, and nothing more is due
            if want < received:
                raise refused(f"Product '{pn}' of purchase order {number}: {received} already arrived, so the "
                              f"quantity cannot become {want}.", f"{field}.quantity")
            if want == 0:
                continue  # a row left out before anything of it arrived is removed (not kept as 0 "Received")
            ordered[pn] = want
            new_lines[pn] = want - received
        for pn, due in new_lines.items():
            if b.expected_receiving(pn, po.warehouse_number)[0] - po.lines.get(pn, 0) + due > INT32_MAX:
                raise bad_request(f"Product '{pn}' would be expected past a 32-bit integer.",
                                  (f"{field}.quantity", f"At most {INT32_MAX} expected in all."))
    with b.unit_of_work():
        b.touch("purchase", number, po)
        if new_lines is not None and ordered is not None:
            b._unindex_purchase(po)
            po.lines, po.ordered = new_lines, ordered
        if expected_at is not None:
            po.expected_at = expected_at
        if header:
            po.header = {**po.header, **header}
        if row_extra:
            po.row_extra = {**po.row_extra, **row_extra}
        if supplier_number is not None:
            po.supplier_number = supplier_number
        po.changed_at = b.now()
        if new_lines is not None and sum(new_lines.values()) == 0 and not cancel:
            po.status = "Delivered"  # what is left was all received already
            b.emit("PurchaseDelivered", _purchase_details(po), po.warehouse_number)
        if cancel:
            po.status = "Cancelled"
            b.emit("PurchaseCancelled", _purchase_details(po), po.warehouse_number)
        b.purchase_changed(po)
    return po


def cancel_purchase(b: Backend, number: str) -> PurchaseOrder:
    """The rest of a purchase order will not come (whatever already arrived stays on hand)."""
    po = purchase(b, number)
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


def create_product(b: Backend, data: ProductInput, rng: random.Random | None = None, *,
                   status: str = "Active", extra: dict[str, Any] | None = None, field_prefix: str = "") -> Product:
    """A new article: ProductCreated, a standard-price-list entry, and a stock row in every warehouse (so
    ProductAvailability lists it at once). Initial stock, if any, fires the balance events after ProductCreated.
    What ``data`` leaves out is drawn from ``rng``; without one, from the ``backoffice/product`` stream, drawn only
    once the product is valid (a refused request must not move a counter of the persisted state)."""
    number = data.number
    if number is not None:
        if not number.strip() or number != number.strip():
            raise bad_request("The productNumber cannot be blank or padded.",
                              (f"{field_prefix}productNumber", "Cannot be blank or start or end with a space."))
        if number in b.state.products:
            raise conflict(f"Product '{number}' already exists.", f"{field_prefix}productNumber")
    if not data.name.strip():
        raise bad_request("The productName cannot be blank.",
                          (f"{field_prefix}{'productData.' if field_prefix else ''}productName",
                           "The productName field is required."))
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
            status=status,
            base_price=round(price, 2),
            created_at=now,
            changed_at=now,
            extra=dict(extra) if extra else None,
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
            b.move_stock({(number, wh): (data.on_hand, 0) for wh in b.state.warehouses}, "SystemStart")
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
            b.move_stock({(pn, wh): (-shipped, -held)}, "CorrectionOuttake")
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
        b.move_stock({(pn, wh): (-quantity, 0)}, "UnAnnouncedOuttake")
    return b.state.stock[(pn, wh)]


# ---------------------------------------------------------------------------------------------- offers
def get_offer(b: Backend, number: str) -> Offer:
    offer = b.state.offers.get(number)
    if offer is None:
        raise not_found("Offer", number, "offerNumber")
    return offer


def offer_status(name: str) -> str | None:
    """XTND's OfferStatus for a name the control surface takes (the API's, or an earlier alias), or None."""
    name = OFFER_STATUS_ALIASES.get(name, name)
    return name if name in OFFER_STATUSES else None


def create_offer(b: Backend, customer_number: str, lines: dict[str, int], *, valid_days: int = 30) -> Offer:
    """A quotation to a customer (OfferCreated), valid 30 days; priced at the customer's best price when read."""
    b.customer(customer_number)
    _check_lines(b, lines)
    now = b.now()
    with b.unit_of_work():
        number = str(b.ids.next("offer", start=600001))
        while number in b.state.offers:  # the seeded offers hold the first numbers: never reuse
            number = str(b.ids.next("offer", start=600001))
        offer = Offer(number, customer_number, dict(lines), "Created", now, now, valid_to=now + valid_days * DAY_MS)
        b.touch("offer", number, offer)
        b.state.offers[number] = offer
        b.emit("OfferCreated", {"OfferNumber": number}, None)
    return offer


def change_offer(b: Backend, number: str, *, lines: dict[str, int] | None = None, status: str | None = None,
                 prices: dict[str, float] | None = None, valid_to: int | None = None,
                 header: dict[str, Any] | None = None, row_extra: dict[str, dict[str, Any]] | None = None,
                 customer_number: str | None = None, field: str = "rows", status_field: str = "offerStatus") -> Offer:
    """An open offer (Created, Sent, Resting) changes: its rows, prices, validity, kept fields or status
    (OfferChanged). Offers Accepted, Rejected or Cancelled are final."""
    offer = get_offer(b, number)
    if offer.status not in OFFER_OPEN:
        raise unprocessable(f"Offer {number} is {offer.status}; it can no longer change.", ("offerNumber", offer.status))
    if customer_number is not None and customer_number != offer.customer_number:
        raise refused(f"The customer of offer {number} cannot change.", "customerNumber")
    if lines is None and status is None and prices is None and valid_to is None and not header and not row_extra:
        raise bad_request("Give rows or offerStatus.", (field, "Nothing to change: give rows or offerStatus."))
    if lines is not None:
        _check_lines(b, lines, field)
    if status is not None and status not in OFFER_STATUSES:
        raise bad_request(f"Unknown offer status '{status}'.", (status_field, f"One of {', '.join(OFFER_STATUSES)}."))
    with b.unit_of_work():
        b.touch("offer", number, offer)
        if lines is not None:
            offer.lines = dict(lines)
            offer.prices = {pn: price for pn, price in (prices or {}).items() if pn in lines}
            offer.row_extra = {pn: kept for pn, kept in (row_extra or {}).items() if pn in lines}
        if status is not None:
            offer.status = status
        if valid_to is not None:
            offer.valid_to = valid_to
        if header:
            offer.header = {**offer.header, **header}
        offer.changed_at = b.now()
        b.emit("OfferChanged", {"OfferNumber": number}, None)
    return offer


# ---------------------------------------------------------------------------------------------- invoices
def invoice(b: Backend, number: str) -> CustomerInvoice:
    found = b.state.invoices.get(number)
    if found is None:
        raise not_found("Invoice", number, "invoiceNumber")
    return found


def change_invoice(b: Backend, invoice_number: str) -> CustomerInvoice:
    """The invoice moves along in XTND: Created -> InvoiceSent -> Paid (CustomerInvoiceChanged at each step; a
    paid or otherwise closed invoice no longer changes)."""
    found = invoice(b, invoice_number)
    status = INVOICE_NEXT.get(found.status)
    if status is None:
        raise unprocessable(f"Invoice {invoice_number} is {found.status}; it no longer changes.",
                            ("invoiceNumber", found.status))
    with b.unit_of_work():
        b.touch("invoice", invoice_number, found)
        found.status = status
        found.changed_at = b.now()
        if status == "Paid":
            found.paid_at = found.changed_at
        b.emit("CustomerInvoiceChanged", {"InvoiceNumber": found.number, "OrderNumber": found.order_number}, None)
    return found
