"""Request and response models of the public ``/api`` surface. They generate the OpenAPI document; the hot
paths return prebuilt JSON (see render.py) whose shape these models describe and the contract tests check.

Request models are strict about types (a string where a number belongs is a Validation error, as in XTND's .NET
model binding) and ignore unknown fields (XTND's models only grow, so clients may send newer fields).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

CHOSEN = " (Chosen by the mock: XTND's public docs do not fix this.)"


class _In(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class AddressIn(_In):
    Name: str = Field(min_length=1, max_length=200)
    Street: str = Field(max_length=200)
    PostalCode: str = Field(max_length=20)
    City: str = Field(max_length=100)
    CountryCode: str = Field("SE", pattern=r"^[A-Z]{2}$")


class OrderLineIn(_In):
    ProductNumber: str = Field(min_length=1, max_length=100, examples=["100003"])
    # A 32-bit int, as XTND's .NET model binds it: a value outside that range is a 400 (wrong type), not a 500.
    Quantity: int = Field(
        ge=-(2**31), le=2**31 - 1, description="Must be > 0 (422 otherwise); a 32-bit integer.", examples=[2]
    )
    UnitPrice: float = Field(
        allow_inf_nan=False, description="Kept exactly as sent: XTND never reprices an order.", examples=[199.0]
    )
    Currency: str = Field(pattern=r"^[A-Z]{3}$", examples=["SEK"])

    @field_validator("Quantity", mode="before")
    @classmethod
    def _integral_number(cls, v: object) -> object:
        """JSON has one number type: 2.0 is the integer 2 (as JSON Schema's "integer" says); 2.5 stays an error."""
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return v


def _check_date(v: str | None) -> str | None:
    if v is None:
        return v
    try:
        date.fromisoformat(v)
    except ValueError as e:
        raise ValueError("must be a date YYYY-MM-DD") from e
    return v


class OrderIn(_In):
    ExternalOrderNumber: str = Field(
        min_length=1, max_length=100, description="The webshop's order id: the idempotency key.", examples=["WEB-1001"]
    )
    CustomerNumber: str = Field(min_length=1, max_length=50, examples=["10001"])
    WarehouseNumber: str | None = Field(None, max_length=20, examples=["1"])
    DeliveryAddress: AddressIn | None = None
    DeliveryMethod: str | None = Field(None, max_length=100, examples=["Standard"])
    ExpectedDeliveryDate: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-01-09"],
                                             json_schema_extra={"format": "date"})
    Lines: list[OrderLineIn] = Field(min_length=1, max_length=1000)

    _date = field_validator("ExpectedDeliveryDate")(_check_date)


class OrderUpdateIn(_In):
    """Every field optional; only what is given changes. Allowed only while the order is Created."""

    DeliveryAddress: AddressIn | None = None
    DeliveryMethod: str | None = Field(None, max_length=100)
    ExpectedDeliveryDate: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", json_schema_extra={"format": "date"})
    Lines: list[OrderLineIn] | None = Field(None, min_length=1, max_length=1000)

    _date = field_validator("ExpectedDeliveryDate")(_check_date)


class CustomerIn(_In):
    ExternalCustomerNumber: str = Field(
        min_length=1, max_length=100, description="The webshop's customer id: the idempotency key.",
        examples=["WEBCUST-17"],
    )
    Name: str = Field(min_length=1, max_length=200, examples=["Anna Svensson"])
    OrganizationNumber: str | None = Field(None, max_length=20)
    Email: str | None = Field(None, max_length=200)
    Phone: str | None = Field(None, max_length=50)
    CustomerGroup: str | None = Field(None, max_length=50, examples=["RETAIL"])
    PriceList: str | None = Field(None, max_length=50, examples=["STD"])
    InvoiceAddress: AddressIn | None = None
    DeliveryAddress: AddressIn | None = None


# ---------------------------------------------------------------------------------------------- responses
class Address(_Out):
    Name: str
    Street: str
    PostalCode: str
    City: str
    CountryCode: str


class Token(_Out):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int


class ErrorItem(_Out):
    Field: str
    Message: str


class ErrorEnvelope(_Out):
    ErrorType: Literal["Validation", "Throttled", "Internal", "Unauthorized"]
    Message: str
    Errors: list[ErrorItem]
    TraceId: str


class _Paged(_Out):
    Page: int
    PageSize: int
    TotalCount: int
    TotalPages: int


class OrderSummary(_Out):
    OrderNumber: str
    ExternalOrderNumber: str
    Status: Literal["Created", "Reserved", "Picked", "Cancelled"]
    ChangedAt: str


class OrderList(_Paged):
    Items: list[OrderSummary]


class OrderLineOut(_Out):
    LineNumber: int
    ProductNumber: str
    Quantity: int
    UnitPrice: float
    Currency: str
    PickedQuantity: int


class ShipmentLineOut(_Out):
    LineNumber: int
    ProductNumber: str
    Quantity: int


class ShipmentOut(_Out):
    ShipmentNumber: str
    Carrier: str
    TrackingNumber: str
    ShippedAt: str
    Lines: list[ShipmentLineOut]


class OrderOut(_Out):
    OrderNumber: str
    ExternalOrderNumber: str
    CustomerNumber: str
    WarehouseNumber: str
    Status: Literal["Created", "Reserved", "Picked", "Cancelled"]
    DeliveryAddress: Address
    DeliveryMethod: str
    ExpectedDeliveryDate: str | None
    Lines: list[OrderLineOut]
    Shipments: list[ShipmentOut]
    InvoiceNumber: str | None
    CreatedAt: str
    ChangedAt: str


class AvailabilityRow(_Out):
    ProductNumber: str
    WarehouseNumber: str
    AvailableBalance: int
    ChangedAt: str


class AvailabilityList(_Paged):
    Items: list[AvailabilityRow]


class ProductSummary(_Out):
    ProductNumber: str
    ChangedAt: str


class ProductList(_Paged):
    Items: list[ProductSummary]


class ProductOut(_Out):
    ProductNumber: str
    Name: str
    Description: str
    Ean: str
    Unit: str
    WeightKg: float
    VatRate: float
    ProductGroup: str
    Status: Literal["Active", "Inactive", "Discontinued"]
    CreatedAt: str
    ChangedAt: str


class CustomerSummary(_Out):
    CustomerNumber: str
    ExternalCustomerNumber: str | None
    ChangedAt: str


class CustomerList(_Paged):
    Items: list[CustomerSummary]


class CustomerOut(_Out):
    CustomerNumber: str
    ExternalCustomerNumber: str | None
    Name: str
    OrganizationNumber: str
    Email: str
    Phone: str
    CustomerGroup: str
    PriceList: str
    Salesperson: str
    Currency: str
    InvoiceAddress: Address
    DeliveryAddress: Address
    CreatedAt: str
    ChangedAt: str


class PriceRow(_Out):
    ProductNumber: str
    CustomerNumber: str
    Price: float
    Currency: str
    PriceSource: Literal["PriceList", "Discount", "Campaign"]
    ValidTo: str | None
    ChangedAt: str


class PriceList(_Paged):
    Items: list[PriceRow]
