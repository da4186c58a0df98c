"""The order lifecycle as a transition table (moto's idea): who may move an order from which status to which."""

from __future__ import annotations

from .errors import DomainError, FieldError

# (from, to) -> the actors allowed to make that move
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    ("Created", "Reserved"): frozenset({"backoffice"}),
    ("Reserved", "Picked"): frozenset({"backoffice"}),
    ("Created", "Cancelled"): frozenset({"webshop", "backoffice"}),
    ("Reserved", "Cancelled"): frozenset({"backoffice"}),
}

# The webshop may edit an order only while it is Created; after OrderReserved no change is allowed (documented).
EDITABLE_BY_WEBSHOP = frozenset({"Created"})


def can_move(current: str, target: str, actor: str) -> bool:
    return actor in TRANSITIONS.get((current, target), frozenset())


def check_move(order_number: str, current: str, target: str, actor: str) -> None:
    if can_move(current, target, actor):
        return
    if actor == "webshop" and current not in EDITABLE_BY_WEBSHOP:
        raise DomainError(
            422,
            f"Order {order_number} is locked: it is {current} and can no longer be changed from the webshop.",
            [FieldError("OrderNumber", f"Order is {current}; only Created orders can be changed or cancelled.")],
        )
    raise DomainError(
        422,
        f"Order {order_number} cannot move from {current} to {target}.",
        [FieldError("Status", f"No transition {current} -> {target} for {actor}.")],
    )
