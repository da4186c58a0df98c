"""What a webhook means to the shop: *what to read*, never the data itself.

XTND's hooks are triggers. An ``AvailableBalanceChanged`` hook names a product and a warehouse and carries a
balance, but hooks arrive late, out of order and more than once (several senders in parallel, retries 1 and 5
minutes later), so the balance in it may be stale by the time it lands. The shop asks ProductAvailability
instead, whose rows carry ``changeDate``. Likewise an order hook means "GET that order".

This module is pure: bytes in, read targets out. The receiver (app.py) verifies the signature before anything
here runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from .store import ALL_WAREHOUSES, Pair

ORDER_ACTIONS = frozenset(
    {"OrderCreated", "OrderReserved", "OrderPicked", "OrderCancelled", "OrderDeliveryDataChanged"}
)
# Acknowledged and ignored: BalanceChanged moves physical stock, and any change to what is *available* fires its own
# AvailableBalanceChanged; products, customers, purchases, offers and invoices are not part of this integration.


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str  # the envelope Id: the same on every attempt, so it is the de-duplication key
    attempt: int
    notifications: list[dict[str, Any]]


@dataclass(slots=True)
class ReadTargets:
    balances: list[Pair] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)  # order numbers


class MalformedDelivery(ValueError):
    pass


def parse_delivery(body: bytes) -> Delivery:
    """Parse a (verified) webhook body. Unknown fields are ignored: XTND's models only ever gain fields."""
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedDelivery(f"not JSON: {exc}") from exc
    if not isinstance(envelope, dict):
        raise MalformedDelivery("the body is not a JSON object")
    delivery_id = envelope.get("Id")
    notifications = envelope.get("Notifications")
    if not isinstance(delivery_id, str) or not delivery_id:
        raise MalformedDelivery("Id is missing")
    if not isinstance(notifications, list):
        raise MalformedDelivery("Notifications is missing")
    attempt = envelope.get("Attempt")
    return Delivery(
        id=delivery_id,
        attempt=attempt if isinstance(attempt, int) else 1,
        notifications=[n for n in notifications if isinstance(n, dict)],
    )


def read_targets(
    notifications: Iterable[dict[str, Any]], *, is_our_order: Callable[[str, str | None], bool]
) -> ReadTargets:
    """Translate notifications into keys to read. Only keys are taken from Details, never values.

    ``is_our_order(orderNumber, orderNumberExternal)``: other sales channels' orders are not the shop's business.
    """
    targets = ReadTargets()
    for notification in notifications:
        action = notification.get("Action")
        details = notification.get("Details")
        if not isinstance(details, dict):
            continue
        if action == "AvailableBalanceChanged":
            product = _key(details, "ProductNumber")
            if product is not None:
                targets.balances.append((product, _key(details, "Warehouse") or ALL_WAREHOUSES))
        elif action in ORDER_ACTIONS:
            order = _key(details, "OrderNumber")
            if order is not None and is_our_order(order, _key(details, "OrderNumberExternal")):
                targets.orders.append(order)
    return targets


def _key(details: dict[str, Any], name: str) -> str | None:
    value = details.get(name)
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None
