"""Wiring, and the shop's HTTP surface (plain Starlette: about twice FastAPI's rate for the webhook receiver).

* ``POST /xtnd/webhooks``: verify ``ms-signature``, persist what to read, answer 204. Nothing slower than one
  small SQLite commit (shared by every hook that arrives meanwhile) happens before the answer; the reading is the
  worker's job. Hooks are answered in parallel: each request is its own task. A bare ASGI handler in front of
  Starlette (``WebhookReceiver``): it is the route a storm hits.
* ``GET /xtnd/probe``: the shop's view (balances and our orders), for the harness.
* ``POST /xtnd/shop/orders``: the shop takes an order and answers 202 with its orderNumberExternal at once;
  pushing it to XTND is the outbox's job. The shop does not depend on XTND being up.
* ``GET /xtnd/status``: counters, pending work, parked items: what an operator looks at.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .client import Credentials, XtndClient
from .clock import Clock, SystemClock
from .config import SyncConfig
from .inbox import GroupCommit
from .shop import InvalidShopRequest
from .signing import SIGNATURE_HEADER, verify_signature
from .store import Store
from .sync import Sync
from .webhooks import Delivery, MalformedDelivery, parse_delivery

log = logging.getLogger(__name__)


@dataclass
class Service:
    config: SyncConfig
    store: Store
    http: httpx.AsyncClient
    client: XtndClient
    sync: Sync

    async def aclose(self) -> None:
        await self.http.aclose()
        self.store.close()


def build_service(
    config: SyncConfig,
    *,
    http: httpx.AsyncClient | None = None,
    clock: Clock | None = None,
    rng: random.Random | None = None,
) -> Service:
    """Everything the service needs. Pass ``http`` to choose the transport (e.g. ``httpx.ASGITransport``);
    its ``base_url`` must be the company's API root (``.../RESTAPI/v1_0/<company>``)."""
    clock = clock or SystemClock()
    http = http or httpx.AsyncClient(base_url=config.api_url, timeout=config.request_timeout)
    store = Store(config.db_path)
    client = XtndClient(
        http,
        Credentials(config.username, config.password),
        clock=clock,
        rng=rng or random.Random(),
        page_count=config.page_count,
    )
    return Service(config, store, http, client, Sync(config, store, client, clock))


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


WEBHOOK_PATH = "/xtnd/webhooks"
MAX_HOOK_BYTES = 4 * 1024 * 1024  # a batch of notifications is a few KB; anything near this is not XTND
SIGNATURE_HEADER_BYTES = SIGNATURE_HEADER.lower().encode("latin-1")  # ASGI header names are lower-case bytes


def create_app(service: Service, *, run_worker: bool = True) -> ASGIApp:
    """The shop's ASGI app: the webhook receiver in front, everything else a small Starlette app."""
    sync = service.sync
    inbox: GroupCommit[Delivery, bool] = GroupCommit(sync.accept_deliveries)
    receiver = WebhookReceiver(service.config.webhook_secret, inbox.submit)

    async def probe(request: Request) -> Response:
        return _json(sync.probe())

    async def status(request: Request) -> Response:
        return _json(sync.status())

    async def shop_order(request: Request) -> Response:
        try:
            external = sync.take_shop_order(await _read_json(request))
        except InvalidShopRequest as error:
            return _json({"Message": str(error)}, 400)
        return _json({"orderNumberExternal": external}, 202)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker = asyncio.create_task(sync.run()) if run_worker else None
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await service.aclose()

    shop = Starlette(
        routes=[
            Route("/xtnd/probe", probe, methods=["GET"]),
            Route("/xtnd/status", status, methods=["GET"]),
            Route("/xtnd/shop/orders", shop_order, methods=["POST"]),
        ],
        lifespan=lifespan,
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == WEBHOOK_PATH:
            await receiver(scope, receive, send)
        else:
            await shop(scope, receive, send)

    return app


class WebhookReceiver:
    """``POST /xtnd/webhooks`` as a bare ASGI handler: verify ``ms-signature`` over the exact bytes, parse, persist
    what to read (group commit), answer 204.

    This is the one route a storm hits thousands of times a second, so it skips the framework: no Request object,
    middleware stack or router. That took the sync's CPU per hook from 280 to 207 us in the storm benchmark, and
    with it the queueing that made acknowledgements slow (docs/benchmarks.md).
    """

    def __init__(self, secret: str | None, submit: Callable[[Delivery], Awaitable[bool]]) -> None:
        self.secret = secret
        self.submit = submit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _answer(send, 405, {"Message": "use POST"}, [(b"allow", b"POST")])
            return
        body = await read_body(scope, receive, MAX_HOOK_BYTES)
        if body is None:
            await _answer(send, 413, {"Message": f"a webhook body over {MAX_HOOK_BYTES} bytes"})
            return
        signature = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == SIGNATURE_HEADER_BYTES), None
        )
        # Verify the exact raw bytes before reading anything from them. No secret configured: nothing verifies.
        if self.secret is None or not verify_signature(self.secret, body, signature):
            await _answer(send, 401, {"Message": "invalid or missing ms-signature"})
            return
        try:
            delivery = parse_delivery(body)
        except MalformedDelivery as error:
            await _answer(send, 400, {"Message": f"malformed webhook body: {error}"})
            return
        # Persist, then answer. A duplicate Id is acknowledged too: the sender must stop retrying it.
        await self.submit(delivery)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is larger than ``limit`` bytes: said by its Content-Length (then
    nothing is read) or found while reading."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(
    send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": orjson.dumps(body)})


async def _read_json(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise InvalidShopRequest(f"not JSON: {error}") from error
