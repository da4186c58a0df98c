"""The fake's records as plain slotted dataclasses (cheap in memory: 100,000 products must fit in ~35 MiB).

Times are epoch milliseconds (see clock.py). Money is a float kept exactly as given (XTND never reprices an order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Header statuses the fake's lifecycle uses (the facts' CustomerOrderHeaderOrderStatus has more; see lifecycle.py)
ORDER_STATUSES = ("Created", "Reserved", "Terminated", "PartiallyDelivered", "Annulled")
ROW_STATUSES = ("Created", "Reserved", "Picked", "Annulled")
ALLOCATION_STATUSES = ("Physical", "Purchase", "NotAllocated", "Delivered")
PRODUCT_STATUSES = ("Active", "Inactive", "Discontinued")
PRICE_SOURCES = ("PriceList", "Discount", "Campaign")


@dataclass(slots=True)
class Address:
    """A postal address (rendered as CustomerOrderAdressFull / CustomerAddress)."""

    name: str
    street: str
    postal_code: str
    city: str
    country_code: str = "SE"


@dataclass(slots=True)
class Warehouse:
    number: str
    name: str
    city: str


@dataclass(slots=True)
class Product:
    number: str
    name: str
    description: str
    ean: str
    unit: str
    weight_kg: float
    vat_rate: float
    group: str
    status: str
    base_price: float
    created_at: int
    changed_at: int


@dataclass(slots=True)
class StockItem:
    """One product in one warehouse: ``physicalBalance`` (on_hand), ``orderedQuantity`` (allocated to customer orders
    not yet picked), ``blockedBalance`` (blocked), and ``availableBalanceNow`` = on_hand - allocated - blocked
    (negative means backordered). ``changed_at`` is the item's ``changeDate``: any of its figures moved."""

    product_number: str
    warehouse_number: str
    on_hand: int
    allocated: int
    changed_at: int
    blocked: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated - self.blocked


@dataclass(slots=True)
class Customer:
    number: str
    name: str
    org_number: str
    email: str
    phone: str
    customer_group: str
    price_list: str
    salesperson: str
    currency: str
    invoice_address: Address
    delivery_address: Address
    created_at: int
    changed_at: int
    # Validated Customer fields the fake does not interpret, answered back as sent (camelCase, as in the body)
    extra: dict[str, Any] | None = None


@dataclass(slots=True)
class PriceList:
    """A price list or a campaign price list: product number -> net unit price, valid in [valid_from, valid_to)."""

    code: str
    name: str
    kind: str  # "PriceList" | "Campaign"
    currency: str
    valid_from: int | None
    valid_to: int | None
    prices: dict[str, float]
    customer_groups: list[str]  # campaigns: empty = every customer
    changed_at: int


@dataclass(slots=True)
class DiscountList:
    """A customer-group discount list: percent off the standard price, per product group."""

    code: str
    customer_group: str
    percent_by_product_group: dict[str, float]
    valid_from: int | None
    valid_to: int | None
    changed_at: int


@dataclass(slots=True)
class OrderRow:
    """One order row. ``quantity`` is what was ordered, ``picked`` what has been shipped so far; the rest stays
    allocated in ``warehouse`` until it is picked or the order is cancelled."""

    position: int
    row_id: str  # orderRowId, a GUID
    product_number: str
    product_name: str
    quantity: int
    unit: str
    unit_price: float  # kept exactly as the webshop sent it: XTND never reprices an order
    vat_percent: float
    currency: str
    warehouse: str
    status: str  # ROW_STATUSES
    allocation: str  # ALLOCATION_STATUSES
    picked: int = 0
    shipment_number: str | None = None
    ship_date: int | None = None
    extra: dict[str, Any] | None = None  # validated row fields the fake does not interpret, answered back

    @property
    def outstanding(self) -> int:
        """Still allocated: ordered, not picked, not annulled."""
        return 0 if self.status == "Annulled" else self.quantity - self.picked


@dataclass(slots=True)
class Shipment:
    number: str
    forwarder: str
    packages: list[str]  # package (tracking) numbers
    pick_date: int
    delivery_method: str


@dataclass(slots=True)
class Order:
    number: str
    external_number: str | None  # orderNumberExternal: the webshop's id
    customer_number: str
    warehouse: str  # the first row's warehouse: the Warehouse of the order's hooks
    asked_delivery_date: int | None
    rows: list[OrderRow]
    status: str  # ORDER_STATUSES
    created_at: int
    changed_at: int
    # Validated header fields the fake does not interpret (deliveryAddress, yourReference, notations, ...),
    # answered back as sent
    header: dict[str, Any] = field(default_factory=dict)
    shipments: list[Shipment] = field(default_factory=list)
    invoice_numbers: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PurchaseOrder:
    number: str
    warehouse_number: str
    lines: dict[str, int]  # product number -> quantity still to arrive
    status: str  # "Open" | "PartiallyDelivered" | "Delivered" | "Cancelled"
    created_at: int
    changed_at: int
    expected_at: int | None = None  # when the goods are expected (nextReceivingDate)


@dataclass(slots=True)
class Offer:
    number: str
    customer_number: str
    lines: dict[str, int]
    status: str
    created_at: int
    changed_at: int
