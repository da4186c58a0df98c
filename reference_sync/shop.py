"""The shop's side of writes: what a shop order or customer looks like, and the exact XTND body made from it.

The shop checks the *shape* of what it is asked to do (400 at the door); XTND checks the business rules
(unknown product, quantity <= 0, ...) and its Validation answer parks the item. One authority per rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson


class InvalidShopRequest(ValueError):
    """The shop's own endpoint got a request of the wrong shape."""


class NotBuildable(Exception):
    """The XTND body cannot be made (no price for a product, no customer): park, do not send."""


def parse_shop_order(payload: Any) -> dict[str, Any]:
    """``{Lines: [{ProductNumber, Quantity}], WarehouseNumber}`` -> the normalized request kept in the outbox."""
    if not isinstance(payload, dict):
        raise InvalidShopRequest("the body must be a JSON object")
    lines = payload.get("Lines")
    if not isinstance(lines, list) or not lines:
        raise InvalidShopRequest("Lines must be a non-empty list")
    normalized = []
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            raise InvalidShopRequest(f"Lines[{i}] must be an object")
        product, quantity = line.get("ProductNumber"), line.get("Quantity")
        if not isinstance(product, str) or not product:
            raise InvalidShopRequest(f"Lines[{i}].ProductNumber must be a non-empty string")
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise InvalidShopRequest(f"Lines[{i}].Quantity must be an integer")
        normalized.append({"ProductNumber": product, "Quantity": quantity})
    warehouse = payload.get("WarehouseNumber")
    if warehouse is not None and not isinstance(warehouse, str | int):
        raise InvalidShopRequest("WarehouseNumber must be a string")
    return {"Lines": normalized, "WarehouseNumber": None if warehouse is None else str(warehouse)}


CUSTOMER_FIELDS = (
    "Name",
    "OrganizationNumber",
    "Email",
    "Phone",
    "CustomerGroup",
    "PriceList",
    "InvoiceAddress",
    "DeliveryAddress",
)


def parse_shop_customer(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidShopRequest("the body must be a JSON object")
    if not isinstance(payload.get("Name"), str) or not payload["Name"].strip():
        raise InvalidShopRequest("Name must be a non-empty string")
    return {k: payload[k] for k in CUSTOMER_FIELDS if payload.get(k) is not None}


def order_body(
    external_order_number: str,
    request: Mapping[str, Any],
    *,
    customer: Mapping[str, Any],
    prices: Mapping[str, tuple[Any, str | None]],
    delivery_method: str | None,
    default_currency: str,
) -> bytes:
    """The POST CustomerOrders body, as the bytes that every attempt will send.

    Prices are the customer's prices as the shop charges them: XTND keeps an order's prices exactly as sent.
    """
    lines = []
    for line in request["Lines"]:
        product = line["ProductNumber"]
        if product not in prices:
            raise NotBuildable(
                f"no price for product {product!r} for customer {customer.get('CustomerNumber')!r}"
            )
        price, currency = prices[product]
        lines.append(
            {
                "ProductNumber": product,
                "Quantity": line["Quantity"],
                "UnitPrice": price,
                "Currency": currency or customer.get("Currency") or default_currency,
            }
        )
    body: dict[str, Any] = {
        "ExternalOrderNumber": external_order_number,
        "CustomerNumber": customer["CustomerNumber"],
    }
    if request.get("WarehouseNumber") is not None:
        body["WarehouseNumber"] = request["WarehouseNumber"]
    if isinstance(customer.get("DeliveryAddress"), dict):
        body["DeliveryAddress"] = customer["DeliveryAddress"]
    if delivery_method:
        body["DeliveryMethod"] = delivery_method
    body["Lines"] = lines
    return orjson.dumps(body)


def customer_body(external_customer_number: str, request: Mapping[str, Any]) -> bytes:
    return orjson.dumps({"ExternalCustomerNumber": external_customer_number, **request})
