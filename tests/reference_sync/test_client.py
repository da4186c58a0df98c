"""The API client acts on XTND's kinds of failure as the contract says, against a double of XTND's wire behaviour."""

from __future__ import annotations

import asyncio
import base64
import random
from collections.abc import AsyncIterator

import httpx
import pytest

from reference_sync.client import Credentials, RetryPolicy, XtndClient
from reference_sync.clock import ManualClock
from reference_sync.errors import ErrorKind, XtndError
from tests.reference_sync.rsync_doubles import (
    API,
    DEADLOCK,
    PASSWORD,
    ROOT,
    TIMEOUT,
    USERNAME,
    DroppingTransport,
    XtndDouble,
    iso,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client(transport: DroppingTransport, clock: ManualClock) -> AsyncIterator[XtndClient]:
    async with httpx.AsyncClient(transport=transport, base_url=API) as http:
        yield XtndClient(http, Credentials(USERNAME, PASSWORD), clock=clock, rng=random.Random(1))


@pytest.fixture(autouse=True)
def an_order(xtnd_double: XtndDouble) -> None:
    xtnd_double.orders["100001"] = {
        "orderHeader": {"orderNumber": "100001", "orderNumberExternal": "WEB-1", "orderStatus": "Created"},
        "orderRows": [],
    }
    xtnd_double.order_changes["100001"] = iso(0)


async def get_order(client: XtndClient) -> dict[str, object]:
    order: dict[str, object] = await client.get_order("100001")
    return order


async def test_every_call_carries_the_extend_basic_authorization_header_under_the_company_root(
    client: XtndClient, xtnd_double: XtndDouble
) -> None:
    await get_order(client)
    [call] = xtnd_double.calls
    assert call.raw_path == ROOT + "CustomerOrders/100001"
    assert call.status == 200
    assert (
        Credentials(USERNAME, PASSWORD).header() == "Basic " + base64.b64encode(b"demo:demo-secret").decode()
    )


async def test_refused_credentials_stop_the_calls_but_for_a_probe_now_and_then(
    transport: DroppingTransport, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    async with httpx.AsyncClient(transport=transport, base_url=API) as http:
        client = XtndClient(http, Credentials(USERNAME, "wrong"), clock=clock, rng=random.Random(1))
        for _ in range(3):
            with pytest.raises(XtndError) as raised:
                await get_order(client)
            assert raised.value.kind is ErrorKind.UNAUTHORIZED
        assert [c.status for c in xtnd_double.calls] == [401]  # one try, then nothing: no hammering
        assert clock.sleeps == []
        probes_at = []
        for _ in range(8):  # one probe each time the growing wait is over, and only one of concurrent callers
            probes_at.append(client.auth_wait())
            clock.advance(client.auth_wait())
            results = await asyncio.gather(*(get_order(client) for _ in range(3)), return_exceptions=True)
            assert all(isinstance(r, XtndError) and r.kind is ErrorKind.UNAUTHORIZED for r in results)
        assert probes_at == [2, 4, 8, 16, 32, 60, 60, 60]
        assert len(xtnd_double.calls) == 9
        assert client.unauthorized is not None


async def test_the_sync_recovers_by_itself_once_the_credentials_work_again(
    transport: DroppingTransport, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    async with httpx.AsyncClient(transport=transport, base_url=API) as http:
        client = XtndClient(http, Credentials(USERNAME, PASSWORD), clock=clock, rng=random.Random(1))
        xtnd_double.fail_next("GET CustomerOrders/", 401, times=2)  # an administrator changed the password
        for _ in range(2):
            with pytest.raises(XtndError):
                await get_order(client)
            clock.advance(client.auth_wait())
        assert (await get_order(client))["orderHeader"]["orderNumber"] == "100001"  # type: ignore[index]
        assert client.unauthorized is None and client.auth_wait() == 0
        assert [c.status for c in xtnd_double.calls] == [401, 401, 200]


async def test_throttled_waits_retry_after_then_sends_the_same_request(
    client: XtndClient, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    xtnd_double.fail_next("GET CustomerOrders/", 429, retry_after=7)
    assert (await get_order(client))["orderHeader"]["orderStatus"] == "Created"  # type: ignore[index]
    assert clock.sleeps == [7]
    assert [c.status for c in xtnd_double.calls] == [429, 200]
    assert xtnd_double.calls[0].raw_path == xtnd_double.calls[1].raw_path


async def test_a_429_closes_its_endpoint_family_only(client: XtndClient, xtnd_double: XtndDouble) -> None:
    """Each resource has its own bucket: a 429 on CustomerOrders does not hold up ProductAvailability."""
    client.policy = RetryPolicy(throttled_waits=0)
    xtnd_double.fail_next("GET CustomerOrders/", 429, retry_after=4)
    with pytest.raises(XtndError) as raised:
        await get_order(client)
    assert raised.value.kind is ErrorKind.THROTTLED
    assert client.pacer.delay("CustomerOrders") == 4
    assert client.pacer.delay("ProductAvailability") == 0


@pytest.mark.parametrize("message", [DEADLOCK, TIMEOUT])
async def test_a_transient_400_is_retried_after_a_wait(
    client: XtndClient, xtnd_double: XtndDouble, clock: ManualClock, message: str
) -> None:
    xtnd_double.fail_next("GET CustomerOrders/", 400, times=2, message=message)
    assert (await get_order(client))["orderHeader"]["orderNumber"] == "100001"  # type: ignore[index]
    assert [c.status for c in xtnd_double.calls] == [400, 400, 200]
    assert len(clock.sleeps) == 2 and all(s > 0 for s in clock.sleeps)


async def test_transient_400s_are_retried_a_bounded_number_of_times_with_growing_waits(
    client: XtndClient, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    xtnd_double.fail_next("GET CustomerOrders/", 400, times=10, message=DEADLOCK)
    with pytest.raises(XtndError) as raised:
        await get_order(client)
    assert raised.value.kind is ErrorKind.TRANSIENT
    assert len(xtnd_double.calls) == RetryPolicy().attempts == 5
    gaps = clock.sleeps
    assert len(gaps) == 4 and all(later > earlier for earlier, later in zip(gaps, gaps[1:], strict=False))


@pytest.mark.parametrize("status", [400, 404, 413])
async def test_other_client_errors_are_final_raised_at_once_and_never_resent(
    client: XtndClient, xtnd_double: XtndDouble, clock: ManualClock, status: int
) -> None:
    xtnd_double.fail_next("GET CustomerOrders/", status, message="The request is invalid.")
    with pytest.raises(XtndError) as raised:
        await get_order(client)
    assert raised.value.kind is ErrorKind.VALIDATION
    assert raised.value.status == status
    assert len(xtnd_double.calls) == 1
    assert clock.sleeps == []


async def test_model_state_is_reported_with_the_body_path(
    client: XtndClient, xtnd_double: XtndDouble
) -> None:
    with pytest.raises(XtndError) as raised:
        await client.post_order(
            b'{"orderHeader": {"orderNumberExternal": "W-1", "customerNumber": "10001"}, "orderRows": '
            b'[{"product": {"productNumber": "P1"}, "salesData": {"quantity": 1}}]}'
        )
    assert raised.value.kind is ErrorKind.VALIDATION
    assert "newCustomerOrder.orderRows[0].salesData.unit" in raised.value.describe()


async def test_internal_errors_are_retried_with_growing_gaps_then_given_up(
    client: XtndClient, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    xtnd_double.fail_next("GET CustomerOrders/", 500, times=10)
    with pytest.raises(XtndError) as raised:
        await get_order(client)
    assert raised.value.kind is ErrorKind.INTERNAL
    assert len(xtnd_double.calls) == 5  # 4 retries: within "a little"
    gaps = clock.sleeps
    assert all(later > earlier for earlier, later in zip(gaps, gaps[1:], strict=False))
    assert max(gaps) >= 2 * min(gaps)


async def test_a_read_without_an_answer_is_retried(
    client: XtndClient, xtnd_double: XtndDouble, transport: DroppingTransport
) -> None:
    transport.drop_after_commit("GET", "CustomerOrders/100001")
    assert (await get_order(client))["orderHeader"]["orderNumber"] == "100001"  # type: ignore[index]
    assert len(xtnd_double.calls) == 2


async def test_a_create_without_an_answer_is_not_resent_by_the_client(
    client: XtndClient, xtnd_double: XtndDouble, transport: DroppingTransport
) -> None:
    """It may have been committed: only the caller can look it up before sending it again."""
    transport.drop_after_commit("POST", "CustomerOrders")
    with pytest.raises(XtndError) as raised:
        await client.post_order(
            b'{"orderHeader": {"orderNumberExternal": "W-1", "customerNumber": "10001"}, "orderRows": '
            b'[{"product": {"productNumber": "P1"}, "salesData": {"quantity": 1, "unit": "st"}}]}'
        )
    assert raised.value.kind is ErrorKind.INTERNAL and raised.value.status is None
    assert [c.method for c in xtnd_double.calls] == ["POST"]
    assert await client.find_order("W-1") is not None  # it was committed after all


async def test_rate_limit_headers_slow_the_family_down_before_a_429(
    client: XtndClient, xtnd_double: XtndDouble, clock: ManualClock
) -> None:
    xtnd_double.rate_remaining = 0  # the answer says: no slot left, the oldest call leaves the window in 1 s
    xtnd_double.set_balance("P1", "1", 1, iso(0))
    await get_order(client)
    await client.availability_item("P1", "1")  # another family, another bucket: no wait
    assert clock.sleeps == []
    await get_order(client)
    assert clock.sleeps == [1.0]  # waited for the family's reset instead of spending a 429
    assert all(c.status == 200 for c in xtnd_double.calls)


async def test_scheme_b_pages_are_followed_until_the_last(
    client: XtndClient, xtnd_double: XtndDouble
) -> None:
    xtnd_double.page_size = 2
    for i in range(5):
        xtnd_double.set_balance(f"P{i}", "1", i, iso(i))
    pages = [page async for page in client.availability(modified_from="2026-01-05T08:00:00")]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [c.query["pageNumber"] for c in xtnd_double.calls] == [["1"], ["2"], ["3"]]
    assert all(c.query["modifiedDateFrom"] == ["2026-01-05T08:00:00"] for c in xtnd_double.calls)


async def test_scheme_a_pages_until_a_short_page(client: XtndClient, xtnd_double: XtndDouble) -> None:
    client.page_count = 2
    for n in ("100002", "100003"):
        xtnd_double.orders[n] = {
            "orderHeader": {**xtnd_double.orders["100001"]["orderHeader"], "orderNumber": n},
            "orderRows": [],
        }
        xtnd_double.order_changes[n] = iso(1)
    for order in xtnd_double.orders.values():
        order["orderHeader"].update(orderDate=iso(0), customerNumber="10001")
    pages = [page async for page in client.orders_changed("2026-01-05T08:00:00")]
    assert [len(p) for p in pages] == [2, 1]
    assert [(c.query["pageCount"], c.query["pageOffset"]) for c in xtnd_double.calls] == [
        (["2"], ["0"]),
        (["2"], ["1"]),
    ]


async def test_a_400_for_a_page_past_the_end_ends_a_scheme_a_list(
    client: XtndClient, xtnd_double: XtndDouble
) -> None:
    """Seen in production: when the last page is exactly full, the next one answers 400 instead of []."""
    client.page_count = 1
    xtnd_double.orders["100001"]["orderHeader"].update(orderDate=iso(0), customerNumber="10001")
    pages = [page async for page in client.orders_changed("2026-01-05T08:00:00")]
    assert [len(p) for p in pages] == [1]
    assert [c.status for c in xtnd_double.calls] == [200, 400]


async def test_a_400_on_the_first_page_of_a_scheme_a_list_is_an_error(
    client: XtndClient, xtnd_double: XtndDouble
) -> None:
    xtnd_double.fail_next("GET CustomerOrders", 400, message="The request is invalid.")
    with pytest.raises(XtndError):
        _ = [page async for page in client.orders_changed("2026-01-05T08:00:00")]


async def test_keys_with_spaces_and_slashes_are_encoded_segment_by_segment(
    client: XtndClient, xtnd_double: XtndDouble
) -> None:
    xtnd_double.set_balance("AB 00023/A", "1", 4, iso(1))
    row = await client.availability_item("AB 00023/A", "1")
    assert row["availableBalanceNow"] == 4
    assert xtnd_double.calls[0].raw_path == ROOT + "ProductAvailability/AB%2000023%2FA/1"
