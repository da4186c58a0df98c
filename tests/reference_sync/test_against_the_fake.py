"""The reference sync in-process against the real fake (mock_xtnd), API calls over ``httpx.ASGITransport``.

The fake runs on its virtual clock, the sync on a manual one (or on the fake's clock where the judge must see the
sync's waits); the tests drive the sync's steps, so nothing waits on wall-clock time. The webhook test serves the
shop's receiver on an ephemeral loopback port, because the fake delivers hooks over real HTTP;
``POST /_mock/clock/advance`` returns once the due deliveries were answered.

Every test ends with the project's judge over the fake's journal: the sync must keep XTND's code of conduct.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from reference_sync.app import Service, build_service, create_app
from reference_sync.clock import Clock, ManualClock
from reference_sync.config import SyncConfig
from reference_sync.errors import XtndError
from tests.reference_sync.rsync_doubles import SocketLikeASGITransport

mock_app = pytest.importorskip("mock_xtnd.app")
mock_settings = pytest.importorskip("mock_xtnd.settings")

pytestmark = pytest.mark.anyio

HOOK_SECRET = "in-process-secret"
API_URL = "http://xtnd/RESTAPI/v1_0/demo"
ORDER_ACTIONS = ["OrderCreated", "OrderReserved", "OrderPicked", "OrderCancelled", "OrderDeliveryDataChanged"]


@dataclass
class World:
    fake: Any
    admin: httpx.AsyncClient  # the fake's /_mock surface
    shop: httpx.AsyncClient  # the shop's own endpoints, in-process
    service: Service

    @property
    def sync(self) -> Any:
        return self.service.sync

    async def truth(self) -> dict[str, Any]:
        return (await self.admin.get("/_mock/state")).raise_for_status().json()

    async def journal(self, kind: str = "api") -> list[dict[str, Any]]:
        answer = await self.admin.get("/_mock/journal", params={"kind": kind})
        return answer.raise_for_status().json()["items"]

    async def assert_conduct(self, *, webhooks: bool) -> None:
        """The project's judge over the fake's journal: the sync must pass XTND's code of conduct."""
        from contracts.rules import JudgeContext, judge

        records = (await self.admin.get("/_mock/journal")).raise_for_status().json()["items"]
        context = JudgeContext(
            records, user="demo", probe=self.sync.probe(), truth=await self.truth(), webhooks_enabled=webhooks
        )
        report = judge(context)
        assert report.passed, report.to_text()

    async def settle_hooks(self) -> None:
        (await self.admin.post("/_mock/clock/advance", json={"seconds": 0})).raise_for_status()

    async def in_stock(self, warehouse: str, at_least: int = 5) -> list[str]:
        """Products with plenty available in the warehouse, so a pick ships something."""
        rows = (await self.truth())["balances"]
        return [
            b["productNumber"]
            for b in rows
            if b["warehouse"] == warehouse
            and b["availableBalanceNow"] >= at_least
            and b["physicalBalance"] >= at_least
        ]

    async def back_office(self, action: str, order_number: str) -> None:
        (await self.admin.post(f"/_mock/orders/{order_number}/{action}", json={})).raise_for_status()

    async def take_order(self, *rows: tuple[str, int], warehouse: str = "1") -> str:
        body = {"rows": [{"productNumber": p, "quantity": q} for p, q in rows], "warehouse": warehouse}
        taken = await self.shop.post("/xtnd/shop/orders", json=body)
        assert taken.status_code == 202, taken.text
        return str(taken.json()["orderNumberExternal"])

    async def order_of(self, external: str) -> dict[str, Any]:
        [order] = [o for o in (await self.truth())["orders"] if o["orderNumberExternal"] == external]
        return order

    async def assert_view_is_the_truth(self) -> None:
        truth = await self.truth()
        probe = self.sync.probe()
        view = {(b["productNumber"], b["warehouse"]): b["availableBalanceNow"] for b in probe["balances"]}
        real = {(b["productNumber"], b["warehouse"]): b["availableBalanceNow"] for b in truth["balances"]}
        assert view == real
        ours = {o["orderNumber"] for o in probe["orders"]}
        real_orders = {
            o["orderNumber"]: o["orderStatus"] for o in truth["orders"] if o["orderNumber"] in ours
        }
        assert {o["orderNumber"]: o["orderStatus"] for o in probe["orders"]} == real_orders

    async def aclose(self) -> None:
        await self.admin.aclose()
        await self.shop.aclose()
        await self.service.aclose()


async def make_world(
    tmp_path: Path,
    *,
    webhooks: bool,
    transient_errors: float = 0.0,
    clock: Callable[[Any], Clock] = lambda runtime: ManualClock(),
    **overrides: Any,
) -> World:
    settings = mock_settings.Settings(
        clock="virtual",
        catalogue={"products": 60, "warehouses": 2, "customers": 5},
        quirks={"transient_errors": transient_errors},
    )
    fake = mock_app.create_app(settings)
    transport = SocketLikeASGITransport(fake)
    config = SyncConfig(
        **{
            "api_url": API_URL,
            "username": "demo",
            "password": "demo-secret",
            "webhook_secret": HOOK_SECRET,
            "db_path": str(tmp_path / "shop.db"),
            "webhooks": webhooks,
            "order_prefix": "WEB-IT",
            **overrides,
        }
    )
    service = build_service(
        config,
        http=httpx.AsyncClient(transport=transport, base_url=API_URL),
        clock=clock(fake.state.runtime),
        rng=random.Random(3),
    )
    return World(
        fake=fake,
        admin=httpx.AsyncClient(transport=transport, base_url="http://xtnd"),
        shop=httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(service, run_worker=False)), base_url="http://shop"
        ),
        service=service,
    )


@pytest.fixture
async def fallback_world(tmp_path: Path) -> AsyncIterator[World]:
    world = await make_world(tmp_path, webhooks=False)
    await world.fake.state.runtime.start()
    yield world
    await world.fake.state.runtime.stop()
    await world.aclose()


class FakeTime:
    """The sync's clock tied to the fake's virtual clock: when the sync waits, the fake's time passes, so the
    journal shows the waits (Retry-After, back-off) the judge checks."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def now(self) -> float:
        return float(self.runtime.clock.now_ms()) / 1000

    async def sleep(self, seconds: float) -> None:
        await self.runtime.timeloop.advance(max(0, round(seconds * 1000)))

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        await asyncio.sleep(0)
        if not event.is_set() and timeout is not None:
            await self.sleep(timeout)
        return event.is_set()


async def test_fallback_mode_converges_on_the_truth(fallback_world: World) -> None:
    """No webhooks: modifiedDateFrom lists, then single reads of our orders. An order taken by the shop goes to
    XTND, is reserved and picked in the back office, and the shop's view ends equal to the truth."""
    world, sync = fallback_world, fallback_world.sync
    await sync.availability_pass()  # initial load
    in_stock = await world.in_stock("1")
    external = await world.take_order((in_stock[0], 3), (in_stock[1], 1))
    assert await sync.send_due_orders() == 1
    order = await world.order_of(external)
    await world.back_office("reserve", order["orderNumber"])
    await world.back_office("pick", order["orderNumber"])

    await sync.reconcile_orders()
    await sync.read_due_orders()
    await sync.availability_pass()

    await world.assert_view_is_the_truth()
    assert sync.probe()["orders"] == [{"orderNumber": order["orderNumber"], "orderStatus": "Terminated"}]
    [(_, _, _, document)] = world.service.store.orders()
    assert document["orderHeader"]["shipments"] and document["orderHeader"]["shipments"][0]["packages"]

    journal = await world.journal()
    assert all(c["status"] < 400 for c in journal), [c for c in journal if c["status"] >= 400]
    lists = [c for c in journal if c["method"] == "GET" and c["operation"] == "CustomerOrders_GetAllOrders"]
    assert lists and all("modifiedDateFrom" in c["query"] for c in lists)  # never an unfiltered order list
    availability = [c for c in journal if c["resource"] == "ProductAvailability"]
    assert all(c["key"] is None for c in availability)  # never per product without hooks
    assert len([c for c in journal if c["method"] == "POST"]) == 1
    await world.assert_conduct(webhooks=False)


async def test_the_sync_converges_while_the_fake_answers_transient_400s(tmp_path: Path) -> None:
    """The production quirk, often: a fifth of all calls answer 400 with SQL Server's deadlock or timeout
    message. The sync waits and retries exactly those, orders are created once, and the view converges. (The sync
    runs on the fake's clock, so the journal shows its waits.)"""
    world = await make_world(tmp_path, webhooks=False, transient_errors=0.2, clock=FakeTime)
    sync = world.sync
    await world.fake.state.runtime.start()
    try:
        await sync.availability_pass()
        in_stock = await world.in_stock("1")
        externals = [await world.take_order((p, 1)) for p in in_stock[:4]]
        while await sync.send_due_orders():
            pass
        for external in externals:
            await world.back_office("pick", (await world.order_of(external))["orderNumber"])
        await sync.reconcile_orders()
        while await sync.read_due_orders():
            pass
        await sync.availability_pass()

        await world.assert_view_is_the_truth()
        journal = await world.journal()
        transient = [c for c in journal if c["errorKind"] == "Transient"]
        assert transient, "the quirk did not fire: the test proves nothing"
        assert all(c["errorKind"] in (None, "Transient") for c in journal)
        created = [c for c in journal if c["method"] == "POST" and c["status"] == 200]
        assert len(created) == len(externals)
        assert len({o["orderNumber"] for o in sync.probe()["orders"]}) == len(externals)
        await world.assert_conduct(webhooks=False)
    finally:
        await world.fake.state.runtime.stop()
        await world.aclose()


async def _serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started, "the shop's receiver did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, port


async def test_with_webhooks_a_trickle_reads_items_a_storm_one_pass_and_the_view_converges(
    tmp_path: Path,
) -> None:
    # The receiver needs a port before the fake knows where to deliver: serve first, then subscribe.
    world = await make_world(tmp_path, webhooks=True)
    server, task, port = await _serve(create_app(world.service, run_worker=False))
    runtime = world.fake.state.runtime
    await runtime.start()
    try:
        subscribed = await world.admin.post(
            "/_mock/webhooks",
            json={
                "name": "shop",
                "techContactEmail": "dev@example.com",
                "callbackUrl": f"http://127.0.0.1:{port}/xtnd/webhooks",
                "secret": HOOK_SECRET,
                "warehouseFilter": [],
                "active": True,
                "triggers": ["AvailableBalanceChanged", *ORDER_ACTIONS],
            },
        )
        assert subscribed.status_code in (200, 201), subscribed.text
        sync = world.sync
        await sync.availability_pass()  # initial load
        products = sorted({b["productNumber"] for b in (await world.truth())["balances"]})

        # A trickle: two stock moves, two hooks, two single-item reads.
        for product in products[:2]:
            move = {"productNumber": product, "warehouse": "2", "balanceDifference": 3}
            (await world.admin.post("/_mock/stock", json=move)).raise_for_status()
        await world.settle_hooks()
        assert sync.coalescer.pending_pairs == 2
        before = len(await world.journal())
        assert await sync.flush_balances() == 2
        singles = (await world.journal())[before:]
        assert [c["operation"] for c in singles] == ["ProductAvailability_GetSingleProductAvailability"] * 2

        # A burst: twenty items change, one modifiedDateFrom pass reads them all.
        for i, product in enumerate(products[2:22]):
            move = {"productNumber": product, "warehouse": "2", "balanceDifference": 5 + i}
            (await world.admin.post("/_mock/stock", json=move)).raise_for_status()
        await world.settle_hooks()
        assert sync.coalescer.pending_pairs == 20
        before = len(await world.journal())
        assert await sync.flush_balances() == 1
        [burst] = (await world.journal())[before:]
        assert burst["resource"] == "ProductAvailability" and "modifiedDateFrom" in burst["query"]

        product = (await world.in_stock("1"))[0]
        external = await world.take_order((product, 2))
        await sync.send_due_orders()
        await world.settle_hooks()  # OrderCreated and the reservation's AvailableBalanceChanged
        order = await world.order_of(external)
        await world.back_office("pick", order["orderNumber"])  # reserves, then picks
        await world.settle_hooks()
        await sync.flush_balances()
        await sync.read_due_orders()

        await world.assert_view_is_the_truth()
        assert sync.probe()["orders"] == [{"orderNumber": order["orderNumber"], "orderStatus": "Terminated"}]
        journal = await world.journal()
        assert all(c["status"] < 400 for c in journal)
        assert sync.counters.hooks_accepted >= 24
        await world.assert_conduct(webhooks=True)
    finally:
        await runtime.stop()
        server.should_exit = True
        await task
        await world.aclose()


async def test_injected_faults_are_handled_by_kind_and_the_judge_agrees(tmp_path: Path) -> None:
    """The fake loses a POST's answer after committing it, answers ProductAvailability with 429s and a deadlock
    400, and an order read with 500s. The sync looks the order up instead of posting it again, waits Retry-After,
    backs off, and ends equal to the truth."""
    world = await make_world(tmp_path, webhooks=False, clock=FakeTime)
    sync = world.sync
    faults = [
        {"kind": "commit-then-drop", "route": "CustomerOrders_PostNewOrder", "times": 1},
        {"kind": "status", "status": 429, "retryAfter": 5, "route": "ProductAvailability*", "times": 2},
        {"kind": "transient", "message": "deadlock", "route": "ProductAvailability*", "times": 1},
        {"kind": "status", "status": 500, "route": "CustomerOrders_GetOrder", "times": 3},
    ]
    await world.fake.state.runtime.start()
    try:
        for fault in faults:
            (await world.admin.post("/_mock/faults", json=fault)).raise_for_status()
        product = (await world.in_stock("1"))[0]
        external = await world.take_order((product, 1))
        await sync.send_due_orders()  # committed, answer lost
        await sync.send_due_orders()  # not due yet: the back-off
        order = await world.order_of(external)
        await world.back_office("pick", order["orderNumber"])
        await sync.availability_pass()  # meanwhile the 429s and the deadlock
        await FakeTime(world.fake.state.runtime).sleep(world.service.config.resend_backoff)
        await sync.send_due_orders()  # looked up: found, not posted again
        await sync.reconcile_orders()
        await sync.read_due_orders()

        journal = await world.journal()
        posts = [c for c in journal if c["method"] == "POST"]
        assert [(c["status"], c["fault"]) for c in posts] == [(0, "commit-then-drop")]  # committed, no answer
        lookups = [c for c in journal if "orderNumberExternal" in c["query"]]
        assert [c["query"]["orderNumberExternal"] for c in lookups] == [[external]]
        order_gets = [c["status"] for c in journal if c["operation"] == "CustomerOrders_GetOrder"]
        assert order_gets == [500, 500, 500, 200]
        availability = [c["status"] for c in journal if c["resource"] == "ProductAvailability"]
        assert availability[:4] == [429, 429, 400, 200]
        assert sync.probe()["orders"] == [{"orderNumber": order["orderNumber"], "orderStatus": "Terminated"}]
        await world.assert_view_is_the_truth()
        await world.assert_conduct(webhooks=False)
    finally:
        await world.fake.state.runtime.stop()
        await world.aclose()


async def test_wrong_credentials_stop_the_sync_instead_of_hammering(tmp_path: Path) -> None:
    world = await make_world(tmp_path, webhooks=False, password="not-the-password")
    sync = world.sync
    await world.fake.state.runtime.start()
    try:
        for _ in range(3):
            with pytest.raises(XtndError, match="Unauthorized"):
                await sync.availability_pass()
        await world.take_order(("100000", 1))
        await sync.send_due_orders()
        journal = await world.journal()
        assert [c["status"] for c in journal] == [401]
        assert sync.status()["unauthorized"] is not None
    finally:
        await world.fake.state.runtime.stop()
        await world.aclose()
