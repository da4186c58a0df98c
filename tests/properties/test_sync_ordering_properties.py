"""The reference sync against the real fake: however its hooks are ordered, duplicated or retried, and
however its ProductAvailability answers are ordered, it ends with exactly the truth.

The fake is the pytest plugin's session server (real HTTP on loopback, virtual clock, production quirks on),
reset for every example. It delivers its signed ``AvailableBalanceChanged`` hooks to a recording loopback
receiver; the test hands those exact bytes (or a later attempt of the same ``Id``, re-signed) to the sync's own
receiver endpoint in an order hypothesis chooses, with duplicates, interleaved with more changes, with the
sync's flushes (its step methods, on a ManualClock; single-item reads, modifiedDateFrom passes or both, as drawn),
with changes that land while a ProductAvailability read is in flight, and with restarts of the sync on its
database. No reconciliation pass runs after the initial load, so the final view comes from hook-triggered
reads alone.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import hypothesis.strategies as st
import orjson
import pytest
from hypothesis import event, given

from contracts.pytest_plugin import XtndFake
from mock_xtnd.server import ServerThread
from reference_sync.app import Service, build_service, create_app
from reference_sync.clock import ManualClock
from reference_sync.config import SyncConfig
from reference_sync.store import Store
from tests.reference_sync.rsync_doubles import sign
from tests.support.receiver import Received, Receiver

SIGNATURE_HEADER = "ms-signature"
SECRET = "ordering-secret"
PRODUCTS = 5  # of the session fake's catalogue: few, so changes collide on the same items
WAREHOUSES = ("1", "2")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """Records the fake's signed hooks (answers 204); the test forwards them to the sync itself."""
    r = Receiver()
    with r:
        yield r


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


class InFlight(httpx.AsyncBaseTransport):
    """The sync's transport to the fake, with a seam: a callback run while a ProductAvailability call (a
    single-item read or a page of a pass) is in flight, either before the fake answers or after it answered and
    before the sync sees the answer."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.armed: tuple[bool, Callable[[httpx.Request], Awaitable[None]]] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        armed = self.armed if "/ProductAvailability" in request.url.path else None
        if armed is None:
            return await self.inner.handle_async_request(request)
        self.armed = None
        after_answer, during = armed
        if not after_answer:
            await during(request)
        response = await self.inner.handle_async_request(request)
        await response.aread()
        if after_answer:  # the answer predates this change, whose hook is accepted before the answer lands
            await during(request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def later_attempt(body: bytes, attempt: int) -> tuple[bytes, str]:
    """The same delivery's later attempt, as XTND sends it: same Id and notifications, Attempt counted up,
    serialised the same way and re-signed."""
    envelope = orjson.loads(body)
    envelope["Attempt"] = attempt
    again = orjson.dumps(envelope, option=orjson.OPT_INDENT_2)
    return again, sign(SECRET, again)


steps = st.lists(
    st.one_of(
        # a back-office stock count, the fake's clock advanced first (0 ms: two changes in one millisecond)
        st.tuples(st.just("change"), st.integers(0, PRODUCTS - 1), st.sampled_from(WAREHOUSES),
                  st.integers(0, 12), st.sampled_from([0, 0, 1, 250, 1500])),
        # a webshop order reserving stock (AvailableBalanceChanged without BalanceChanged)
        st.tuples(st.just("order"), st.integers(0, PRODUCTS - 1), st.sampled_from(WAREHOUSES),
                  st.integers(1, 3), st.sampled_from([0, 1, 250])),
        st.tuples(st.just("deliver")),
        st.tuples(st.just("flush")),
        st.tuples(st.just("restart")),  # the shop restarts: only what its database kept is still pending
        # a flush during which a stock count lands (before the fake answers, or after: the answer predates it)
        # of a pair that fetch asks about or of any pair, perhaps with a restart right after
        st.tuples(st.just("in-flight"), st.integers(0, PRODUCTS - 1), st.sampled_from(WAREHOUSES),
                  st.integers(0, 12), st.booleans(), st.booleans(), st.booleans()),
    ),
    min_size=1,
    max_size=16,
)


@given(plan=steps, single_reads_max=st.sampled_from([0, 5, 100]), data=st.data())
def test_the_sync_ends_with_the_truth_whatever_the_hook_order(
    fake: XtndFake, receiver: Receiver, plan: list[tuple[Any, ...]], single_reads_max: int, data: st.DataObject
) -> None:
    """``single_reads_max``: 0, every read is a modifiedDateFrom pass; 100, every read is item by item; 5, both."""
    fake.reset()
    fake.subscribe(receiver.url, SECRET, name="shop", triggers=["AvailableBalanceChanged"])
    receiver.received.clear()  # idle between examples
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_run_the_sync(fake, receiver, plan, single_reads_max, data, Path(tmp)))


async def _run_the_sync(
    fake: XtndFake,
    receiver: Receiver,
    plan: list[tuple[Any, ...]],
    single_reads_max: int,
    data: st.DataObject,
    tmp: Path,
) -> None:
    world = _World(fake, receiver, data, tmp, single_reads_max)
    try:
        await world.sync.availability_pass()  # the initial load; after it, only hooks bring news
        products = sorted({b["productNumber"] for b in fake.state()["balances"]})[:PRODUCTS]
        fired = 0
        for step in plan:
            kind = step[0]
            if kind == "change":
                _, p, warehouse, on_hand, ms = step
                fake.advance(ms / 1000)
                world.count(products[p], warehouse, on_hand)
            elif kind == "order":
                _, p, warehouse, qty, ms = step
                fake.advance(ms / 1000)
                world.order(products[p], warehouse, qty)
            elif kind == "deliver":
                await world.deliver_some()
            elif kind == "flush":
                world.clock.advance(world.config.balance_max_wait)
                await world.sync.flush_balances()
            elif kind == "restart":
                await world.restart()
            else:
                _, p, warehouse, on_hand, after_answer, fetched_pair, then_restart = step

                async def during(request: httpx.Request | None, p: int = p, warehouse: str = warehouse,
                                 on_hand: int = on_hand, fetched_pair: bool = fetched_pair) -> None:
                    product = products[p]
                    segments = request.url.raw_path.decode().split("?")[0].split("/") if request else []
                    if fetched_pair and segments[-3:-2] == ["ProductAvailability"]:  # the item this read asks for
                        product, warehouse = unquote(segments[-2]), unquote(segments[-1])
                    world.count(product, warehouse, on_hand)
                    await world.deliver_new_at_once()

                if not world.sync.coalescer.pending_pairs:  # give the flush something to read
                    world.count(products[p], warehouse, on_hand + 1)
                    await world.deliver_new_at_once()
                world.transport.armed = (after_answer, during)
                await world.sync.flush_balances()
                if world.transport.armed is not None:  # nothing was pending, so no fetch: an ordinary change
                    world.transport.armed = None
                    await during(None)
                else:
                    fired += 1
                if then_restart:  # a crash right after the fetch: only the database knows what is pending
                    await world.restart()
        await world.deliver_new_at_once()
        sync, store = world.sync, world.service.store
        for _ in range(5):
            if not (sync.coalescer.pending_pairs or store.pending_balances()):
                break
            world.clock.advance(world.config.balance_max_wait)
            await sync.flush_balances()
        assert not store.pending_balances(), "reads still pending after every hook was followed"

        truth = _balances(fake.state())
        view = _balances(sync.probe())
        wrong = {k: (view.get(k), v) for k, v in truth.items() if view.get(k) != v}
        assert not wrong and view.keys() == truth.keys(), f"(view, truth) differ for {wrong}"
        accepted = store.db.execute("SELECT count(*) FROM deliveries").fetchone()[0]
        assert accepted == len(world.ids_sent), "every delivery Id is accepted exactly once"
        event(f"changes landing mid-fetch: {fired}")
        event(f"restarts: {'some' if world.restarts else 'none'}")
    finally:
        await world.close()


class _World:
    """The moves the steps make, and the pool of the fake's hook bodies not yet handed to the sync."""

    def __init__(
        self, fake: XtndFake, receiver: Receiver, data: st.DataObject, tmp: Path, single_reads_max: int
    ) -> None:
        self.fake, self.receiver, self.data = fake, receiver, data
        self.api = fake.api()
        self.clock = ManualClock()
        self.config = SyncConfig(api_url=fake.api_url, username=fake.username, password=fake.password,
                                 webhook_secret=SECRET, db_path=str(tmp / "shop.db"), order_prefix="WEB-ORD",
                                 single_reads_max=single_reads_max)
        self.seen = 0  # hooks taken from the receiver so far
        self.pending: list[Received] = []  # made by the fake, not yet given to the sync
        self.given: list[Received] = []  # given to the sync at least once
        self.ids_sent: set[str] = set()
        self.orders = 0
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        """The sync's service on its database file (a restart: what was only in memory is gone)."""
        self.transport = InFlight()
        self.service: Service = build_service(
            self.config, http=httpx.AsyncClient(transport=self.transport, base_url=self.fake.api_url),
            clock=self.clock, rng=random.Random(0))
        self.sync = self.service.sync
        shop_app = create_app(self.service, run_worker=False)
        self.shop = httpx.AsyncClient(transport=httpx.ASGITransport(app=shop_app), base_url="http://shop")

    async def restart(self) -> None:
        await self.shop.aclose()
        await self.service.aclose()
        self.restarts += 1
        self._start()

    async def close(self) -> None:
        self.api.close()
        await self.shop.aclose()
        await self.service.aclose()

    def count(self, product: str, warehouse: str, on_hand: int) -> None:
        self.fake.stock(product, warehouse, physical_balance=on_hand)
        self._collect()

    def order(self, product: str, warehouse: str, qty: int) -> None:
        self.orders += 1
        body = {
            "orderHeader": {"orderNumberExternal": f"OTHER-{self.orders}", "customerNumber": "10001"},
            "orderRows": [{"product": {"productNumber": product}, "warehouse": warehouse,
                           "salesData": {"quantity": qty, "unit": "st", "unitPrice": 1.0, "currency": "SEK"}}],
        }
        r = ok_or_final(lambda: self.api.post("CustomerOrders", json=body))
        assert r.status_code in (200, 400), r.text  # 400: not sellable; nothing changed
        self._collect()

    def _collect(self) -> None:
        self.fake.advance(0)  # returns once the fake's due deliveries were answered
        new = self.receiver.received[self.seen:]  # the receiver records a hook before answering it
        self.seen += len(new)
        # parallel senders make the arrival order vary from run to run; hypothesis chooses the order instead
        self.pending += sorted(new, key=lambda r: str(r.json["Id"]))

    async def _give(self, hook: Received, attempt: int | None = None) -> None:
        body, signature = hook.body, hook.headers[SIGNATURE_HEADER]
        if attempt is not None:
            body, signature = later_attempt(body, attempt)
        headers = {SIGNATURE_HEADER: signature, "Content-Type": "application/json"}
        r = await self.shop.post("/xtnd/webhooks", content=body, headers=headers)
        assert r.status_code == 204, (r.status_code, r.text)
        self.ids_sent.add(hook.json["Id"])
        if hook not in self.given:
            self.given.append(hook)

    async def _give_in_drawn_order(self, fresh: list[Received]) -> None:
        """``fresh`` in a drawn order, mixed with drawn repeats of earlier hooks (duplicates or retries)."""
        repeats = []
        if self.given:
            again = st.tuples(st.sampled_from(self.given), st.sampled_from([None, 2, 3]))
            repeats = self.data.draw(st.lists(again, max_size=3))
        order = self.data.draw(st.permutations([(h, None) for h in fresh] + repeats))
        for hook, attempt in order:
            await self._give(hook, attempt)

    async def deliver_some(self) -> None:
        chosen = self.data.draw(st.sets(st.sampled_from(range(len(self.pending))))) if self.pending else set()
        fresh = [h for i, h in enumerate(self.pending) if i in chosen]
        self.pending = [h for i, h in enumerate(self.pending) if i not in chosen]
        await self._give_in_drawn_order(fresh)

    async def deliver_new_at_once(self) -> None:
        fresh, self.pending = self.pending, []
        await self._give_in_drawn_order(fresh)


def _balances(view: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(b["productNumber"], b["warehouse"]): b["availableBalanceNow"] for b in view["balances"]}


def ok_or_final(send: Callable[[], httpx.Response]) -> httpx.Response:
    """The test's own calls, with the production quirk on: a transient 400 (deadlock, timeout) is sent again."""
    for _ in range(10):
        r = send()
        if r.status_code != 400 or not any(m in r.text.lower() for m in ("deadlock", "timeout expired")):
            return r
    raise AssertionError(f"10 transient 400s in a row: {r.text}")


# -------------------------------------------------------------------------------------- answers out of order
@given(
    changes=st.lists(
        st.tuples(st.integers(0, PRODUCTS - 1), st.sampled_from(WAREHOUSES), st.integers(0, 12),
                  st.integers(1, 2000), st.sets(st.integers(0, PRODUCTS - 1), min_size=1)),
        min_size=1, max_size=8),
    data=st.data(),
)
def test_answers_applied_in_any_order_keep_the_newest_row(
    fake: XtndFake, changes: list[tuple[int, str, int, int, set[int]]], data: st.DataObject
) -> None:
    """Real ProductAvailability answers, fetched after each change, applied to the sync's store in any order
    (an older answer after a newer one, some twice): apply-by-ChangedAt ends on the truth.

    Every change moves the clock on by at least 1 ms. Two changes in one millisecond share a ChangedAt, and
    the store lets the later-applied of equals win on purpose (store.py: the answer fetched later saw both),
    so only arrival order can tell such versions apart; the sync applies its answers as they arrive."""
    fake.reset()
    api = fake.api()
    try:
        def rows_of(params: dict[str, Any]) -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            page = 1
            while True:
                query = {**params, "pageNumber": page}
                r = ok_or_final(lambda query=query: api.get("ProductAvailability", params=query))  # type: ignore[misc]
                assert r.status_code == 200, r.text
                rows += r.json()["productAvailabilityList"]
                if r.json()["paginationInfo"]["currentPage"] >= r.json()["paginationInfo"]["totalPages"]:
                    return rows
                page += 1

        def answer(products: list[str] | None = None) -> list[dict[str, Any]]:
            if not products:
                return rows_of({})
            return [row for p in products for row in rows_of({"productNumber": p})]

        answers = [answer()]
        products = sorted({row["productNumber"] for row in answers[0]})[:PRODUCTS]
        for p, warehouse, on_hand, ms, asked in changes:
            fake.advance(ms / 1000)
            fake.stock(products[p], warehouse, physical_balance=on_hand)
            answers.append(answer([products[i] for i in sorted(asked)]))
        answers.append(answer())  # a final full read: the newest version of every row is in some answer
        truth = _balances(fake.state())
    finally:
        api.close()

    order = data.draw(st.permutations(range(len(answers))))
    again = data.draw(st.lists(st.sampled_from(range(len(answers))), max_size=4))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "shop.db")
        try:
            for i in [*order, *again]:
                with store.transaction():
                    store.apply_balances(answers[i])
            view = {(p, w): b for p, w, b, _ in store.balances()}
        finally:
            store.close()
    wrong = {k: (view.get(k), v) for k, v in truth.items() if view.get(k) != v}
    assert not wrong, f"(store, truth) differ after applying answers in the order {order} + {again}: {wrong}"
