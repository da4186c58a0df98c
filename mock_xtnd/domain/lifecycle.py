"""The order lifecycle as a transition table (moto's idea): who may move an order from which status to which.

Statuses are XTND's own (CustomerOrderHeaderOrderStatus); the moves between them are chosen by the mock after the
contract's §2 (docs/wire.md, "Order lifecycle"):

    Created --reserve--> Reserved --pick--> Terminated | PartiallyDelivered --pick--> Terminated
    Created | Reserved --cancel--> Annulled;  PartiallyDelivered --cancel--> Terminated (the rest annulled)
"""

from __future__ import annotations

from .errors import refused

# (from, to) -> the actors allowed to make that move
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    ("Created", "Reserved"): frozenset({"backoffice"}),
    ("Reserved", "Terminated"): frozenset({"backoffice"}),
    ("Reserved", "PartiallyDelivered"): frozenset({"backoffice"}),
    ("PartiallyDelivered", "Terminated"): frozenset({"backoffice"}),
    ("PartiallyDelivered", "PartiallyDelivered"): frozenset({"backoffice"}),
    ("Created", "Annulled"): frozenset({"webshop", "backoffice"}),
    ("Reserved", "Annulled"): frozenset({"backoffice"}),
}

# The webshop may change or delete an order only while it is Created; after OrderReserved no change is allowed
# (documented).
EDITABLE_BY_WEBSHOP = frozenset({"Created"})
# A pick is possible from these; a cancel of a PartiallyDelivered order annuls what was not shipped.
PICKABLE = frozenset({"Created", "Reserved", "PartiallyDelivered"})
CANCELLABLE_BY_BACKOFFICE = frozenset({"Created", "Reserved", "PartiallyDelivered"})


def can_move(current: str, target: str, actor: str) -> bool:
    return actor in TRANSITIONS.get((current, target), frozenset())


def check_webshop_edit(order_number: str, current: str) -> None:
    """The webshop's PUT and DELETE: only while Created (400 otherwise, XTND's status for a refused write)."""
    if current not in EDITABLE_BY_WEBSHOP:
        raise refused(f"Order {order_number} is {current} and can no longer be changed.", "orderNumber")


def check_move(order_number: str, current: str, target: str, actor: str) -> None:
    if can_move(current, target, actor):
        return
    if actor == "webshop":
        check_webshop_edit(order_number, current)
    raise refused(f"Order {order_number} cannot move from {current} to {target}.", "orderStatus")
