"""Coalescing AvailableBalanceChanged hooks into few ProductAvailability calls.

XTND fires one hook per change of available balance, and wants it used as a trigger, not as data. Fetching per
hook costs one call per event; fetching per product and window still leaves 0.3-1.0 calls per event in a
storm. What gets a storm down to a few calls per thousand events is *batch reads*: collect the changed
(product, warehouse) pairs for a short window, then ask for up to 200 product numbers in one call.

The window opens with the first pending pair and closes after ``window`` seconds, or at once when
``max_products`` distinct products are pending (a full call's worth: waiting longer only adds lag). An early
flush takes only full calls; the rest starts a new window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .clock import Clock
from .store import ALL_WAREHOUSES, Pair

MAX_PRODUCTS_PER_CALL = 200


@dataclass(frozen=True, slots=True)
class AvailabilityQuery:
    """One ProductAvailability call (plus its further pages, if any)."""

    product_numbers: tuple[str, ...]
    warehouse_numbers: tuple[str, ...]  # empty: every warehouse
    pairs: tuple[Pair, ...]  # the pending pairs this call answers


class BalanceCoalescer:
    def __init__(self, clock: Clock, window: float, max_products: int = MAX_PRODUCTS_PER_CALL) -> None:
        if not 1 <= max_products <= MAX_PRODUCTS_PER_CALL:
            raise ValueError(f"max_products must be 1..{MAX_PRODUCTS_PER_CALL}")
        self.clock = clock
        self.window = window
        self.max_products = max_products
        self._pending: dict[str, set[str]] = {}  # product -> warehouses (ALL_WAREHOUSES: every one)
        self._opened_at: float | None = None
        self._hold_until = 0.0

    def add(self, product_number: str, warehouse_number: str = ALL_WAREHOUSES) -> bool:
        """Note a changed pair. True when this add should wake the flusher: the window just opened, or the
        batch just became full."""
        new_product = product_number not in self._pending
        self._pending.setdefault(product_number, set()).add(warehouse_number)
        if self._opened_at is None:
            self._opened_at = self.clock.now()
            return True
        return new_product and len(self._pending) == self.max_products

    def add_all(self, pairs: Iterable[Pair]) -> bool:
        woke = False
        for product, warehouse in pairs:
            woke = self.add(product, warehouse) or woke
        return woke

    def hold(self, seconds: float) -> None:
        """Do not flush before ``seconds`` from now (after a failed fetch, to give XTND room)."""
        self._hold_until = max(self._hold_until, self.clock.now() + seconds)

    @property
    def pending_products(self) -> int:
        return len(self._pending)

    def due_in(self) -> float | None:
        """Seconds until the next flush is due: None when nothing is pending, 0 when it is due now."""
        if self._opened_at is None:
            return None
        now = self.clock.now()
        if len(self._pending) >= self.max_products:
            return max(0.0, self._hold_until - now)
        return max(0.0, self._opened_at + self.window - now, self._hold_until - now)

    def take(self) -> list[AvailabilityQuery]:
        """The pending pairs as calls of at most ``max_products`` product numbers each, oldest changes first.

        Normally everything goes and the window closes. But when the window is still open and a full call's worth
        is pending (the flush is early *because* it is full), only full calls go: the few products that arrived
        while the flusher was waking up wait in a new window instead of making a call of their own. In a storm that
        halves the calls (a full one and a small remainder each time, before) at no cost in lag: the remainder's
        changes are milliseconds old, and the new window bounds their wait as it bounds any change's.

        Each call filters on the union of its pairs' warehouses (or none, if a pair asks for every warehouse).
        The answer may hold rows nobody asked for; they are applied by ChangedAt like any other, so they are
        free freshness, not harm.
        """
        now = self.clock.now()
        products = list(self._pending)  # insertion order: the oldest pending change first
        window_open = self._opened_at is not None and now < self._opened_at + self.window
        if window_open and len(products) >= self.max_products:
            products = products[: len(products) - len(products) % self.max_products]
        queries = []
        for start in range(0, len(products), self.max_products):
            chunk = sorted(products[start : start + self.max_products])
            pairs = tuple((p, w) for p in chunk for w in sorted(self._pending.pop(p)))
            warehouses = {w for _, w in pairs}
            queries.append(
                AvailabilityQuery(
                    product_numbers=tuple(chunk),
                    warehouse_numbers=() if ALL_WAREHOUSES in warehouses else tuple(sorted(warehouses)),
                    pairs=pairs,
                )
            )
        self._opened_at = now if self._pending else None
        return queries
