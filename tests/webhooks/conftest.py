"""Webhook tests: an in-process fake on a virtual clock, driven only through its public surfaces (HTTP API and
/_mock admin), delivering to a REAL threaded HTTP receiver on a loopback port (tests/support/receiver.py).

Time moves only through ``POST /_mock/clock/advance``, which returns after the attempts that fell due have
finished, so nothing here sleeps or polls.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.domain.events import ACTIONS
from mock_xtnd.settings import CatalogueSettings, Settings, SubscriptionSettings
from tests.support.receiver import Received, Receiver
from tests.support.xtnd import API, assert_invalid, assert_message, basic

__all__ = ["API", "assert_invalid", "assert_message"]

SECRET = "whsec-Ünïcode key"  # non-ASCII on purpose: the key is the secret's UTF-8 bytes
START = "2026-01-05T08:00:00.000Z"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SIGNATURE = re.compile(r"^sha256=[0-9A-F]{64}$")


def hand_signature(secret: str, body: bytes) -> str:
    """XTND's documented algorithm, written out here independently of mock_xtnd.webhooks.signing."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest().upper()


def subscription(url: str, name: str = "shop", *, triggers: list[str] | tuple[str, ...] = ACTIONS,
                 secret: str = SECRET, **extra: Any) -> SubscriptionSettings:
    return SubscriptionSettings(name=name, callback_url=url, secret=secret, triggers=list(triggers), **extra)


def fake_settings(*subs: SubscriptionSettings, **extra: Any) -> Settings:
    """A small catalogue (fast to seed), virtual clock, seed 1."""
    extra.setdefault("catalogue", CatalogueSettings(products=30, warehouses=3, customers=10))
    extra.setdefault("clock", "virtual")
    extra.setdefault("seed", 1)
    extra.setdefault("quirks", {"transient_errors": 0})  # the transient-400 quirk is not what these tests are about
    return Settings(subscriptions=list(subs), **extra)


class Fake:
    """A TestClient on one app, with the admin moves the webhook tests use."""

    def __init__(self, client: TestClient) -> None:
        self.c = client

    # ---------------------------------------------------------------- back office
    def products(self) -> list[str]:
        """Product numbers of the seeded catalogue, in a stable order."""
        rows = self.ok(self.c.get("/_mock/state"))["balances"]
        return sorted({b["productNumber"] for b in rows})

    def stock(self, product: str, warehouse: str = "1", delta: int = 1) -> dict[str, Any]:
        """A back-office stock move; answers the item's ProductAvailability (physicalBalance, availableBalanceNow)."""
        return self.ok(self.c.post("/_mock/stock", json={"productNumber": product, "warehouse": warehouse,
                                                          "balanceDifference": delta}))

    def advance(self, seconds: float) -> str:
        now: str = self.ok(self.c.post("/_mock/clock/advance", json={"seconds": seconds}))["now"]
        return now

    def settle(self) -> None:
        """Let every attempt due now finish (advance by zero)."""
        self.advance(0)

    def now(self) -> str:
        now: str = self.ok(self.c.get("/_mock/clock"))["now"]
        return now

    # ---------------------------------------------------------------- the API (ExtendBasicAuthorization)
    def api(self, method: str, resource: str, **kw: Any) -> Any:
        """``METHOD /RESTAPI/v1_0/demo/<resource>`` as the default user; XTND answers 200 to every success."""
        r = self.c.request(method, f"{API}/{resource}", headers=basic(), **kw)
        assert r.status_code == 200, f"{method} {resource}: {r.status_code} {r.text[:500]}"
        return r.json()

    # ---------------------------------------------------------------- delivery log, journal, faults
    def deliveries(self, **params: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.ok(self.c.get("/_mock/deliveries", params=params))["items"]
        return items

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        d: dict[str, Any] = self.ok(self.c.get(f"/_mock/deliveries/{delivery_id}"))
        return d

    def journal(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.ok(self.c.get("/_mock/journal", params={"kind": "delivery"}))["items"]
        return items

    def set_faults(self, **body: Any) -> dict[str, Any]:
        plan: dict[str, Any] = self.ok(self.c.put("/_mock/faults/deliveries", json=body))
        return plan

    @staticmethod
    def ok(r: Any) -> Any:
        assert 200 <= r.status_code < 300, f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:500]}"
        return r.json()


@contextmanager
def running(settings: Settings) -> Iterator[Fake]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield Fake(c)


def actions_of(received: list[Received]) -> list[str]:
    return [n["Action"] for r in received for n in r.json["Notifications"]]


def verifies(r: Received, secret: str = SECRET) -> bool:
    return r.headers.get("ms-signature") == hand_signature(secret, r.body)


@contextmanager
def serving(policy: Callable[[Received], int] | None = None) -> Iterator[Receiver]:
    """``with Receiver(policy)``, but polling for shutdown every 20 ms instead of socketserver's default 0.5 s,
    which would otherwise be half a second of every test's teardown."""
    r = Receiver(policy)
    with r:
        yield r


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving() as r:
        yield r


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback port that refuses connections: bound (so nobody else takes it) but not listening."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{s.getsockname()[1]}/xtnd/webhooks"
    finally:
        s.close()


def statuses(*codes: int) -> Callable[[Received], int]:
    """A receiver policy answering ``codes`` in turn per envelope Attempt (1 -> codes[0], ...), last one repeated."""

    def policy(r: Received) -> int:
        attempt = int(r.json["Attempt"])
        return codes[min(attempt, len(codes)) - 1]

    return policy
