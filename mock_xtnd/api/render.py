"""Domain records -> XTND's PascalCase JSON. Plain dicts serialised with orjson: the cheap path."""

from __future__ import annotations

from typing import Any

from ..domain.backend import BestPrice
from ..domain.clock import iso_ms
from ..domain.models import Customer, Order, Product, StockItem


def order_summary(o: Order) -> dict[str, Any]:
    return {"OrderNumber": o.number, "ExternalOrderNumber": o.external_number, "Status": o.status,
            "ChangedAt": iso_ms(o.changed_at)}


def order_full(o: Order) -> dict[str, Any]:
    return {
        "OrderNumber": o.number,
        "ExternalOrderNumber": o.external_number,
        "CustomerNumber": o.customer_number,
        "WarehouseNumber": o.warehouse_number,
        "Status": o.status,
        "DeliveryAddress": o.delivery_address.to_json(),
        "DeliveryMethod": o.delivery_method,
        "ExpectedDeliveryDate": o.expected_delivery_date,
        "Lines": [
            {"LineNumber": ln.line_number, "ProductNumber": ln.product_number, "Quantity": ln.quantity,
             "UnitPrice": ln.unit_price, "Currency": ln.currency, "PickedQuantity": ln.picked_quantity}
            for ln in o.lines
        ],
        "Shipments": [
            {"ShipmentNumber": s.number, "Carrier": s.carrier, "TrackingNumber": s.tracking_number,
             "ShippedAt": iso_ms(s.shipped_at),
             "Lines": [{"LineNumber": sl.line_number, "ProductNumber": sl.product_number, "Quantity": sl.quantity}
                       for sl in s.lines]}
            for s in o.shipments
        ],
        "InvoiceNumber": o.invoice_number,
        "CreatedAt": iso_ms(o.created_at),
        "ChangedAt": iso_ms(o.changed_at),
    }


def availability_row(s: StockItem) -> dict[str, Any]:
    return {"ProductNumber": s.product_number, "WarehouseNumber": s.warehouse_number,
            "AvailableBalance": s.on_hand - s.reserved, "ChangedAt": iso_ms(s.changed_at)}


def product_summary(p: Product) -> dict[str, Any]:
    return {"ProductNumber": p.number, "ChangedAt": iso_ms(p.changed_at)}


def product_full(p: Product) -> dict[str, Any]:
    return {
        "ProductNumber": p.number, "Name": p.name, "Description": p.description, "Ean": p.ean, "Unit": p.unit,
        "WeightKg": p.weight_kg, "VatRate": p.vat_rate, "ProductGroup": p.group, "Status": p.status,
        "CreatedAt": iso_ms(p.created_at), "ChangedAt": iso_ms(p.changed_at),
    }


def customer_summary(c: Customer) -> dict[str, Any]:
    return {"CustomerNumber": c.number, "ExternalCustomerNumber": c.external_number, "ChangedAt": iso_ms(c.changed_at)}


def customer_full(c: Customer) -> dict[str, Any]:
    return {
        "CustomerNumber": c.number, "ExternalCustomerNumber": c.external_number, "Name": c.name,
        "OrganizationNumber": c.org_number, "Email": c.email, "Phone": c.phone, "CustomerGroup": c.customer_group,
        "PriceList": c.price_list, "Salesperson": c.salesperson, "Currency": c.currency,
        "InvoiceAddress": c.invoice_address.to_json(), "DeliveryAddress": c.delivery_address.to_json(),
        "CreatedAt": iso_ms(c.created_at), "ChangedAt": iso_ms(c.changed_at),
    }


def price_row(customer_number: str, bp: BestPrice) -> dict[str, Any]:
    return {"ProductNumber": bp.product_number, "CustomerNumber": customer_number, "Price": bp.price,
            "Currency": bp.currency, "PriceSource": bp.source,
            "ValidTo": iso_ms(bp.valid_to) if bp.valid_to is not None else None, "ChangedAt": iso_ms(bp.changed_at)}
