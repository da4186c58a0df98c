"""The XTND API client: OAuth2 client credentials, errors by kind, rate-limit pacing, pagination.

It takes an ``httpx.AsyncClient`` whose ``base_url`` is the API root (``.../api``): the transport seam. Tests
give it ``httpx.ASGITransport(app)`` to run against an app in-process; the service gives it a real network
client. The code path is the same.

Every call goes through ``request()``, which reads top to bottom: wait for a rate-limit slot, attach a token,
send, and on failure act by kind (see errors.py). The resource helpers below it only build paths and params.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from .clock import Clock
from .errors import ErrorKind, XtndError
from .ratelimit import RateGroup, RateLimitPacer
from .timestamps import BEGINNING

log = logging.getLogger(__name__)

Params = Sequence[tuple[str, str | int]]
Json = Any

# ProductAvailability answers at most this many product numbers per call (XTND's documented filter limit).
MAX_PRODUCT_NUMBERS = 200

RECORD_PATHS = {"order": "CustomerOrders", "product": "Products", "customer": "Customers"}


@dataclass(frozen=True, slots=True)
class Credentials:
    client_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try before giving an error back to the caller (all chosen here, all configurable)."""

    internal_attempts: int = 5  # Internal (500, no answer): tries in all, then the caller parks the item
    backoff_base: float = 0.5  # seconds; failure n waits between half and all of base * 2**n ("equal jitter")
    backoff_cap: float = 30.0
    throttled_waits: int = 20  # Throttled: waits of Retry-After before the caller gets the error back
    default_retry_after: float = 1.0  # a 429/503 without Retry-After
    token_margin: float = 30.0  # renew a token this many seconds before it expires


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Json]
    page: int
    page_size: int
    total_count: int
    total_pages: int


@dataclass(frozen=True, slots=True)
class WriteResult:
    created: bool  # 201: created now; 200: it already existed (a retry of a committed write)
    record: Json


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
        page_size: int = 1000,
    ) -> None:
        self.http = http
        self.credentials = credentials
        self.clock = clock
        self.rng = rng
        self.policy = policy or RetryPolicy()
        self.pacer = pacer or RateLimitPacer(clock)
        self.page_size = page_size
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = asyncio.Lock()
        self.calls = 0  # API calls sent (token requests excluded); what the storm benchmark divides by

    # ------------------------------------------------------------------ token
    async def _current_token(self) -> str:
        async with self._token_lock:
            if self._token is None or self.clock.now() >= self._token_expires_at:
                await self._fetch_token()
            assert self._token is not None
            return self._token

    async def _fetch_token(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.credentials.client_id,
            "client_secret": self.credentials.client_secret,
        }
        for attempt in range(1, self.policy.internal_attempts + 1):
            try:
                response = await self.http.post("token", data=form)
            except httpx.TransportError as exc:
                error = XtndError(ErrorKind.INTERNAL, f"token request got no answer: {exc!r}")
            else:
                if response.status_code == 200:
                    body = orjson.loads(response.content)
                    lifetime = float(body.get("expires_in", 3600))
                    self._token = str(body["access_token"])
                    self._token_expires_at = self.clock.now() + max(
                        lifetime / 2, lifetime - self.policy.token_margin
                    )
                    return
                error = XtndError.from_response(response)
                if error.kind is ErrorKind.THROTTLED:
                    await self.clock.sleep(error.retry_after or self.policy.default_retry_after)
                    continue
                if error.kind is not ErrorKind.INTERNAL:
                    raise error  # wrong credentials: nothing a retry can fix
            if attempt < self.policy.internal_attempts:
                await self.clock.sleep(self._backoff(attempt))
        raise error

    # ------------------------------------------------------------------ the one request path
    async def request(
        self,
        method: str,
        path: str,
        group: RateGroup,
        *,
        params: Params | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        """Send one API call and return its 2xx answer, or raise XtndError with the kind that ended it.

        ``body`` is sent byte for byte: a retried write is the identical request.
        """
        internal_failures = 0
        throttled_waits = 0
        renewed_token = False
        headers = {"content-type": "application/json"} if body is not None else {}
        while True:
            await self.pacer.acquire(group)
            token = await self._current_token()
            self.calls += 1
            try:
                response = await self.http.request(
                    method,
                    path,
                    params=list(params) if params else None,
                    content=body,
                    headers={**headers, "authorization": f"Bearer {token}"},
                )
            except httpx.TransportError as exc:
                # No answer: the request may or may not have been applied. Same treatment as a 500.
                error = XtndError(ErrorKind.INTERNAL, f"{method} {path} got no answer: {exc!r}")
            else:
                self.pacer.observe(group, response.headers)
                if response.is_success:
                    return response
                error = XtndError.from_response(response)

            if error.kind is ErrorKind.UNAUTHORIZED and not renewed_token:
                renewed_token = True
                self._forget_token(token)
                continue
            if error.kind is ErrorKind.THROTTLED:
                wait = error.retry_after if error.retry_after is not None else self.policy.default_retry_after
                # A 429 closes its rate group; a 503 says the whole service is busy, so it closes every group.
                # Either way for every task, not just this one, and even if this caller gives up now.
                self.pacer.throttled(group if error.status == 429 else None, wait)
                if throttled_waits < self.policy.throttled_waits:
                    throttled_waits += 1
                    log.info("%s %s throttled (%s): waiting %.1fs", method, path, error.status, wait)
                    continue  # pacer.acquire() does the waiting
            if error.kind is ErrorKind.INTERNAL:
                internal_failures += 1
                if internal_failures < self.policy.internal_attempts:
                    wait = self._backoff(internal_failures)
                    log.warning(
                        "%s %s failed (%s), retry %d in %.2fs", method, path, error, internal_failures, wait
                    )
                    await self.clock.sleep(wait)
                    continue
            raise error

    def _forget_token(self, token: str) -> None:
        if self._token == token:  # another task may already have renewed it
            self._token = None

    def _backoff(self, failures: int) -> float:
        """Equal jitter: the gaps still grow (each at least the previous one's ceiling), and the random half
        keeps many clients (and tasks) from retrying in lockstep."""
        ceiling = min(self.policy.backoff_cap, self.policy.backoff_base * 2**failures)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    async def get_json(self, path: str, group: RateGroup, params: Params | None = None) -> Json:
        response = await self.request("GET", path, group, params=params)
        return orjson.loads(response.content)

    async def pages(self, path: str, group: RateGroup, params: Params) -> AsyncIterator[Page]:
        """Every page of a list, in order. The page count is read from page 1 (XTND's paging is stable: the set of
        matching records is fixed when page 1 is asked for)."""
        page_number = 1
        while True:
            body = await self.get_json(
                path, group, [*params, ("page", page_number), ("pageSize", self.page_size)]
            )
            page = Page(
                items=list(body.get("Items") or []),
                page=int(body.get("Page", page_number)),
                page_size=int(body.get("PageSize", self.page_size)),
                total_count=int(body.get("TotalCount", 0)),
                total_pages=int(body.get("TotalPages", 0)),
            )
            yield page
            if page_number >= page.total_pages or not page.items:
                return
            page_number += 1

    # ------------------------------------------------------------------ resources
    def product_availability(
        self,
        *,
        product_numbers: Iterable[str] = (),
        warehouse_numbers: Iterable[str] = (),
        changed_since: str | None = None,
    ) -> AsyncIterator[Page]:
        products = list(product_numbers)
        if len(products) > MAX_PRODUCT_NUMBERS:
            raise ValueError(
                f"ProductAvailability takes at most {MAX_PRODUCT_NUMBERS} product numbers per call"
            )
        params: list[tuple[str, str | int]] = [("productNumber", p) for p in products]
        params += [("warehouseNumber", w) for w in warehouse_numbers]
        if changed_since is not None:
            params.append(("changedSince", changed_since))
        return self.pages("ProductAvailability", RateGroup.STANDARD, params)

    def product_prices(
        self, customer_number: str, *, product_numbers: Iterable[str] = (), changed_since: str | None = None
    ) -> AsyncIterator[Page]:
        params: list[tuple[str, str | int]] = [("customerNumber", customer_number)]
        params += [("productNumber", p) for p in product_numbers]
        if changed_since is not None:
            params.append(("changedSince", changed_since))
        return self.pages("ProductPrices", RateGroup.STANDARD, params)

    def list_changed(self, kind: str, changed_since: str) -> AsyncIterator[Page]:
        """The documented fallback list: keys and ChangedAt of the orders/products/customers changed since."""
        return self.pages(RECORD_PATHS[kind], RateGroup.LIST, [("changedSince", changed_since)])

    async def get_record(self, kind: str, key: str) -> Json:
        # Keys are free text (spaces, slashes): always encode the path segment completely.
        return await self.get_json(f"{RECORD_PATHS[kind]}/{quote(key, safe='')}", RateGroup.STANDARD)

    async def create(self, kind: str, body: bytes) -> WriteResult:
        """POST an order or customer. The body carries its idempotency key (External...Number)."""
        response = await self.request("POST", RECORD_PATHS[kind], RateGroup.WRITE, body=body)
        return WriteResult(created=response.status_code == 201, record=orjson.loads(response.content))

    async def first_customer_number(self) -> str | None:
        """The first customer XTND lists. Every page is read, as for any list (a client that stops at page 1
        is not following pagination); the caller remembers the answer, so this happens once."""
        first: str | None = None
        async for page in self.list_changed("customer", BEGINNING):
            if first is None and page.items:
                first = str(page.items[0]["CustomerNumber"])
        return first
