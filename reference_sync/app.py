"""Wiring, and the shop's HTTP surface (plain Starlette: about twice FastAPI's rate for the webhook receiver).

* ``POST /xtnd/webhooks``: verify ``ms-signature``, persist what to fetch, answer 204. Nothing slower than one
  small SQLite commit happens before the answer; the fetching is the worker's job.
* ``GET /xtnd/probe``: the shop's view (balances and our orders), for the harness.
* ``POST /xtnd/shop/orders`` (and ``/xtnd/shop/customers``): the shop takes an order and answers 202 with its
  ExternalOrderNumber at once; pushing it to XTND is the outbox's job. The shop does not depend on XTND being up.
* ``GET /xtnd/status``: counters, pending work, parked items: what an operator looks at.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mock_xtnd.webhooks.signing import SIGNATURE_HEADER, verify

from .client import Credentials, XtndClient
from .clock import Clock, SystemClock
from .config import SyncConfig
from .inbox import GroupCommit
from .shop import InvalidShopRequest
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
    its ``base_url`` must be the API root."""
    clock = clock or SystemClock()
    http = http or httpx.AsyncClient(base_url=config.api_url, timeout=config.request_timeout)
    store = Store(config.db_path)
    client = XtndClient(
        http,
        Credentials(config.client_id, config.client_secret),
        clock=clock,
        rng=rng or random.Random(),
        page_size=config.page_size,
    )
    return Service(config, store, http, client, Sync(config, store, client, clock))


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def create_app(service: Service, *, run_worker: bool = True) -> Starlette:
    sync = service.sync
    secret = service.config.webhook_secret
    inbox: GroupCommit[Delivery, bool] = GroupCommit(sync.accept_deliveries)

    async def receive_webhook(request: Request) -> Response:
        body = await request.body()
        # Verify the exact raw bytes before reading anything from them. No secret configured: nothing verifies.
        if secret is None or not verify(secret, body, request.headers.get(SIGNATURE_HEADER)):
            return _json({"Message": "invalid or missing ms-signature"}, 401)
        try:
            delivery = parse_delivery(body)
        except MalformedDelivery as error:
            return _json({"Message": f"malformed webhook body: {error}"}, 400)
        # Persist, then answer. A duplicate Id is acknowledged too: the sender must stop retrying it.
        await inbox.submit(delivery)
        return Response(status_code=204)

    async def probe(request: Request) -> Response:
        return _json(sync.probe())

    async def status(request: Request) -> Response:
        return _json(sync.status())

    async def shop_order(request: Request) -> Response:
        try:
            external = sync.take_shop_order(await _read_json(request))
        except InvalidShopRequest as error:
            return _json({"Message": str(error)}, 400)
        return _json({"ExternalOrderNumber": external}, 202)

    async def shop_customer(request: Request) -> Response:
        try:
            external = sync.take_shop_customer(await _read_json(request))
        except InvalidShopRequest as error:
            return _json({"Message": str(error)}, 400)
        return _json({"ExternalCustomerNumber": external}, 202)

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

    return Starlette(
        routes=[
            Route("/xtnd/webhooks", receive_webhook, methods=["POST"]),
            Route("/xtnd/probe", probe, methods=["GET"]),
            Route("/xtnd/status", status, methods=["GET"]),
            Route("/xtnd/shop/orders", shop_order, methods=["POST"]),
            Route("/xtnd/shop/customers", shop_customer, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


async def _read_json(request: Request) -> Any:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise InvalidShopRequest(f"not JSON: {error}") from error
