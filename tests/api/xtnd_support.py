"""Small helpers shared by the API tests: request bodies and assertions on XTND's error envelope."""

from __future__ import annotations

from typing import Any

import httpx

ENVELOPE_KEYS = {"ErrorType", "Message", "Errors", "TraceId"}


def assert_error(r: httpx.Response, status: int, error_type: str = "Validation", field: str | None = None) -> dict[str, Any]:
    """The response is ``status`` in XTND's error envelope; with ``field``, an error names that field."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:500]}"
    body: dict[str, Any] = r.json()
    assert set(body) == ENVELOPE_KEYS, body
    assert body["ErrorType"] == error_type, body
    assert isinstance(body["Message"], str) and body["Message"], body
    assert all(set(e) == {"Field", "Message"} for e in body["Errors"]), body
    if field is not None:
        fields = [e["Field"] for e in body["Errors"]]
        assert field in fields, f"no error names {field!r}; errors name {fields}: {body['Message']}"
    return body


def line(product_number: str = "100003", quantity: int = 2, unit_price: float = 199.0) -> dict[str, Any]:
    return {"ProductNumber": product_number, "Quantity": quantity, "UnitPrice": unit_price, "Currency": "SEK"}


def order_body(external: str = "WEB-1", customer: str = "10001", lines: list[dict[str, Any]] | None = None,
               **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ExternalOrderNumber": external,
        "CustomerNumber": customer,
        "WarehouseNumber": "1",
        "DeliveryAddress": {"Name": "Anna Svensson", "Street": "Storgatan 1", "PostalCode": "11122",
                            "City": "Stockholm", "CountryCode": "SE"},
        "DeliveryMethod": "Standard",
        "Lines": lines if lines is not None else [line()],
    }
    body.update(extra)
    return body


def balance(state: dict[str, Any], product_number: str, warehouse: str = "1") -> dict[str, Any]:
    for b in state["Balances"]:
        if b["ProductNumber"] == product_number and b["WarehouseNumber"] == warehouse:
            return dict(b)
    raise AssertionError(f"no balance for {product_number!r} in warehouse {warehouse}")


def assert_ledger_consistent(state: dict[str, Any]) -> None:
    bad = [b for b in state["Balances"] if b["OnHand"] - b["Reserved"] != b["AvailableBalance"]]
    assert not bad, f"on-hand - reserved != available for {bad[:5]}"
