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
    # Validated productData fields the fake does not interpret (Products POST/PUT), answered back as sent. Replaced
    # as a whole, never changed in place: a snapshot of a product is a tuple of its values (backend._FLAT).
    extra: dict[str, Any] | None = None


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
class PurchaseArrival:
    """One delivery of goods against a purchase order (a PurchaseOrderShipment in the API)."""

    number: str
    at: int
    quantity: int


@dataclass(slots=True)
class PurchaseOrder:
    number: str
    warehouse_number: str
    lines: dict[str, int]  # product number -> quantity still to arrive
    status: str  # "Open" | "PartiallyDelivered" | "Delivered" | "Cancelled" (PURCHASE_STATUS_NAMES: the API's)
    created_at: int
    changed_at: int
    expected_at: int | None = None  # when the goods are expected (nextReceivingDate)
    ordered: dict[str, int] = field(default_factory=dict)  # product number -> quantity ordered ({}: = lines)
    supplier_number: str | None = None
    # validated PurchaseOrderHeader / row fields the fake does not interpret (API), answered back as sent
    header: dict[str, Any] = field(default_factory=dict)
    row_extra: dict[str, dict[str, Any]] = field(default_factory=dict)  # product number -> kept row fields
    arrivals: list[PurchaseArrival] = field(default_factory=list)

    def ordered_quantity(self, product_number: str) -> int:
        return self.ordered.get(product_number, self.lines.get(product_number, 0))


@dataclass(slots=True)
class Offer:
    """A quotation. ``status`` is XTND's OfferStatus: Created, Sent, Resting (open) or Rejected, Accepted,
    Cancelled (final)."""

    number: str
    customer_number: str
    lines: dict[str, int]
    status: str
    created_at: int
    changed_at: int
    valid_to: int | None = None
    prices: dict[str, float] = field(default_factory=dict)  # product number -> unit price agreed on the offer
    header: dict[str, Any] = field(default_factory=dict)  # validated OfferHeader fields the fake does not interpret
    row_extra: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class InvoiceRow:
    position: int
    product_number: str
    product_name: str
    quantity: int  # negative on a credit
    unit: str
    unit_price: float
    vat_percent: float
    currency: str
    order_row_id: str | None = None


@dataclass(slots=True)
class CustomerInvoice:
    """An invoice: made when an order is picked (OrderDebit, one per pick), by CustomerOrderInvoices, or as a credit
    when a return is received (ReturnOrderCredit). ``status`` is XTND's InvoiceStatus."""

    number: str
    kind: str  # InvoiceType
    customer_number: str
    order_number: str | None
    status: str
    rows: list[InvoiceRow]
    ocr: str
    created_at: int
    changed_at: int
    due_at: int
    paid_at: int | None = None
    reminder_at: int | None = None
    return_number: str | None = None


@dataclass(slots=True)
class ReturnRow:
    position: int
    row_id: str  # returnOrderRowId, a GUID
    product_number: str
    product_name: str
    quantity: int
    unit: str
    unit_price: float | None
    vat_percent: float | None
    currency: str | None
    return_code: str | None
    reference_position: int | None = None  # the customer order row it returns
    received: int = 0
    extra: dict[str, Any] | None = None

    @property
    def expected(self) -> int:
        return self.quantity - self.received


@dataclass(slots=True)
class ReturnOrder:
    """Goods a customer sends back. Until they arrive they are ``totalExpectedReceivingFromReturn`` in
    ProductAvailability; receiving them puts them back on hand. ``status``: Ordered, PartiallyReceived, Received,
    Cancelled (XTND's ReturnOrderHeaderStatus)."""

    number: str
    warehouse_number: str
    kind: str  # ReturnOrderHeaderReturnType
    status: str
    customer_number: str | None
    reference_order: str | None
    rows: list[ReturnRow]
    created_at: int
    changed_at: int
    credit_action: str = "WhenReceived"  # ReturnOrderHeaderCreditInvoiceAction
    credit_invoice: str | None = None
    header: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class BalanceAdjustment:
    """One move of a physical or blocked balance in the ledger (BalanceAdjustments). ``event_type`` is XTND's
    BalanceAdjustmentListItemEventType."""

    seq: int
    product_number: str
    warehouse_number: str
    at: int
    event_type: str
    change: int
    new_balance: int
    blocked_change: int | None = None


@dataclass(slots=True)
class SupplierAgreement:
    """A product's agreement with a supplier (ProductSupplierAgreement). Every product has one seeded agreement,
    derived from its group and never stored; a record of this kind overrides it (``deleted``: it was removed)."""

    product_number: str
    number: int  # supplierAgreementNumber
    name: str
    country: str
    supplier_product_number: str
    price: float | None
    vat_percent: int | None
    changed_at: int
    supplier_product_name: str | None = None
    extra: dict[str, Any] | None = None  # validated fields the fake does not interpret
    deleted: bool = False


@dataclass(slots=True)
class ProductText:
    text_type: str
    language: str
    text: str


@dataclass(slots=True)
class ProductTexts:
    """A product's descriptions by (textType, language). A product without a record has one seeded text: its
    description, ``Description`` in ``sv``."""

    product_number: str
    items: list[ProductText]
    changed_at: int


@dataclass(slots=True)
class ProductProperties:
    """The property values (GUIDs of reference.PROPERTY_VALUES) connected to a product. A product without a record
    is connected to the values its name carries (its colour, size, material or volume)."""

    product_number: str
    values: list[str]
    changed_at: int
