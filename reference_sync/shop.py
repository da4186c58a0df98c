"""The shop's side of orders: what a shop order looks like, and the exact ``POST CustomerOrders`` body made from it.

The shop checks the *shape* of what it is asked to do (400 at the door); XTND checks the business rules (unknown
product, quantity <= 0, ...) and its 400 parks the order. One authority per rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson


class InvalidShopRequest(ValueError):
    """The shop's own endpoint got a request of the wrong shape."""


class NotBuildable(Exception):
    """The XTND body cannot be made (no price for a product, no customer): park, do not send."""


def parse_shop_order(payload: Any) -> dict[str, Any]:
    """``{"rows": [{"productNumber", "quantity"}], "warehouse"}`` -> the request kept in the outbox."""
    if not isinstance(payload, dict):
        raise InvalidShopRequest("the body must be a JSON object")
    rows = payload.get("rows")
    if not isinstance(rows, list) or not rows:
        raise InvalidShopRequest("rows must be a non-empty list")
    normalized = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InvalidShopRequest(f"rows[{i}] must be an object")
        product, quantity = row.get("productNumber"), row.get("quantity")
        if not isinstance(product, str) or not product:
            raise InvalidShopRequest(f"rows[{i}].productNumber must be a non-empty string")
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise InvalidShopRequest(f"rows[{i}].quantity must be an integer")
        normalized.append({"productNumber": product, "quantity": quantity})
    warehouse = payload.get("warehouse")
    if warehouse is not None and (not isinstance(warehouse, str | int) or isinstance(warehouse, bool)):
        raise InvalidShopRequest("warehouse must be a string")
    return {"rows": normalized, "warehouse": None if warehouse is None else str(warehouse)}


def best_price_row(rows: Sequence[Mapping[str, Any]], quantity: int) -> Mapping[str, Any] | None:
    """The ``ProductPrices`` row that applies to ``quantity``: the highest ``fromQuantity`` not above it."""
    applicable = [r for r in rows if (r.get("fromQuantity") or 1) <= quantity] or list(rows)
    return max(applicable, key=lambda r: r.get("fromQuantity") or 1, default=None)


def order_body(
    order_number_external: str,
    request: Mapping[str, Any],
    *,
    customer_number: str,
    prices: Mapping[str, Sequence[Mapping[str, Any]]],
    delivery_method: str | None = None,
) -> bytes:
    """The ``POST CustomerOrders`` body, as the bytes that every attempt will send.

    Each row carries the customer's price as ``ProductPrices`` gave it just now (price, sales unit, VAT, currency):
    XTND keeps an order's prices exactly as sent, so the shop decides them, once. ``salesData.unit`` is required.
    """
    order_rows = []
    for row in request["rows"]:
        product, quantity = row["productNumber"], row["quantity"]
        price = best_price_row(prices.get(product, ()), quantity)
        if price is None:
            raise NotBuildable(f"no price for product {product!r} for customer {customer_number!r}")
        sales_data = {
            "quantity": quantity,
            "unit": price["salesUnit"],
            "unitPrice": price["price"],
            "vatPercent": price.get("vatPercent"),
            "currency": price.get("currency"),
        }
        order_row: dict[str, Any] = {
            "product": {"productNumber": product},
            "salesData": {k: v for k, v in sales_data.items() if v is not None},
        }
        if request.get("warehouse") is not None:
            order_row["warehouse"] = request["warehouse"]
        order_rows.append(order_row)
    header: dict[str, Any] = {"orderNumberExternal": order_number_external, "customerNumber": customer_number}
    if delivery_method:
        header["deliveryMethod"] = delivery_method
    return orjson.dumps({"orderHeader": header, "orderRows": order_rows})
