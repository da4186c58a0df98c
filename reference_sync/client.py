"""The XTND API client: header auth, errors by kind, rate-limit pacing per endpoint family, both paging schemes.

It takes an ``httpx.AsyncClient`` whose ``base_url`` is the company's API root
(``https://host/RESTAPI/v1_0/<company>``): the transport seam. Tests give it ``httpx.ASGITransport(app)`` to run
against an app in-process; the service gives it a real network client. The code path is the same.

Every call goes through ``request()``, which reads top to bottom: wait for a rate-limit slot in the call's family,
send with the ``ExtendBasicAuthorization`` header, and on failure act by kind (see errors.py). The helpers below it
only build paths and parameters, and walk pages.
"""

from __future__ import annotations

import base64
import logging
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from .clock import Clock
from .errors import ErrorKind, XtndError
from .ratelimit import RateLimitPacer

log = logging.getLogger(__name__)

Params = Sequence[tuple[str, str | int]]
Json = Any

MAX_PRICE_PRODUCTS = 10  # ProductPrices: productNumberList takes at most 10 product numbers


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str

    def header(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try before giving an error back to the caller (all chosen here, all configurable)."""

    attempts: int = 5  # Internal (500, no answer) and Transient (deadlock/timeout 400): tries in all
    backoff_base: float = (
        0.25  # seconds; failure n waits between half and all of base * 2**n ("equal jitter")
    )
    backoff_cap: float = 30.0
    throttled_waits: int = 20  # Throttled: waits of Retry-After before the caller gets the error back
    default_retry_after: float = 1.0  # a 429 without Retry-After
    # After a 401 no call goes out until one probe, after 2 s, then 4, 8, ... at most a minute apart: wrong
    # credentials stay wrong until someone changes them, so the sync alerts and waits instead of hammering.
    auth_backoff_base: float = 2.0
    auth_backoff_cap: float = 60.0


class XtndClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        credentials: Credentials,
        *,
        clock: Clock,
        rng: random.Random,
        policy: RetryPolicy | None = None,
        pacer: RateLimitPacer | None = None,
        page_count: int = 100,
    ) -> None:
        self.http = http
        self.auth_header = credentials.header()
        self.clock = clock
        self.rng = rng
        self.policy = policy or RetryPolicy()
        self.pacer = pacer or RateLimitPacer(clock)
        self.page_count = page_count  # scheme A page size (CustomerOrders)
        self.calls = 0  # API calls sent; what the storm benchmark divides by
        self.unauthorized: XtndError | None = None  # the last 401, until a call succeeds again
        self._auth_failures = 0
        self._auth_retry_at = 0.0
        self._auth_probing = False

    # ------------------------------------------------------------------ the one request path
    async def request(
        self,
        method: str,
        path: str,
        family: str,
        *,
        params: Params | None = None,
        body: bytes | None = None,
        resend_unanswered: bool = True,
    ) -> httpx.Response:
        """Send one API call and return its 2xx answer, or raise XtndError with the kind that ended it.

        ``family``: the rate-limit bucket (the resource). ``body`` is sent byte for byte. With
        ``resend_unanswered=False`` (a create) a call without an answer is not sent again here: it may have been
        committed, and only the caller can look that up first.
        """
        failures = 0
        throttled_waits = 0
        headers = {"ExtendBasicAuthorization": self.auth_header}
        if body is not None:
            headers["Content-Type"] = "application/json"
        while True:
            refused = self.unauthorized
            if refused is not None and (self._auth_probing or self.clock.now() < self._auth_retry_at):
                raise refused  # refused credentials stay refused: only one probe now and then
            self._auth_probing = refused is not None
            try:
                await self.pacer.acquire(family)
                self.calls += 1
                response = await self.http.request(
                    method, path, params=list(params) if params else None, content=body, headers=headers
                )
            except httpx.TransportError as exc:
                # No answer: the request may or may not have been applied. Same treatment as a 500.
                error = XtndError(ErrorKind.INTERNAL, f"{method} {path} got no answer: {exc!r}")
            else:
                self.pacer.observe(family, response.headers)
                if response.is_success:
                    self.unauthorized, self._auth_failures = None, 0
                    return response
                error = XtndError.from_response(response)
            finally:
                self._auth_probing = False

            if error.kind is ErrorKind.UNAUTHORIZED:
                self.unauthorized = error
                self._auth_failures += 1
                wait = min(
                    self.policy.auth_backoff_cap,
                    self.policy.auth_backoff_base * 2 ** (self._auth_failures - 1),
                )
                self._auth_retry_at = self.clock.now() + wait
                log.error(
                    "XTND refused the credentials (%s): no calls until one more try in %.0fs", error, wait
                )
                raise error
            if error.kind is ErrorKind.THROTTLED:
                wait = error.retry_after if error.retry_after is not None else self.policy.default_retry_after
                # Closes the family for every task, not just this one, and even if this caller gives up now.
                self.pacer.throttled(family, wait)
                if throttled_waits < self.policy.throttled_waits:
                    throttled_waits += 1
                    log.info("%s %s throttled: waiting %.1fs", method, path, wait)
                    continue  # pacer.acquire() does the waiting
            retryable = error.kind is ErrorKind.TRANSIENT or (
                error.kind is ErrorKind.INTERNAL and resend_unanswered
            )
            if retryable:
                failures += 1
                if failures < self.policy.attempts:
                    wait = self._backoff(failures)
                    log.warning("%s %s failed (%s), retry %d in %.2fs", method, path, error, failures, wait)
                    await self.clock.sleep(wait)
                    continue
            raise error

    def auth_wait(self) -> float:
        """Seconds until a call may try refused credentials again (0: none were refused)."""
        return 0.0 if self.unauthorized is None else max(0.0, self._auth_retry_at - self.clock.now())

    def _backoff(self, failures: int) -> float:
        """Equal jitter: the gaps still grow (each at least the previous one's ceiling), and the random half
        keeps many clients (and tasks) from retrying in lockstep."""
        ceiling = min(self.policy.backoff_cap, self.policy.backoff_base * 2**failures)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    async def get_json(self, path: str, family: str, params: Params | None = None) -> Json:
        response = await self.request("GET", path, family, params=params)
        return orjson.loads(response.content)

    # ------------------------------------------------------------------ paging
    async def pages_b(
        self, resource: str, list_key: str, params: Params = ()
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Scheme B (every list but CustomerOrders and Products): ``pageNumber`` from 1 until
        ``paginationInfo.currentPage >= totalPages``."""
        page_number = 1
        while True:
            body = await self.get_json(resource, resource, [*params, ("pageNumber", page_number)])
            items = list(body.get(list_key) or [])
            info = body.get("paginationInfo") or {}
            yield items
            if not items or int(info.get("currentPage") or page_number) >= int(info.get("totalPages") or 0):
                return
            page_number += 1

    async def pages_a(self, resource: str, params: Params = ()) -> AsyncIterator[list[dict[str, Any]]]:
        """Scheme A (CustomerOrders, Products): ``pageCount`` rows per page, ``pageOffset`` the page index from 0,
        until a page shorter than ``pageCount``. A tenant may answer a page past the end with 400 instead of an
        empty page (seen in production): that ends the list too."""
        page_offset = 0
        while True:
            paging = [("pageCount", self.page_count), ("pageOffset", page_offset)]
            try:
                items = list(await self.get_json(resource, resource, [*params, *paging]))
            except XtndError as error:
                if page_offset > 0 and error.kind is ErrorKind.VALIDATION and error.status == 400:
                    return
                raise
            yield items
            if len(items) < self.page_count:
                return
            page_offset += 1

    # ------------------------------------------------------------------ resources
    def availability(self, modified_from: str | None) -> AsyncIterator[list[dict[str, Any]]]:
        """``GET ProductAvailability``: every item, or those changed since ``modified_from`` (inclusive)."""
        params = [] if modified_from is None else [("modifiedDateFrom", modified_from)]
        return self.pages_b("ProductAvailability", "productAvailabilityList", params)

    async def availability_item(self, product_number: str, warehouse: str) -> Json:
        # Keys are free text (spaces, slashes): always encode each path segment completely.
        path = f"ProductAvailability/{quote(product_number, safe='')}/{quote(warehouse, safe='')}"
        return await self.get_json(path, "ProductAvailability")

    async def product_prices(
        self, customer_number: str, product_numbers: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The customer's best price now for up to 10 products (every page of the answer)."""
        if len(product_numbers) > MAX_PRICE_PRODUCTS:
            raise ValueError(f"ProductPrices takes at most {MAX_PRICE_PRODUCTS} product numbers")
        params: list[tuple[str, str | int]] = [("customerNumber", customer_number)]
        params += [("productNumberList", p) for p in product_numbers]
        return [
            row
            async for page in self.pages_b("ProductPrices", "productPriceItemList", params)
            for row in page
        ]

    def orders_changed(self, modified_from: str) -> AsyncIterator[list[dict[str, Any]]]:
        """``GET CustomerOrders?modifiedDateFrom=``: a tenant times out on this list without a date filter."""
        return self.pages_a("CustomerOrders", [("modifiedDateFrom", modified_from)])

    async def find_order(self, order_number_external: str) -> dict[str, Any] | None:
        """The order XTND holds for the shop's ``orderNumberExternal``, as a list item, or None."""
        async for page in self.pages_a("CustomerOrders", [("orderNumberExternal", order_number_external)]):
            for item in page:
                if item.get("orderNumberExternal") == order_number_external:  # the filter may match more
                    return item
        return None

    async def get_order(self, order_number: str) -> Json:
        return await self.get_json(f"CustomerOrders/{quote(order_number, safe='')}", "CustomerOrders")

    async def post_order(self, body: bytes) -> Json:
        response = await self.request(
            "POST", "CustomerOrders", "CustomerOrders", body=body, resend_unanswered=False
        )
        return orjson.loads(response.content)

    async def first_customer_number(self) -> str | None:
        """The first customer XTND lists. Every page is read, as for any list; the caller remembers the answer,
        so this happens once. (In production, configure the shop's customer instead.)"""
        first: str | None = None
        async for page in self.pages_b("Customers", "customerList"):
            if first is None and page:
                first = str(page[0]["customerNumber"])
        return first
