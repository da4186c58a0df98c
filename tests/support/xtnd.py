"""Request bodies in XTND's camelCase shapes and the API's error bodies, for the webhook, unit, property and
end-to-end tests (the API tests have their own, fuller helpers in tests/api/xtnd_support.py)."""

from __future__ import annotations

from typing import Any

from tests.conftest import API, PASSWORD, USERNAME, basic

__all__ = ["API", "CONTROL", "DETAILS", "PASSWORD", "USERNAME", "assert_invalid", "assert_message", "basic",
           "customer_body", "order_body", "row"]

#: What a state-changing /_mock call without a JSON body carries (httpx's ``json=`` sends the JSON content type,
#: which counts too): the control surface refuses what a browser could send from another site (admin/guard.py)
CONTROL = {"X-Mock-Xtnd": "1"}

_ORDER = frozenset({"OrderNumber", "OrderNumberExternal", "Warehouse"})
_PURCHASE = frozenset({"PurchaseNumber", "Warehouse"})
#: The keys of each action's webhook Details (docs/wire.md, "Webhooks": PascalCase, with the API's names)
DETAILS: dict[str, frozenset[str]] = {
    "AvailableBalanceChanged": frozenset({"ProductNumber", "Warehouse", "AvailableBalance"}),
    "BalanceChanged": frozenset({"ProductNumber", "Warehouse", "Balance"}),
    "OrderCreated": _ORDER, "OrderReserved": _ORDER, "OrderPicked": _ORDER, "OrderCancelled": _ORDER,
    "OrderDeliveryDataChanged": _ORDER | {"AskedDeliveryDate"},
    "ProductCreated": frozenset({"ProductNumber"}), "ProductChanged": frozenset({"ProductNumber"}),
    "CustomerCreated": frozenset({"CustomerNumber"}), "CustomerChanged": frozenset({"CustomerNumber"}),
    "PurchasePartiallyDelivered": _PURCHASE, "PurchaseDelivered": _PURCHASE, "PurchaseCancelled": _PURCHASE,
    "OfferCreated": frozenset({"OfferNumber"}), "OfferChanged": frozenset({"OfferNumber"}),
    "CustomerInvoiceCreated": frozenset({"InvoiceNumber", "OrderNumber"}),
    "CustomerInvoiceChanged": frozenset({"InvoiceNumber", "OrderNumber"}),
}


def row(product_number: str, quantity: int = 1, *, warehouse: str = "1", unit_price: float | None = 10.0) \
        -> dict[str, Any]:
    """One CustomerOrder row: ``product.productNumber``, ``salesData`` (the unit is required by the schema)."""
    sales: dict[str, Any] = {"quantity": quantity, "unit": "st"}
    if unit_price is not None:
        sales.update(unitPrice=unit_price, currency="SEK")
    return {"product": {"productNumber": product_number}, "salesData": sales, "warehouse": warehouse}


def order_body(external: str | None, rows: list[dict[str, Any]], customer: str = "10001",
               **header: Any) -> dict[str, Any]:
    """A ``POST CustomerOrders`` body: ``{orderHeader, orderRows}``."""
    head: dict[str, Any] = {"customerNumber": customer, **header}
    if external is not None:
        head["orderNumberExternal"] = external
    return {"orderHeader": head, "orderRows": rows}


def customer_body(name: str, **extra: Any) -> dict[str, Any]:
    """A ``POST Customers`` body with what the Swagger requires: name, logistics settings, a delivery address."""
    return {"name": name, "customerLogisticsSettings": {"termsOfDelivery": "DAP"},
            "customerDeliveryAddress": {"address": {"address1": "Storgatan 1", "postalCode": "11122",
                                                    "city": "Stockholm", "country": "SE"}},
            **extra}


def assert_invalid(r: Any, status: int = 400, field: str | None = None) -> dict[str, list[str]]:
    """``{"Message": "The request is invalid.", "ModelState": {...}}``; with ``field``, ModelState names it."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:500]}"
    body = r.json()
    assert set(body) == {"Message", "ModelState"}, body
    assert body["Message"] == "The request is invalid.", body
    state: dict[str, list[str]] = body["ModelState"]
    assert state and all(isinstance(v, list) and v and all(isinstance(m, str) and m for m in v)
                         for v in state.values()), state
    if field is not None:
        assert field in state, f"ModelState does not name {field!r}; it names {sorted(state)}: {body}"
    return state


def assert_message(r: Any, status: int, contains: str | None = None) -> str:
    """``status`` with the plain ``{"Message": ...}`` body; with ``contains``, the message says it."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:500]}"
    body = r.json()
    assert set(body) == {"Message"}, body
    message = body["Message"]
    assert isinstance(message, str) and message, body
    if contains is not None:
        assert contains.lower() in message.lower(), (contains, body)
    return message
