"""The shop's HTTP surface: the webhook receiver verifies, persists what to fetch, answers 2xx, and nothing more."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest

from reference_sync.app import MAX_HOOK_BYTES, Service, create_app
from tests.reference_sync.rsync_doubles import (
    ServiceFactory,
    XtndDouble,
    balance_hook,
    order_hook,
    sign,
    signed_delivery,
)

pytestmark = pytest.mark.anyio


def shop_client(service: Service) -> httpx.AsyncClient:
    # No lifespan: the worker does not run, so the tests see exactly what the receiver alone did.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(service)), base_url="http://shop")


async def test_a_signed_hook_is_persisted_as_what_to_fetch_and_acknowledged(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    body, headers = signed_delivery("a" * 32, balance_hook("KM 1007", "2", balance=42))
    async with shop_client(service) as shop:
        response = await shop.post("/xtnd/webhooks", content=body, headers=headers)
    assert response.status_code == 204
    assert [pair for pair, _ in service.store.pending_balances()] == [("KM 1007", "2")]
    assert service.sync.coalescer.pending_pairs == 1
    # A trigger, not data: the 42 in the hook is nowhere in the shop's view, and XTND was not called yet.
    assert service.store.balances() == []
    assert xtnd_double.calls == []


@pytest.mark.parametrize(
    "tamper",
    ["missing", "wrong-secret", "body-changed", "garbage", "prefix-only", "no-prefix"],
)
async def test_a_hook_with_a_bad_or_missing_signature_gets_401_and_changes_nothing(
    make_service: ServiceFactory, tamper: str
) -> None:
    service = make_service()
    service.sync.take_shop_order({"rows": [{"productNumber": "P1", "quantity": 1}]})  # WEB-T-000001 is ours
    body, headers = signed_delivery(
        "b" * 32, balance_hook("P1"), order_hook("OrderPicked", "100001", "WEB-T-000001")
    )
    if tamper == "missing":
        del headers["ms-signature"]
    elif tamper == "wrong-secret":
        headers["ms-signature"] = sign("not-the-secret", body)
    elif tamper == "body-changed":
        body = body.replace(b"999", b"998")
    elif tamper == "garbage":
        headers["ms-signature"] = "sha256=" + "Z" * 64
    elif tamper == "prefix-only":
        headers["ms-signature"] = "sha256="
    else:
        headers["ms-signature"] = headers["ms-signature"].removeprefix("sha256=")
    async with shop_client(service) as shop:
        response = await shop.post("/xtnd/webhooks", content=body, headers=headers)
    assert response.status_code == 401
    assert service.store.pending_balances() == []
    assert service.store.due_orders(1e12, 10) == []
    assert service.sync.coalescer.pending_pairs == 0
    # Not even its Id was recorded: the genuine delivery with this Id must still be accepted.
    assert service.store.accept_delivery("b" * 32, 0.0, [], []) is not None


async def test_a_lowercase_copy_of_the_right_signature_is_accepted(make_service: ServiceFactory) -> None:
    service = make_service()
    body, headers = signed_delivery("b" * 32, balance_hook("P1"))
    headers["ms-signature"] = headers["ms-signature"].lower()
    async with shop_client(service) as shop:
        assert (await shop.post("/xtnd/webhooks", content=body, headers=headers)).status_code == 204


async def test_a_duplicate_delivery_is_acknowledged_but_not_acted_on_twice(
    make_service: ServiceFactory,
) -> None:
    service = make_service()
    external = service.sync.take_shop_order({"rows": [{"productNumber": "P1", "quantity": 1}]})
    first, headers = signed_delivery("c" * 32, order_hook("OrderReserved", "100001", external))
    retry, retry_headers = signed_delivery(
        "c" * 32, order_hook("OrderReserved", "100001", external), attempt=2
    )
    async with shop_client(service) as shop:
        assert (await shop.post("/xtnd/webhooks", content=first, headers=headers)).status_code == 204
        assert [o.order_number for o in service.store.due_orders(1e12, 10)] == ["100001"]
        service.store.clear_order("100001", service.store.current_mark())  # the worker read it
        assert (await shop.post("/xtnd/webhooks", content=retry, headers=retry_headers)).status_code == 204
    assert service.store.due_orders(1e12, 10) == []
    assert service.sync.counters.hooks_accepted == 1
    assert service.sync.counters.hooks_duplicate == 1


async def test_each_action_asks_for_the_right_read(make_service: ServiceFactory) -> None:
    service = make_service()
    ours = service.sync.take_shop_order({"rows": [{"productNumber": "P1", "quantity": 1}]})
    body, headers = signed_delivery(
        "d" * 32,
        balance_hook("P1", "1"),
        ("AvailableBalanceChanged", {"ProductNumber": "P9"}),  # no warehouse named: every warehouse of P9
        ("BalanceChanged", {"ProductNumber": "P2", "Warehouse": "1", "Balance": 5}),
        order_hook("OrderPicked", "100007", ours),
        order_hook("OrderCreated", "100008", "OTHER-CHANNEL-7"),  # not the shop's order
        ("ProductChanged", {"ProductNumber": "P3"}),
        ("OfferCreated", {"OfferNumber": "9"}),
        ("SomeActionAddedNextYear", {"Whatever": 1}),
    )
    async with shop_client(service) as shop:
        assert (await shop.post("/xtnd/webhooks", content=body, headers=headers)).status_code == 204
    # BalanceChanged is physical stock: a change to what is available fires its own hook.
    assert sorted(pair for pair, _ in service.store.pending_balances()) == [("P1", "1"), ("P9", "")]
    assert [o.order_number for o in service.store.due_orders(1e12, 10)] == ["100007"]


async def test_hooks_in_flight_together_are_answered_in_parallel_and_share_a_commit(
    make_service: ServiceFactory,
) -> None:
    """The receiver answers each hook as its own task: 50 concurrent deliveries are all persisted, all get 204,
    and they share a few group commits rather than queueing for one each."""
    service = make_service()
    app = create_app(service)
    deliveries = [signed_delivery(f"{i:032x}", balance_hook(f"P{i}")) for i in range(50)]

    async def post(body: bytes, headers: dict[str, str]) -> int:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shop") as shop:
            return (await shop.post("/xtnd/webhooks", content=body, headers=headers)).status_code

    statuses = await asyncio.gather(*(post(b, h) for b, h in deliveries))
    assert statuses == [204] * 50
    assert len(service.store.pending_balances()) == 50
    assert service.sync.counters.hooks_accepted == 50
    assert service.sync.counters.hook_commits < 50
    assert service.store.db.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 50


async def test_a_signed_but_malformed_body_is_refused_with_400(make_service: ServiceFactory) -> None:
    service = make_service()
    body = b'{"Attempt": 1}'
    async with shop_client(service) as shop:
        response = await shop.post(
            "/xtnd/webhooks", content=body, headers={"ms-signature": sign("hook-secret", body)}
        )
    assert response.status_code == 400


async def test_the_receiver_refuses_other_methods_and_oversized_bodies_and_changes_nothing(
    make_service: ServiceFactory,
) -> None:
    service = make_service()
    huge = b'{"Id": "' + b"f" * (MAX_HOOK_BYTES + 1) + b'"}'
    async with shop_client(service) as shop:
        got = await shop.get("/xtnd/webhooks")
        assert got.status_code == 405 and got.headers["allow"] == "POST"
        too_big = await shop.post(
            "/xtnd/webhooks", content=huge, headers={"ms-signature": sign("hook-secret", huge)}
        )
        assert too_big.status_code == 413
        assert "Message" in too_big.json()
        # The shop's other routes are still served behind the receiver.
        assert (await shop.get("/xtnd/probe")).status_code == 200
    assert service.store.pending_balances() == []
    assert service.sync.coalescer.pending_pairs == 0


async def test_without_a_configured_secret_every_hook_is_refused(make_service: ServiceFactory) -> None:
    service = make_service(webhook_secret=None, webhooks=False)
    body, headers = signed_delivery("e" * 32, balance_hook("P1"))
    async with shop_client(service) as shop:
        assert (await shop.post("/xtnd/webhooks", content=body, headers=headers)).status_code == 401


async def test_the_shop_takes_an_order_and_persists_it_before_anything_is_sent(
    make_service: ServiceFactory, xtnd_double: XtndDouble
) -> None:
    service = make_service()
    async with shop_client(service) as shop:
        response = await shop.post(
            "/xtnd/shop/orders", json={"rows": [{"productNumber": "P1", "quantity": 2}], "warehouse": "1"}
        )
        second = await shop.post("/xtnd/shop/orders", json={"rows": [{"productNumber": "P2", "quantity": 1}]})
        bad = await shop.post(
            "/xtnd/shop/orders", json={"rows": [{"productNumber": "P1", "quantity": "two"}]}
        )
        not_json = await shop.post("/xtnd/shop/orders", content=b"rows=1")
    assert response.status_code == 202
    assert response.json() == {"orderNumberExternal": "WEB-T-000001"}
    assert second.json() == {"orderNumberExternal": "WEB-T-000002"}
    assert bad.status_code == 400 and "rows[0].quantity" in bad.json()["Message"]
    assert not_json.status_code == 400
    outgoing = service.store.outgoing("WEB-T-000001")
    assert outgoing is not None and outgoing.state == "received"
    assert outgoing.request == {"rows": [{"productNumber": "P1", "quantity": 2}], "warehouse": "1"}
    assert xtnd_double.calls == []  # the shop does not depend on XTND being up to take an order


async def test_the_probe_shows_balances_and_our_orders_in_the_apis_names(
    make_service: ServiceFactory,
) -> None:
    service = make_service()
    service.store.apply_balances(
        [
            {
                "productNumber": "P1",
                "warehouse": "1",
                "availableBalanceNow": 7,
                "changeDate": "2026-01-05T09:00:00.000+01:00",
            }
        ]
    )
    service.store.apply_order(
        {
            "orderHeader": {
                "orderNumber": "100001",
                "orderNumberExternal": "WEB-T-000001",
                "orderStatus": "Reserved",
            },
            "orderRows": [],
        }
    )
    async with shop_client(service) as shop:
        probe = orjson.loads((await shop.get("/xtnd/probe")).content)
        status = (await shop.get("/xtnd/status")).json()
    assert probe == {
        "balances": [{"productNumber": "P1", "warehouse": "1", "availableBalanceNow": 7}],
        "orders": [{"orderNumber": "100001", "orderStatus": "Reserved"}],
    }
    assert status["pendingBalances"] == 0 and status["unauthorized"] is None
