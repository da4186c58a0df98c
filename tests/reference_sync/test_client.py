"""The API client acts on XTND's error kinds as the contract says, against a double of XTND's wire behaviour."""

from __future__ import annotations

import random

import httpx
import pytest

from reference_sync.client import Credentials, RetryPolicy, XtndClient
from reference_sync.clock import ManualClock
from reference_sync.errors import ErrorKind, XtndError
from reference_sync.ratelimit import RateGroup
from tests.reference_sync.rsync_doubles import API, DroppingTransport, XtndDouble

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(transport: DroppingTransport, clock: ManualClock):  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=transport, base_url=API) as http:
        yield XtndClient(http, Credentials("shop", "shop-secret"), clock=clock, rng=random.Random(1))


async def get_order(client: XtndClient) -> object:
    return await client.get_json("CustomerOrders/100001", RateGroup.STANDARD)


@pytest.fixture(autouse=True)
def an_order(xtnd_double: XtndDouble) -> None:
    xtnd_double.orders["100001"] = {
        "OrderNumber": "100001",
        "Status": "Created",
        "ChangedAt": "2026-01-05T08:00:00.000Z",
    }


async def test_throttled_waits_retry_after_then_sends_the_same_request(
    client: XtndClient, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    xtnd_double.fail_next("GET CustomerOrders/", 429, retry_after=7)
    assert (await get_order(client))["Status"] == "Created"  # type: ignore[index]
    assert clock.sleeps == [7]
    assert [c.status for c in xtnd_double.calls] == [429, 200]
    assert xtnd_double.calls[0].path == xtnd_double.calls[1].path


@pytest.mark.parametrize(("status", "closed"), [(429, {RateGroup.STANDARD}), (503, set(RateGroup))])
async def test_throttling_closes_the_rate_group_for_every_task_even_when_the_caller_gives_up(
    client: XtndClient, xtnd_double: XtndDouble, status: int, closed: set[RateGroup]
) -> None:
    """A 429 is about the request's rate group; a 503 about the whole service."""
    client.policy = RetryPolicy(throttled_waits=0)
    xtnd_double.fail_next("GET CustomerOrders/", status, retry_after=4)
    with pytest.raises(XtndError) as raised:
        await get_order(client)
    assert raised.value.kind is ErrorKind.THROTTLED
    assert {g for g in RateGroup if client.pacer.delay(g) == 4} == closed


async def test_internal_errors_are_retried_with_growing_gaps_then_given_up(
    client: XtndClient, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    xtnd_double.fail_next("GET CustomerOrders/", 500, times=10)
    with pytest.raises(XtndError) as raised:
        await get_order(client)
    assert raised.value.kind is ErrorKind.INTERNAL
    assert len(xtnd_double.calls) == RetryPolicy().internal_attempts == 5  # 4 retries: within "a few"
    gaps = clock.sleeps
    assert len(gaps) == 4
    assert all(later > earlier for earlier, later in zip(gaps, gaps[1:], strict=False))
    assert max(gaps) >= 2 * min(gaps)


async def test_an_internal_error_that_clears_up_is_invisible_to_the_caller(
    client: XtndClient, xtnd_double: XtndDouble
) -> None:
    xtnd_double.fail_next("GET CustomerOrders/", 500, times=2)
    assert (await get_order(client))["OrderNumber"] == "100001"  # type: ignore[index]
    assert [c.status for c in xtnd_double.calls] == [500, 500, 200]


async def test_a_dropped_connection_is_retried_like_an_internal_error(
    client: XtndClient, xtnd_double: XtndDouble, transport: DroppingTransport
) -> None:
    transport.drop_after_commit("GET", "CustomerOrders/100001")
    assert (await get_order(client))["OrderNumber"] == "100001"  # type: ignore[index]
    assert len(xtnd_double.calls) == 2


async def test_a_401_fetches_a_new_token_once_then_retries(
    client: XtndClient, xtnd_double: XtndDouble
) -> None:
    await get_order(client)
    xtnd_double.tokens.clear()  # every issued token expired
    await get_order(client)
    assert xtnd_double.token_requests == 2
    assert [c.status for c in xtnd_double.calls] == [200, 401, 200]


async def test_a_401_after_a_fresh_token_is_raised_not_looped(
    client: XtndClient, xtnd_double: XtndDouble
) -> None:
    xtnd_double.fail_next("GET CustomerOrders/", 401, times=5)
    with pytest.raises(XtndError) as raised:
        await get_order(client)
    assert raised.value.kind is ErrorKind.UNAUTHORIZED
    assert len(xtnd_double.calls) == 2
    assert xtnd_double.token_requests == 2


@pytest.mark.parametrize("status", [400, 404, 409, 413, 422])
async def test_validation_errors_are_raised_at_once_and_never_resent(
    client: XtndClient, xtnd_double: XtndDouble, clock: ManualClock, status: int
) -> None:
    xtnd_double.fail_next("GET CustomerOrders/", status)
    with pytest.raises(XtndError) as raised:
        await get_order(client)
    assert raised.value.kind is ErrorKind.VALIDATION
    assert raised.value.status == status
    assert raised.value.trace_id == "trace-1"
    assert len(xtnd_double.calls) == 1
    assert clock.sleeps == []


async def test_rate_limit_headers_slow_the_client_down_before_a_429(
    client: XtndClient, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    xtnd_double.rate_remaining = 0  # the answer says: no slot left, one frees in 1 s
    await get_order(client)
    assert clock.sleeps == []
    await get_order(client)
    assert clock.sleeps == [1.0]  # waited for the reset instead of spending a 429
    assert all(c.status == 200 for c in xtnd_double.calls)


async def test_a_token_is_renewed_before_it_expires(
    client: XtndClient, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    xtnd_double.token_lifetime = 120
    await get_order(client)
    clock.advance(60)
    await get_order(client)
    assert xtnd_double.token_requests == 1
    clock.advance(31)  # within the renewal margin (30 s before expiry)
    await get_order(client)
    assert xtnd_double.token_requests == 2
    assert all(c.status == 200 for c in xtnd_double.calls)


async def test_pages_are_followed_to_the_last(client: XtndClient, xtnd_double: XtndDouble) -> None:
    client.page_size = 2
    for i in range(5):
        xtnd_double.set_balance(f"P{i}", "1", i, f"2026-01-05T08:00:0{i}.000Z")
    pages = [page async for page in client.product_availability(changed_since="2026-01-05T08:00:00.000Z")]
    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert [c.query["page"] for c in xtnd_double.calls] == [["1"], ["2"], ["3"]]
    assert all(c.query["changedSince"] == ["2026-01-05T08:00:00.000Z"] for c in xtnd_double.calls)


async def test_keys_with_spaces_and_slashes_are_encoded_as_one_path_segment(
    client: XtndClient, xtnd_double: XtndDouble, transport: DroppingTransport
) -> None:
    xtnd_double.fail_next("GET Products/AB 00023/A", 404)
    with pytest.raises(XtndError):
        await client.get_record("product", "AB 00023/A")
    assert xtnd_double.calls[0].path == "Products/AB 00023/A"
    assert xtnd_double.calls[0].raw_path == "/api/Products/AB%2000023%2FA"
