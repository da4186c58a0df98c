"""An EXPERIMENT, not the product: the fake with a proposed hot-path change applied from outside, to measure what
the change would buy before anyone writes it into mock_xtnd.

The change ("fast path"): after the pipeline has done canonical path, body limit, auth, rate limit, faults and
while it still journals, the two hot reads skip FastAPI's router and dependency solving and call the same domain
and render functions the routers call:

- ``GET /api/Products/{productNumber}``: ``json_response(render.product_full(backend.product(key)))``, a
  DomainError rendered exactly as the app's handler does;
- ``GET /api/ProductAvailability`` when every query parameter is well formed (known names; page and pageSize plain
  positive integers): the router's own body (the same checks, ``paged`` and ``render.availability_row``). Anything
  unusual falls through to the FastAPI route, so validation errors keep FastAPI's wording.

FastAPI still registers both routes, so the OpenAPI document does not change.

``--raw-sender`` adds a second experiment: the webhook sender's HTTP client (``Webhooks._post``) replaced by a small
raw asyncio HTTP/1.1 client with a keep-alive pool (``RawSender``), everything else (outbox, signing, journal,
retries, faults) unchanged.

    python bench/experiment_app.py --port 8098 --config cfg.yaml [--no-fast-path] [--raw-sender]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import time
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI

from mock_xtnd.api import render
from mock_xtnd.api.common import changed_since_ms, check_product_numbers, paged
from mock_xtnd.api.errors import error_response, json_response
from mock_xtnd.api.pipeline import XtndPipeline, normalise_query
from mock_xtnd.app import create_app
from mock_xtnd.domain.errors import DomainError, unprocessable
from mock_xtnd.runtime import Runtime
from mock_xtnd.settings import Settings, load_settings

AVAILABILITY_PARAMS = {"changedSince", "productNumber", "warehouseNumber", "page", "pageSize"}


class _RequestShim:
    """What ``paged`` reads from a Request: only ``scope``."""

    __slots__ = ("scope",)

    def __init__(self, scope: MutableMapping[str, Any]) -> None:
        self.scope = scope


class FastPath:
    def __init__(self, app: Any, rt: Runtime) -> None:
        self.app = app
        self.rt = rt

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        ctx = scope.get("xtnd")
        if ctx is not None and scope["method"] == "GET":
            template = ctx.route.template
            response = None
            try:
                if template == "/api/Products/{productNumber}":
                    response = json_response(render.product_full(self.rt.backend.product(ctx.route.key)))
                elif template == "/api/ProductAvailability":
                    response = self._availability(scope)
            except DomainError as exc:
                response = error_response(exc.status, exc.message, [(e.field, e.message) for e in exc.errors],
                                          trace_id=ctx.trace_id, error_type=exc.error_type)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _availability(self, scope: MutableMapping[str, Any]) -> Any:
        query, _, _ = normalise_query(scope.get("query_string", b""))
        if not set(query) <= AVAILABILITY_PARAMS:
            return None
        ints = {}
        for name in ("page", "pageSize"):
            values = query.get(name, [])
            if len(values) > 1 or (values and not (values[0].isdigit() and values[0].isascii())):
                return None  # FastAPI words these errors
            ints[name] = int(values[0]) if values else None
        page = ints["page"] or 1
        page_size = ints["pageSize"] or self.rt.settings.paging.default_page_size
        if page < 1 or page > 1_000_000 or page_size < 1 or len(query.get("changedSince", [])) > 1:
            return None
        rt, b = self.rt, self.rt.backend
        changed = query.get("changedSince")
        since = changed_since_ms(changed[0] if changed else None)
        product_numbers = query.get("productNumber", [])
        warehouse_numbers = query.get("warehouseNumber", [])
        check_product_numbers(rt, product_numbers)
        for wh in warehouse_numbers:
            if wh not in b.state.warehouses:
                raise unprocessable(f"Warehouse {wh!r} does not exist.", ("warehouseNumber", f"No warehouse {wh!r}."))
        warehouses = list(dict.fromkeys(warehouse_numbers)) or list(b.state.warehouses)
        stock = b.state.stock

        def select() -> list[tuple[str, str]]:
            if product_numbers:
                items = [stock[(pn, wh)] for pn in dict.fromkeys(product_numbers) for wh in warehouses
                         if (pn, wh) in stock]
            else:
                wanted = set(warehouses)
                items = [s for s in stock.values() if s.warehouse_number in wanted]
            if since is not None:
                items = [s for s in items if s.changed_at >= since]
            items.sort(key=lambda s: (s.changed_at, s.product_number, s.warehouse_number))
            return [(s.product_number, s.warehouse_number) for s in items]

        def one(key: tuple[str, str]) -> dict[str, object] | None:
            s = stock.get(key)
            return render.availability_row(s) if s else None

        query_key = ("availability", since, tuple(sorted(set(product_numbers))), tuple(sorted(warehouses)))
        return json_response(paged(rt, _RequestShim(scope), query_key, page, page_size, select, one))  # type: ignore[arg-type]


class RawSender:
    """HTTP/1.1 POST over asyncio streams with a keep-alive pool per (host, port): the cheapest sender that still
    reads the whole answer (status, headers, Content-Length or chunked body), honours Connection: close and times
    out like the aiohttp one. Same result tuple as ``Webhooks._post``."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.idle: dict[tuple[str, int], list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}

    async def post(self, url: str, body: bytes, signature: str | None) -> tuple[int | None, str | None, float]:
        started = time.perf_counter()
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        head = (f"POST {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                "Content-Type: application/json; charset=utf-8\r\nUser-Agent: mock-xtnd-webhooks\r\n"
                + (f"ms-signature: {signature}\r\n" if signature is not None else "")
                + f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
        pool = self.idle.setdefault((host, port), [])
        conn = None
        try:
            async with asyncio.timeout(self.timeout):
                conn = pool.pop() if pool else await asyncio.open_connection(host, port)
                reader, writer = conn
                writer.write(head + body)
                status_line = await reader.readline()
                if not status_line:
                    raise ConnectionResetError("closed")
                status = int(status_line.split(b" ", 2)[1])
                length, chunked, close = 0, False, False
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"transfer-encoding" and b"chunked" in value.lower():
                        chunked = True
                    elif name == b"connection" and b"close" in value.lower():
                        close = True
                if chunked:
                    while (size := int((await reader.readline()).split(b";")[0], 16)) > 0:
                        await reader.readexactly(size + 2)
                    await reader.readline()
                elif length:
                    await reader.readexactly(length)
            if close:
                writer.close()
            else:
                pool.append(conn)
            return status, None, (time.perf_counter() - started) * 1000
        except TimeoutError:
            error = "timeout"
        except ConnectionRefusedError:
            error = "refused"
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            error = "reset"
        if conn is not None:
            with contextlib.suppress(Exception):
                conn[1].close()
        return None, error, (time.perf_counter() - started) * 1000


def create_experiment_app(settings: Settings, fast_path: bool = True, raw_sender: bool = False) -> FastAPI:
    app = create_app(settings)
    if fast_path:
        app.middleware_stack = app.build_middleware_stack()
        node: Any = app.middleware_stack
        while node is not None and not isinstance(node, XtndPipeline):
            node = getattr(node, "app", None)
        if node is None:
            raise RuntimeError("XtndPipeline not found in the middleware stack")
        node.app = FastPath(node.app, app.state.runtime)
    if raw_sender:
        webhooks = app.state.runtime.webhooks
        webhooks._post = RawSender(settings.delivery.timeout_seconds).post  # instance attribute wins
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", default=None)
    parser.add_argument("--no-fast-path", action="store_true")
    parser.add_argument("--raw-sender", action="store_true")
    args = parser.parse_args()
    app = create_experiment_app(load_settings(args.config), fast_path=not args.no_fast_path,
                                raw_sender=args.raw_sender)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")).run(sockets=[sock])


if __name__ == "__main__":
    main()
