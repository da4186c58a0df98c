"""The fake's records as plain slotted dataclasses (cheap in memory: 100,000 products must fit in ~35 MiB).

Times are epoch milliseconds (see clock.py). Money is a float kept exactly as given (XTND never reprices an order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ORDER_STATUSES = ("Created", "Reserved", "Picked", "Cancelled")
PRODUCT_STATUSES = ("Active", "Inactive", "Discontinued")
PRICE_SOURCES = ("PriceList", "Discount", "Campaign")


@dataclass(slots=True)
class Address:
    name: str
    street: str
    postal_code: str
    city: str
    country_code: str = "SE"

    def to_json(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "Street": self.street,
            "PostalCode": self.postal_code,
            "City": self.city,
            "CountryCode": self.country_code,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Address:
        return cls(d["Name"], d["Street"], d["PostalCode"], d["City"], d.get("CountryCode") or "SE")


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
    """One product in one warehouse. available = on_hand - reserved (negative means backordered)."""

    product_number: str
    warehouse_number: str
    on_hand: int
    reserved: int
    changed_at: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(slots=True)
class Customer:
    number: str
    external_number: str | None
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
    fingerprint: str | None = None  # of the POST body that created it, for idempotent retries


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
class OrderLine:
    line_number: int
    product_number: str
    quantity: int
    unit_price: float
    currency: str
    picked_quantity: int = 0


@dataclass(slots=True)
class ShipmentLine:
    line_number: int
    product_number: str
    quantity: int


@dataclass(slots=True)
class Shipment:
    number: str
    carrier: str
    tracking_number: str
    shipped_at: int
    lines: list[ShipmentLine]


@dataclass(slots=True)
class Order:
    number: str
    external_number: str
    customer_number: str
    warehouse_number: str
    delivery_address: Address
    delivery_method: str
    expected_delivery_date: str | None
    lines: list[OrderLine]
    status: str
    created_at: int
    changed_at: int
    fingerprint: str
    shipments: list[Shipment] = field(default_factory=list)
    invoice_number: str | None = None


@dataclass(slots=True)
class PurchaseOrder:
    number: str
    warehouse_number: str
    lines: dict[str, int]  # product number -> quantity still to arrive
    status: str  # "Open" | "PartiallyDelivered" | "Delivered" | "Cancelled"
    created_at: int
    changed_at: int


@dataclass(slots=True)
class Offer:
    number: str
    customer_number: str
    lines: dict[str, int]
    status: str
    created_at: int
    changed_at: int
