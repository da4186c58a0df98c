"""The shop's HTTP surface: the webhook receiver verifies, persists what to fetch, answers 2xx, and nothing more."""

from __future__ import annotations

import httpx
import orjson
import pytest

from mock_xtnd.webhooks.signing import sign
from reference_sync.app import MAX_HOOK_BYTES, Service, create_app
from tests.reference_sync.rsync_doubles import (
    ServiceFactory,
    XtndDouble,
    balance_hook,
    order_hook,
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
    assert service.store.pending_balances() == [("KM 1007", "2")]
    assert service.sync.coalescer.pending_products == 1
    # A trigger, not data: the 42 in the hook is nowhere in the shop's view, and XTND was not called yet.
    assert service.store.balances() == []
    assert xtnd_double.calls == []


@pytest.mark.parametrize(
    "tamper",
    ["missing", "wrong-secret", "body-changed", "garbage", "lowercase-prefix-only"],
)
async def test_a_hook_with_a_bad_or_missing_signature_gets_401_and_changes_nothing(
    make_service: ServiceFactory, tamper: str
) -> None:
    service = make_service()
    body, headers = signed_delivery("b" * 32, balance_hook("P1"), order_hook("OrderPicked", "100001"))
    if tamper == "missing":
        del headers["ms-signature"]
    elif tamper == "wrong-secret":
        headers["ms-signature"] = sign("not-the-secret", body)
    elif tamper == "body-changed":
        body = body.replace(b"999", b"998")
    elif tamper == "garbage":
        headers["ms-signature"] = "sha256=" + "Z" * 64
    else:
        headers["ms-signature"] = "sha256="
    async with shop_client(service) as shop:
        response = await shop.post("/xtnd/webhooks", content=body, headers=headers)
    assert response.status_code == 401
    assert service.store.pending_balances() == []
    assert service.store.due_records(1e12, 10) == []
    assert service.sync.coalescer.pending_products == 0
    # Not even its Id was recorded: the genuine delivery with this Id must still be accepted.
    assert service.store.accept_delivery("b" * 32, 0.0, [], []) is True


async def test_a_duplicate_delivery_is_acknowledged_but_not_acted_on_twice(
    make_service: ServiceFactory,
) -> None:
    service = make_service()
    first, headers = signed_delivery("c" * 32, order_hook("OrderReserved", "100001"))
    retry, retry_headers = signed_delivery("c" * 32, order_hook("OrderReserved", "100001"), attempt=2)
    async with shop_client(service) as shop:
        assert (await shop.post("/xtnd/webhooks", content=first, headers=headers)).status_code == 204
        service.store.clear_record("order", "100001", service.store.current_mark())  # the worker fetched it
        assert (await shop.post("/xtnd/webhooks", content=retry, headers=retry_headers)).status_code == 204
    assert service.store.due_records(1e12, 10) == []
    assert service.sync.counters.hooks_accepted == 1
    assert service.sync.counters.hooks_duplicate == 1


async def test_each_action_asks_for_the_right_fetch(make_service: ServiceFactory) -> None:
    service = make_service(sync_products=True)
    body, headers = signed_delivery(
        "d" * 32,
        balance_hook("P1", "1"),
        ("BalanceChanged", {"ProductNumber": "P2", "WarehouseNumber": "1", "Balance": 5}),
        order_hook("OrderPicked", "100007"),
        ("ProductChanged", {"ProductNumber": "P3"}),
        ("CustomerChanged", {"CustomerNumber": "10001"}),  # customers are not synced in this config
        ("OfferCreated", {"OfferNumber": "9"}),
        ("SomeActionAddedNextYear", {"Whatever": 1}),
    )
    async with shop_client(service) as shop:
        assert (await shop.post("/xtnd/webhooks", content=body, headers=headers)).status_code == 204
    assert service.store.pending_balances() == [("P1", "1")]  # BalanceChanged is on-hand: nothing to fetch
    assert sorted((r.kind, r.key) for r in service.store.due_records(1e12, 10)) == [
        ("order", "100007"),
        ("product", "P3"),
    ]


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
        too_big = await shop.post("/xtnd/webhooks", content=huge, headers={"ms-signature": sign("hook-secret", huge)})
        assert too_big.status_code == 413
        assert "Message" in too_big.json()
        # The shop's other routes are still served behind the receiver.
        assert (await shop.get("/xtnd/probe")).status_code == 200
    assert service.store.pending_balances() == []
    assert service.sync.coalescer.pending_products == 0


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
            "/xtnd/shop/orders",
            json={"Lines": [{"ProductNumber": "P1", "Quantity": 2}], "WarehouseNumber": "1"},
        )
        second = await shop.post(
            "/xtnd/shop/orders", json={"Lines": [{"ProductNumber": "P2", "Quantity": 1}]}
        )
        bad = await shop.post(
            "/xtnd/shop/orders", json={"Lines": [{"ProductNumber": "P1", "Quantity": "two"}]}
        )
    assert response.status_code == 202
    assert response.json() == {"ExternalOrderNumber": "WEB-T-000001"}
    assert second.json() == {"ExternalOrderNumber": "WEB-T-000002"}
    assert bad.status_code == 400
    outgoing = service.store.outgoing("WEB-T-000001")
    assert outgoing is not None and outgoing.state == "received"
    assert outgoing.request == {"Lines": [{"ProductNumber": "P1", "Quantity": 2}], "WarehouseNumber": "1"}
    assert xtnd_double.calls == []  # the shop does not depend on XTND being up to take an order


async def test_the_probe_shows_balances_and_our_orders(make_service: ServiceFactory) -> None:
    service = make_service()
    service.store.apply_balances(
        [
            {
                "ProductNumber": "P1",
                "WarehouseNumber": "1",
                "AvailableBalance": 7,
                "ChangedAt": "2026-01-05T08:00:00.000Z",
            }
        ]
    )
    service.store.apply_order(
        {
            "OrderNumber": "100001",
            "ExternalOrderNumber": "WEB-T-000001",
            "Status": "Reserved",
            "ChangedAt": "2026-01-05T08:00:00.000Z",
        }
    )
    async with shop_client(service) as shop:
        probe = orjson.loads((await shop.get("/xtnd/probe")).content)
    assert probe == {
        "Balances": [{"ProductNumber": "P1", "WarehouseNumber": "1", "AvailableBalance": 7}],
        "Orders": [{"OrderNumber": "100001", "Status": "Reserved"}],
    }
