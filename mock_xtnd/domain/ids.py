"""Deterministic identifiers. One seed reproduces every id; counters (persisted with the state) make them
restart-safe without keeping a random generator's internal state."""

from __future__ import annotations

import hashlib
import random


class Ids:
    def __init__(self, seed: int, counters: dict[str, int] | None = None) -> None:
        self.seed = seed
        self.counters: dict[str, int] = dict(counters or {})

    def next(self, stream: str, start: int = 1) -> int:
        value = self.counters.get(stream, start - 1) + 1
        self.counters[stream] = value
        return value

    def _digest(self, stream: str) -> bytes:
        n = self.next(stream)
        return hashlib.sha256(f"{self.seed}/{stream}/{n}".encode()).digest()

    def hex32(self, stream: str) -> str:
        """32 lowercase hex digits: a GUID without dashes (webhook envelope Id)."""
        return self._digest(stream)[:16].hex()

    def guid(self, stream: str) -> str:
        """A GUID with dashes (``Properties.NotificationId``, TraceId)."""
        h = self._digest(stream)[:16].hex()
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"

    def rng(self, stream: str) -> random.Random:
        """A fresh generator for one decision stream, seeded from (seed, stream, counter)."""
        return random.Random(int.from_bytes(self._digest(stream)[:8], "big"))

    def token(self) -> str:
        return self._digest("token").hex()
