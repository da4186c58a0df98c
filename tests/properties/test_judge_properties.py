"""The judge over the fake's own journal (tests/contract/test_rules_properties.py covers hand-built ones):

(a) a client that fetches products no hook explains, beyond the budget, is flagged by
    ``no-per-product-polling``, and only for those fetches: real API calls and real hooks against the pytest
    plugin's session fake;
(b) the reference sync never is: hypothesis-drawn hook storms (size, shape, products, warehouses, delivery
    faults, how often the sync flushes and reconciles) hit the real sync in-process, its receiver served on a
    loopback port so the fake's signed deliveries reach it directly, and the fake's journal is judged.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import hypothesis.strategies as st
import pytest
import uvicorn
from hypothesis import assume, event, given

from contracts.pytest_plugin import XtndFake
from contracts.rules import ApiCall, JudgeContext, Report, judge
from mock_xtnd.server import ServerThread
from reference_sync.app import build_service, create_app
from reference_sync.clock import ManualClock
from reference_sync.config import SyncConfig
from tests.support.receiver import Receiver

SECRET = "judge-secret"
RULE = "no-per-product-polling"


@pytest.fixture(scope="module")
def fake(xtnd_server: ServerThread) -> Iterator[XtndFake]:
    if not xtnd_server.runtime.clock.is_virtual:
        pytest.skip("needs the session fake on its virtual clock")
    f = XtndFake(xtnd_server)
    try:
        yield f
    finally:
        f.reset()  # leave the session's fake as the next test expects it: no subscription, no faults
        f.close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A webhook receiver that acknowledges everything (the polling client's; it does not matter what it does
    with the hooks, only that the fake sent them)."""
    r = Receiver()
    with r:
        yield r


# ------------------------------------------------------------------------------------------ (a) pollers
@given(
    quiet=st.integers(1, 6),  # products that never get a hook
    hooked=st.integers(0, 4),  # products that do, and are fetched right after it (explained: noise)
    polls=st.lists(
        st.tuples(st.floats(0.0, 50.0), st.sets(st.integers(0, 5), max_size=4), st.booleans(),
                  st.sampled_from([(), ("1",), ("1", "2")])),
        min_size=1, max_size=14),
    lead=st.sampled_from([0.0, 1.0, 45.0, 700.0]),  # from the initial read to the first poll
    data=st.data(),
)
def test_unexplained_fetches_beyond_the_budget_are_flagged(
    fake: XtndFake, receiver: Receiver, quiet: int, hooked: int,
    polls: list[tuple[float, set[int], bool, tuple[str, ...]]], lead: float, data: st.DataObject,
) -> None:
    # the quiet products' reads, all inside one 54 s span, are what the budget is about (one per warehouse read)
    unexplained = sum(len({i % quiet for i in chosen}) * max(1, len(wh)) for _, chosen, _, wh in polls)
    assume(unexplained > 0)
    # the rule's default budget (10) when it is exceeded, else a budget drawn below the count
    budget = None if unexplained > 10 and data.draw(st.booleans()) else data.draw(
        st.integers(0, min(10, unexplained - 1)))
    fake.reset()
    fake.quirks(transientErrors=0)  # a transient 400 would make a read a retry, which is explained
    fake.subscribe(receiver.url, SECRET, triggers=("AvailableBalanceChanged", "BalanceChanged"))
    products = sorted({b["productNumber"] for b in fake.state()["balances"]})
    quiet_products, hooked_products = products[:quiet], products[quiet:quiet + hooked]
    api = fake.api()
    try:
        def fetch(names: list[str], warehouses: tuple[str, ...] = ()) -> None:
            """Single-item reads: ``ProductAvailability/{pn}/{wh}`` for a warehouse, else ``?productNumber=``."""
            for name in names:
                if warehouses:
                    for warehouse in warehouses:
                        r = api.get(f"ProductAvailability/{quote(name, safe='')}/{warehouse}")
                        assert r.status_code == 200, r.text
                else:
                    r = api.get("ProductAvailability", params={"productNumber": name})
                    assert r.status_code == 200, r.text

        fetch(quiet_products + hooked_products)  # the initial read of every product is free
        fake.advance(lead)
        elapsed = 0.0  # since the first poll: every poll falls inside one budget window
        for offset, chosen, with_hooked, warehouses in sorted(polls, key=lambda p: p[0]):
            fake.advance(max(0.0, offset - elapsed))
            elapsed = max(elapsed, offset)
            names = sorted({quiet_products[i % quiet] for i in chosen})
            hooked_read: tuple[str, str] | None = None
            if with_hooked and hooked_products:
                # a hook about a hooked item, then a read of it: explained, however it is mixed in
                product = data.draw(st.sampled_from(hooked_products))
                warehouse = warehouses[0] if warehouses else data.draw(st.sampled_from(["1", "2"]))
                fake.stock(product, warehouse, balance_difference=data.draw(st.integers(1, 5)))
                delay = data.draw(st.sampled_from([0.0, 0.25]))
                fake.advance(delay)
                elapsed += delay
                hooked_read = (product, warehouse)
            split = data.draw(st.integers(0, len(names)))  # where the hooked read falls among the others
            fetch(names[:split], warehouses)
            if hooked_read is not None:
                fetch([hooked_read[0]], (hooked_read[1],))
            fetch(names[split:], warehouses)
    finally:
        api.close()

    overrides = {RULE: {"budget": budget}} if budget is not None else None
    result = fake.judge(overrides=overrides).result(RULE)
    assert result.status == "failed", f"{unexplained} unexplained fetches, budget {budget}: {result.message}"
    quiet_set = set(quiet_products)
    for violation in result.violations:
        # only fetches naming a product no hook explained are held against the client
        calls = [r for r in violation.records if isinstance(r, ApiCall)]
        assert calls and all(set(c.product_numbers) & quiet_set for c in calls), violation.explanation


# ------------------------------------------------------------------------------------------ (b) the sync
storms = st.lists(
    st.fixed_dictionaries(
        {"shape": st.sampled_from(["constant", "burst", "poisson", "ramp"]),
         "rate": st.sampled_from([2, 20, 200]), "count": st.integers(1, 40),
         "skew": st.sampled_from(["uniform", "zipf"])},
        optional={"products": st.integers(1, 12), "warehouses": st.sampled_from([["1"], ["2", "3"]])},
    ),
    min_size=1, max_size=3,
)
delivery_faults = st.sampled_from([
    {},
    {"duplicate": 0.3, "reorderWindowSeconds": 5},
    {"tamperSignature": 0.3, "drop": 0.2},
    {"batch": 3, "duplicate": 0.2},
])


@given(
    storms=storms,
    faults=delivery_faults,
    tick=st.sampled_from([0.3, 1.0, 5.0, 10.0]),  # fake time between the sync's flushes during a storm
    gaps=st.lists(st.sampled_from([0.0, 2.0, 30.0, 90.0]), min_size=3, max_size=3),  # after each storm
    reconcile=st.booleans(),  # the changedSince pass every 60 s that heals missed hooks
)
def test_the_reference_sync_is_never_flagged(
    fake: XtndFake, storms: list[dict[str, Any]], faults: dict[str, Any], tick: float, gaps: list[float],
    reconcile: bool,
) -> None:
    fake.reset()
    fake.quirks(transientErrors=0)  # the sync retries transient 400s; this test is about hooks and polling
    with tempfile.TemporaryDirectory() as tmp:
        run = asyncio.run(_storm_the_sync(fake, storms, faults, tick, gaps, reconcile, Path(tmp)))
    report = run.report
    polling = report.result(RULE)
    # passed - or not applicable when the sync read only modifiedDateFrom lists (nothing one by one to judge)
    assert polling.status == "passed" or (polling.status == "not_applicable" and not run.single_reads), (
        f"{RULE}: {polling.message}\n{report.to_text()}")
    event(f"single-item reads: {'some' if run.single_reads else 'none'}")
    triggers = report.result("hooks-are-triggers")
    acknowledged = [d for d in run.deliveries
                    if d["outcome"] == "delivered" and d["fault"] != "tampered-signature"]
    # not applicable only when the fault plan let no hook through at all
    assert triggers.status == "passed" or (triggers.status == "not_applicable" and not acknowledged), (
        f"hooks-are-triggers: {triggers.message}\n{report.to_text()}")
    dead = any(r["outcome"] == "dead" for r in run.deliveries)
    if reconcile or not dead:  # a hook the fake gave up on is healed by the changedSince pass, when it runs
        wrong = {k: (run.view.get(k), v) for k, v in run.truth.items() if run.view.get(k) != v}
        assert not wrong, f"(view, truth) differ: {wrong}"
    event(f"hooks judged: {min(triggers.checked, 100) // 25 * 25}+")
    event(f"dead-lettered hooks: {'some' if dead else 'none'}")


@dataclass
class StormRun:
    report: Report
    deliveries: list[dict[str, Any]]  # the journal's delivery records
    view: dict[tuple[str, str], int]
    truth: dict[tuple[str, str], int]
    single_reads: int  # the sync's single-item reads (GET ProductAvailability/{pn}/{wh} and the like)


async def _storm_the_sync(
    fake: XtndFake, storms: list[dict[str, Any]], faults: dict[str, Any], tick: float, gaps: list[float],
    reconcile: bool, tmp: Path,
) -> StormRun:
    config = SyncConfig(api_url=fake.api_url, username=fake.username, password=fake.password,
                        webhook_secret=SECRET, db_path=str(tmp / "shop.db"), order_prefix="WEB-JDG")
    clock = ManualClock()
    http = httpx.AsyncClient(base_url=fake.api_url, timeout=30)
    service = build_service(config, http=http, clock=clock, rng=random.Random(0))
    sync = service.sync
    shop_app = create_app(service, run_worker=False)
    server = uvicorn.Server(
        uvicorn.Config(shop_app, host="127.0.0.1", port=0, lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve())
    # the fake waits for the sync's answers while it delivers, so every admin call here must be async
    admin = httpx.AsyncClient(base_url=fake.base_url, timeout=60)
    try:
        for _ in range(2000):  # a bounded wait for the loopback port (10 s at most)
            if server.started or serving.done():
                break
            await asyncio.sleep(0.005)
        assert server.started, "the sync's receiver did not start"
        port = server.servers[0].sockets[0].getsockname()[1]

        async def call(method: str, path: str, body: dict[str, Any]) -> Any:
            r = await admin.request(method, path, json=body)
            assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
            return r.json()

        await call("POST", "/_mock/webhooks", {
            "name": "shop", "callbackUrl": f"http://127.0.0.1:{port}/xtnd/webhooks", "secret": SECRET,
            "triggers": ["AvailableBalanceChanged", "BalanceChanged", "OrderCreated", "OrderPicked"]})
        if faults:
            await call("PUT", "/_mock/faults/deliveries", faults)
        await sync.availability_pass()  # the initial load
        since_reconcile = 0.0

        async def run_for(seconds: float, step: float) -> None:
            """Fake time passes in steps; after each, the sync does what its loops would have done by then
            (its balance window is 0.3 s, so a step is how late it may be)."""
            nonlocal since_reconcile
            left = seconds
            while left > 1e-9:
                now = min(step, left)
                await call("POST", "/_mock/clock/advance", {"seconds": now})
                clock.advance(now)
                left -= now
                since_reconcile += now
                await sync.flush_balances()
                if reconcile and since_reconcile >= config.reconcile_interval:
                    since_reconcile = 0.0
                    await sync.availability_pass()

        quiet_step = max(tick, 10.0)  # between storms only retries arrive: coarser steps save time
        for storm, gap in zip(storms, gaps, strict=False):
            started = await call("POST", "/_mock/storm", storm)
            await run_for(float(started["plannedDurationSeconds"]) + 0.5, tick)
            await run_for(gap, quiet_step)
        retried = "tamperSignature" in faults or "drop" in faults
        await run_for(310.0 if retried else 10.0, quiet_step)  # past every retry (1 and 4 min) and reorder
        while sync.coalescer.pending_pairs:
            await sync.flush_balances()

        records = (await admin.get("/_mock/journal")).json()["items"]
        truth_state = (await admin.get("/_mock/state")).json()
        probe = sync.probe()
        report = judge(JudgeContext(records, user=fake.username, probe=probe, truth=truth_state,
                                    webhooks_enabled=True))
        deliveries = [r for r in records if r["kind"] == "delivery"]
        single = sum(1 for c in JudgeContext(records, user=fake.username).calls if c.item_subjects)
        return StormRun(report, deliveries, _balances(probe), _balances(truth_state), single)
    finally:
        await admin.aclose()
        server.should_exit = True
        await serving
        await service.aclose()


def _balances(view: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(b["productNumber"], b["warehouse"]): b["availableBalanceNow"] for b in view["balances"]}
