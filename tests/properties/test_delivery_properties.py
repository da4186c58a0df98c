"""Webhook deliveries under any seeded fault plan, checked at a real loopback receiver.

For a drawn seed and delivery fault plan (duplicates, drops, tampered signatures, batches, a reorder window,
jitter) and a few back-office stock moves and webshop orders, with a retry budget of 7 attempts and the
virtual clock advanced past every retry:

- every notification the fake made reaches the receiver at least once with a signature that verifies, unless
  the fault dice spent the whole budget on it: then its delivery is dead and every attempt carries a planned
  fault;
- every body the receiver got verifies, or its attempt was a planned tamper;
- ``Id`` is the same on every attempt of a delivery, ``Attempt`` counts up per Id (a dropped attempt leaves a
  gap, a duplicate repeats the same number), and each attempt's outcome is exactly what its dice planned.

The plan is recomputed from ``mock_xtnd.faults.deliveries`` (the dice depend only on seed, delivery Id and
attempt), so a label in the delivery log that disagrees with the dice is caught too.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import hypothesis.strategies as st
import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import event, given

from mock_xtnd.app import create_app
from mock_xtnd.domain.events import ACTIONS
from mock_xtnd.faults.deliveries import DeliveryFaults
from mock_xtnd.settings import DeliveryFaultSettings, DeliverySettings, Settings, SubscriptionSettings
from tests.support.receiver import Received, Receiver
from tests.support.xtnd import API, basic, order_body, row

SECRET = "prop-sëcret"  # non-ASCII: the key is the secret's UTF-8 bytes
RETRIES = [1.0] * 6  # 7 attempts in all
BUDGET = 1 + len(RETRIES)
PRODUCTS = 6
WAREHOUSES = ("1", "2")


def verifies(r: Received) -> bool:
    """XTND's documented signature, computed here independently of mock_xtnd.webhooks.signing."""
    expected = "sha256=" + hmac.new(SECRET.encode("utf-8"), r.body, hashlib.sha256).hexdigest().upper()
    return r.headers.get("ms-signature") == expected


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """One loopback receiver for the module: 401 to a signature that does not verify, 204 otherwise.
    Served with a 20 ms shutdown poll (socketserver's default 0.5 s would be dead time at teardown)."""
    r = Receiver(lambda rec: 204 if verifies(rec) else 401)
    with r:
        yield r


fault_plans = st.builds(
    DeliveryFaultSettings,
    duplicate=st.sampled_from([0.0, 0.3, 1.0]) | st.floats(0, 1),
    drop=st.sampled_from([0.0, 0.5]) | st.floats(0, 0.5),
    tamper_signature=st.sampled_from([0.0, 0.5]) | st.floats(0, 0.5),
    batch=st.integers(1, 4),
    reorder_window_seconds=st.sampled_from([0.0, 0.0, 5.0, 60.0]),
    jitter_seconds=st.sampled_from([0.0, 0.0, 0.5, 3.0]),
)

# one back-office stock move or webshop order, after advancing the clock a little
moves = st.one_of(
    st.tuples(st.just("stock"), st.integers(0, PRODUCTS - 1), st.sampled_from(WAREHOUSES), st.integers(1, 20),
              st.integers(0, 5)),
    st.tuples(st.just("order"), st.lists(st.integers(0, PRODUCTS - 1), min_size=1, max_size=3, unique=True),
              st.sampled_from(WAREHOUSES), st.integers(1, 4), st.integers(0, 5)),
)


@given(seed=st.integers(0, 2**31 - 1), plan=fault_plans, steps=st.lists(moves, min_size=1, max_size=5))
def test_every_event_is_delivered_unless_the_plan_spent_its_budget(
    receiver: Receiver, seed: int, plan: DeliveryFaultSettings, steps: list[tuple[Any, ...]]
) -> None:
    receiver.received.clear()  # idle between examples: the last app stopped with nothing in flight
    settings = Settings(
        seed=seed, clock="virtual", catalogue={"products": PRODUCTS, "warehouses": 2, "customers": 2},
        rate_limits={"default": 100_000}, quirks={"transient_errors": 0},
        subscriptions=[SubscriptionSettings(name="shop", callback_url=receiver.url, secret=SECRET,
                                            triggers=list(ACTIONS))],
        delivery=DeliverySettings(retry_delays_seconds=RETRIES), delivery_faults=plan,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        expected_notes = _make_events(c, steps)
        # past every reorder window, jitter and retry: 7 attempts, 1 s apart, each up to 3 s late
        ok(c.post("/_mock/clock/advance", json={"seconds": 600}))
        deliveries = [d for d in ok(c.get("/_mock/deliveries", params={"limit": 100_000}))["items"]
                      if not d["forged"]]
    received = list(receiver.received)

    dice = DeliveryFaults(seed, plan)
    at_receiver: dict[str, list[Received]] = defaultdict(list)
    for r in received:
        at_receiver[r.json["Id"]].append(r)
        # every body verifies, or its attempt was a planned tamper
        assert verifies(r) or dice.for_attempt(r.json["Id"], r.json["Attempt"]).tamper, (
            f"a bad signature that was not planned: Id {r.json['Id']} attempt {r.json['Attempt']}")
    assert set(at_receiver) <= {d["deliveryId"] for d in deliveries}, "the receiver got an Id the fake never made"

    made = Counter(_note_key(n) for d in deliveries for n in d["notifications"])
    assert made == expected_notes, "the fake's notifications differ from the events the moves made"

    delivered_notes: Counter[str] = Counter()
    for d in deliveries:
        did = d["deliveryId"]
        planned = [dice.for_attempt(did, n) for n in range(1, BUDGET + 1)]
        attempts = d["attempts"]
        assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1)), d
        for a, p in zip(attempts, planned, strict=False):
            # a clean attempt may still be labelled reorder, delay or batched: those are not failures
            clean = (a["fault"], 204)
            want = ("drop", None) if p.drop else ("tampered-signature", 401) if p.tamper else clean
            assert (a["fault"], a["status"]) == want, f"attempt {a['attempt']} of {did}: plan {p}, log {a}"
        first_clean = next((n for n, p in enumerate(planned, 1) if not (p.drop or p.tamper)), None)
        if first_clean is None:
            # the dice spent the whole budget: dead, and nothing was lost outside the plan
            assert d["status"] == "dead" and len(attempts) == BUDGET, d
        else:
            assert d["status"] == "delivered" and len(attempts) == first_clean, (first_clean, d)

        got = at_receiver.get(did, [])
        numbers = [r.json["Attempt"] for r in got]
        sent = [n for n in range(1, len(attempts) + 1) if not planned[n - 1].drop]
        # Attempt counts up per Id; a duplicate repeats the same number, a dropped attempt leaves a gap
        assert numbers == sorted(numbers), f"{did}: attempts arrived as {numbers}"
        copies = Counter({n: 2 if planned[n - 1].duplicate else 1 for n in sent})
        assert Counter(numbers) == copies, f"{did}: attempts arrived as {numbers}, planned {copies}"
        for r in got:
            env = r.json
            assert env["Id"] == did and env["Properties"]["NotificationId"] == d["notificationId"]
            assert env["Notifications"] == d["notifications"]
            assert verifies(r) == (not planned[env["Attempt"] - 1].tamper), (did, env["Attempt"])
        if d["status"] == "delivered":
            assert any(verifies(r) and r.json["Attempt"] == len(attempts) for r in got), did
            delivered_notes.update(_note_key(n) for n in d["notifications"])

    dead = [d for d in deliveries if d["status"] == "dead"]
    event(f"dead-lettered by the plan: {'some' if dead else 'none'}")
    event(f"attempts per delivery, at most: {max((len(d['attempts']) for d in deliveries), default=0)}")
    # nothing in between: each event was delivered with a good signature, or its delivery is dead by plan
    dead_notes = Counter(_note_key(n) for d in dead for n in d["notifications"])
    assert delivered_notes + dead_notes == expected_notes


def _make_events(c: TestClient, steps: list[tuple[Any, ...]]) -> Counter[str]:
    """Run the moves; return the notifications they must have made."""
    state = ok(c.get("/_mock/state", params={"include": "products"}))
    products = sorted(p["productNumber"] for p in state["products"])
    enabled = {p["productNumber"] for p in state["products"] if p["enabled"]}
    available = {(b["productNumber"], b["warehouse"]): b["availableBalanceNow"] for b in state["balances"]}
    expected: Counter[str] = Counter()

    def note(action: str, **details: Any) -> None:
        expected[_note_key({"Action": action, "Details": details})] += 1

    for n, (kind, what, warehouse, qty, gap) in enumerate(steps):
        ok(c.post("/_mock/clock/advance", json={"seconds": gap}))
        if kind == "stock":
            product = products[what]
            item = ok(c.post("/_mock/stock", json={"productNumber": product, "warehouse": warehouse,
                                                   "balanceDifference": qty}))
            note("BalanceChanged", ProductNumber=product, Warehouse=warehouse, Balance=item["physicalBalance"])
            note("AvailableBalanceChanged", ProductNumber=product, Warehouse=warehouse,
                 AvailableBalance=item["availableBalanceNow"])
            available[(product, warehouse)] = item["availableBalanceNow"]
            continue
        lines = [products[i] for i in what if products[i] in enabled]
        if not lines:
            continue
        external = f"WEB-P{n}"
        body = order_body(external, [row(p, qty, warehouse=warehouse) for p in lines])
        order = ok(c.post(f"{API}/CustomerOrders", headers=basic(), json=body))
        note("OrderCreated", OrderNumber=order["orderHeader"]["orderNumber"], OrderNumberExternal=external,
             Warehouse=warehouse)
        for p in lines:  # the allocation: one AvailableBalanceChanged per row
            available[(p, warehouse)] = available.get((p, warehouse), 0) - qty
            note("AvailableBalanceChanged", ProductNumber=p, Warehouse=warehouse,
                 AvailableBalance=available[(p, warehouse)])
    return expected


def _note_key(note: dict[str, Any]) -> str:
    return orjson.dumps(note, option=orjson.OPT_SORT_KEYS).decode()


def ok(r: Any) -> Any:
    assert 200 <= r.status_code < 300, f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:300]}"
    return r.json()
