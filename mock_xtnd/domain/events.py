"""Domain events: every change records one, with its timestamp. Webhooks are made from these.

``action`` is the XTND webhook action name; ``details`` is exactly the webhook's Details object;
``warehouse_number`` drives the subscriptions' warehouse filter (None passes every filter); ``origin`` tags events
made by the mock's own machinery (storms) so their deliveries can be counted exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ACTIONS: tuple[str, ...] = (
    "OrderPicked",
    "OrderReserved",
    "OrderCancelled",
    "BalanceChanged",
    "AvailableBalanceChanged",
    "OrderDeliveryDataChanged",
    "PurchasePartiallyDelivered",
    "PurchaseCancelled",
    "PurchaseDelivered",
    "ProductCreated",
    "ProductChanged",
    "OrderCreated",
    "CustomerCreated",
    "CustomerChanged",
    "OfferCreated",
    "OfferChanged",
    "CustomerInvoiceCreated",
    "CustomerInvoiceChanged",
)


@dataclass(slots=True, frozen=True)
class DomainEvent:
    action: str
    details: dict[str, Any]
    warehouse_number: str | None
    at_ms: int
    origin: str | None = None  # what caused it, when the fake knows (e.g. "storm:S1"), for attribution
