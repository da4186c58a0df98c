"""Deterministic identifiers. One seed reproduces every id; counters (persisted with the state) make them
restart-safe without keeping a random generator's internal state.

GUID-like ids (``hex32``, ``guid``: webhook envelope Ids, NotificationIds, orderRowIds) also mix in an ``epoch``,
set by the Runtime: under ``--db`` the stored epoch + 1 at every start; for a fresh state 1 under the virtual clock
(reproducible test runs) and the start time in ms under the real one (``id_epoch`` in the config pins it); + 1 at
every reset. Counters start again after a reset, and a fake without ``--db`` starts from nothing, so without it the
same seed would send the same webhook ``Id`` again - and a receiver that de-duplicates on ``Id``, as it should, would
drop a real hook. Within one epoch the ids are as reproducible as ever. Numbers (orders, invoices) and random
streams (``rng``) do not mix it in: after a reset the seeded world starts over, numbering included.
"""

from __future__ import annotations

import hashlib
import random


class Ids:
    def __init__(self, seed: int, counters: dict[str, int] | None = None, epoch: int = 1) -> None:
        self.seed = seed
        self.counters: dict[str, int] = dict(counters or {})
        self.epoch = epoch

    def next(self, stream: str, start: int = 1) -> int:
        value = self.counters.get(stream, start - 1) + 1
        self.counters[stream] = value
        return value

    def _digest(self, stream: str) -> bytes:
        n = self.next(stream)
        return hashlib.sha256(f"{self.seed}/{stream}/{n}".encode()).digest()

    def _unique(self, stream: str) -> bytes:
        n = self.next(stream)
        return hashlib.sha256(f"{self.seed}/{self.epoch}/{stream}/{n}".encode()).digest()

    def hex32(self, stream: str) -> str:
        """32 lowercase hex digits: a GUID without dashes (webhook envelope Id); unique across epochs."""
        return self._unique(stream)[:16].hex()

    def guid(self, stream: str) -> str:
        """A GUID with dashes (``Properties.NotificationId``, orderRowId); unique across epochs."""
        h = self._unique(stream)[:16].hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"

    def rng(self, stream: str) -> random.Random:
        """A fresh generator for one decision stream, seeded from (seed, stream, counter)."""
        return random.Random(int.from_bytes(self._digest(stream)[:8], "big"))

    def token(self) -> str:
        return self._digest("token").hex()
