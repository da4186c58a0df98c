"""One request path you can read top to bottom (stripe-mock's HandleRequest), as a raw ASGI middleware:

    canonical path -> body limit -> auth -> rate limit -> injected fault -> route & act -> journal

Every early exit answers in XTND's error envelope. Raw ASGI rather than Starlette's BaseHTTPMiddleware: that one
costs more than the whole rest of the pipeline (see shared/performance-notes.md).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

import orjson

from ..asgi import read_body
from ..domain.clock import iso_ms
from .errors import error_response

if TYPE_CHECKING:
    from ..runtime import Runtime

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

RESOURCES = {
    "token": "token",
    "customerorders": "CustomerOrders",
    "productavailability": "ProductAvailability",
    "products": "Products",
    "customers": "Customers",
    "productprices": "ProductPrices",
}
# query parameter names are matched case-insensitively too, as ASP.NET model binding does (chosen by the mock)
QUERY_NAMES = {
    n.lower(): n
    for n in ("page", "pageSize", "changedSince", "status", "productNumber", "warehouseNumber", "customerNumber")
}
KEY_NAMES = {"CustomerOrders": "orderNumber", "Products": "productNumber", "Customers": "customerNumber"}


@dataclass(slots=True)
class RouteInfo:
    template: str | None
    resource: str | None
    key: str | None
    group: str | None  # Standard | List | Write | None (exempt or unknown)
    canonical_path: str


@dataclass(slots=True)
class RequestContext:
    """What the pipeline learned about a request, handed to the endpoint as ``scope["xtnd"]``."""

    client_id: str | None
    route: RouteInfo
    body: bytes
    trace_id: str
    result_key: str | None = None
    page_info: dict[str, Any] = field(default_factory=dict)


def classify(method: str, raw_path: str) -> RouteInfo | None:
    """Map ``/api/...`` (any case) to its route; None for paths outside ``/api``."""
    segments = raw_path.split("/")
    if len(segments) < 2 or segments[1].lower() != "api":
        return None
    rest = [unquote(s) for s in segments[2:]]
    if rest and rest[-1] == "" and len(rest) > 1:
        rest = rest[:-1]  # tolerate one trailing slash
    if not rest or rest[0].lower() not in RESOURCES:
        return RouteInfo(None, None, None, None, raw_path)
    resource = RESOURCES[rest[0].lower()]
    tail = rest[1:]
    base = f"/api/{resource}"
    if resource == "token":
        return RouteInfo("/api/token" if not tail else None, "Token", None, None, base if not tail else raw_path)
    if not tail:
        group = "Write" if method in ("POST", "PUT") else (
            "Standard" if resource in ("ProductAvailability", "ProductPrices") else "List"
        )
        return RouteInfo(base, resource, None, group, base)
    key_name = KEY_NAMES.get(resource)
    if key_name is None:
        return RouteInfo(None, resource, None, None, raw_path)
    if resource == "CustomerOrders" and len(tail) == 2 and tail[1].lower() == "cancel":
        return RouteInfo(f"{base}/{{{key_name}}}/cancel", resource, tail[0], "Write",
                         f"{base}/{tail[0]}/cancel")
    if len(tail) > 1 and resource != "Products":
        return RouteInfo(None, resource, None, None, raw_path)  # no such sub-resource
    key = "/".join(tail)  # product numbers are free text: an unencoded slash is taken as part of the number
    group = "Write" if method in ("POST", "PUT") else "Standard"
    return RouteInfo(f"{base}/{{{key_name}}}", resource, key, group, f"{base}/{key}")


def normalise_query(query_string: bytes) -> tuple[dict[str, list[str]], bytes, bool]:
    """(name -> values sorted by name, canonical query string, changed?)."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    changed = False
    out: dict[str, list[str]] = {}
    canonical: list[tuple[str, str]] = []
    for name, value in pairs:
        canon = QUERY_NAMES.get(name.lower(), name)
        changed = changed or canon != name
        out.setdefault(canon, []).append(value)
        canonical.append((canon, value))
    qs = urlencode(canonical, quote_via=quote).encode() if changed else query_string
    return dict(sorted(out.items())), qs, changed


class XtndPipeline:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.rt = runtime
        # Single-record reads are the hottest calls a webshop makes. They take no query and their only input is
        # the path key, so after auth, rate limit, faults and with the journal as for every call they are answered
        # here, skipping FastAPI's routing and dependency solving (about half the cost of a request). The FastAPI
        # routes stay: they document these operations in the OpenAPI and answer any method but GET.
        from . import render

        b = runtime.backend
        self._fast_reads: dict[str, Callable[[str], dict[str, Any]]] = {
            "/api/Products/{productNumber}": lambda key: render.product_full(b.product(key)),
            "/api/Customers/{customerNumber}": lambda key: render.customer_full(b.customer(key)),
            "/api/CustomerOrders/{orderNumber}": lambda key: render.order_full(b.order(key)),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path")
        path_text = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
        route = classify(scope["method"], path_text.split("?", 1)[0])
        if route is None:
            await self.app(scope, receive, send)
            return
        await self._api(scope, receive, send, route)

    async def _api(self, scope: Scope, receive: Receive, send: Send, route: RouteInfo) -> None:
        rt = self.rt
        started = time.perf_counter()
        now = rt.clock.now_ms()
        method: str = scope["method"]
        query, query_string, q_changed = normalise_query(scope.get("query_string", b""))
        trace_id = rt.ids.guid("trace")
        record: dict[str, Any] = {
            "Kind": "api",
            "Time": iso_ms(now),
            "ClientId": None,
            "Method": method,
            "Path": route.canonical_path,
            "Route": route.template,
            "Resource": route.resource,
            "Key": route.key,
            "Query": query,
            "ProductNumbers": [],
            "Status": 0,
            "ErrorType": None,
            "RateGroup": route.group,
            "RetryAfter": None,
            "LatencyMs": 0.0,
            "Fault": None,
            "BodySha256": None,
            "Body": None,
            "ResultKey": None,
            "TotalPages": None,
        }
        status_holder: dict[str, Any] = {"status": 0, "headers": []}
        extra_headers: list[tuple[bytes, bytes]] = []

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["headers"] = message.get("headers", [])
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + extra_headers
            await send(message)

        async def reply(response: Any) -> None:
            await response(scope, receive, send_wrapper)

        try:
            # 1. body, bounded
            body = await read_body(scope, receive, rt.settings.max_body_bytes)
            if body is None:
                await reply(error_response(
                    413, f"The request body is larger than {rt.settings.max_body_bytes} bytes.",
                    [("body", "Too large.")], trace_id=trace_id))
                return
            if body and method in ("POST", "PUT") and route.resource != "Token":
                self._describe_body(record, body)
            if route.key is not None and route.resource == "Products":
                record["ProductNumbers"] = [route.key]
            elif "productNumber" in query:
                record["ProductNumbers"] = list(query["productNumber"])

            if route.template is None:
                await reply(error_response(
                    404, f"No API resource at {route.canonical_path}.", [("path", "Unknown resource.")],
                    trace_id=trace_id))
                return

            # 2. auth (the token endpoint is the way in, so it is exempt)
            client_id: str | None = None
            if route.resource != "Token":
                client_id, problem = self._authenticate(scope)
                if client_id is None:
                    await reply(error_response(
                        401, problem, [("Authorization", problem)], trace_id=trace_id,
                        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}))
                    return
                record["ClientId"] = client_id

            ctx = RequestContext(client_id, route, body, trace_id)
            inner_scope = dict(scope)
            inner_scope["path"] = route.canonical_path  # already decoded once by classify(); never twice
            inner_scope["raw_path"] = route.canonical_path.encode("latin-1", "replace")
            if q_changed:
                inner_scope["query_string"] = query_string
            inner_scope["xtnd"] = ctx

            # 3. injected faults (API fault plans). One that answers instead of XTND (an error status, an outage, a
            # dropped connection) is not counted against the client's rate limit: the harness's own faults never
            # use up the client's budget.
            faults = rt.faults
            picked = faults.pick(method, ctx, now) if faults is not None and client_id is not None else None
            if picked is not None and picked.replaces_answer:
                assert faults is not None
                await faults.apply(picked, inner_scope, ctx, record, self._replay(body, receive), send_wrapper,
                                   self.app, send)
                return

            if client_id is not None:
                # 4. rate limit
                assert route.group is not None
                verdict = rt.limiter.check(client_id, route.group)
                extra_headers += [
                    (b"x-ratelimit-limit", str(verdict.limit).encode()),
                    (b"x-ratelimit-remaining", str(verdict.remaining).encode()),
                    (b"x-ratelimit-reset", str(verdict.reset_seconds).encode()),
                ]
                if not verdict.allowed:
                    record["RetryAfter"] = verdict.retry_after
                    await reply(error_response(
                        429, f"Rate limit of {verdict.limit} calls per minute for the {route.group} group exceeded.",
                        [("RateLimit", route.group)], trace_id=trace_id,
                        headers={"Retry-After": str(verdict.retry_after)}))
                    return

            # 5. the endpoint (through a latency, truncate or commit-then-drop fault when one was picked)
            if picked is not None:
                assert faults is not None
                handled = await faults.apply(picked, inner_scope, ctx, record, self._replay(body, receive),
                                             send_wrapper, self.app, send)
                if handled:
                    return
            fast = self._fast_reads.get(route.template) if method == "GET" and route.key is not None else None
            try:
                if fast is not None:
                    await reply(self._fast_read(fast, route.key, trace_id))
                else:
                    await self.app(inner_scope, self._replay(body, receive), send_wrapper)
            except Exception as exc:  # never a bare crash: XTND's Internal error, and the cause in the log
                rt.log_error(f"{method} {route.canonical_path} failed: {exc!r}")
                if status_holder["status"] == 0:
                    await reply(error_response(500, "An internal error occurred.", [], trace_id=trace_id))
            if ctx.result_key is not None:
                record["ResultKey"] = ctx.result_key
            if ctx.page_info:
                record["TotalPages"] = ctx.page_info.get("TotalPages")
            if route.resource == "Token" and ctx.client_id:
                record["ClientId"] = ctx.client_id
        finally:
            status = record["Status"] or status_holder["status"]  # a commit-then-drop keeps what was committed
            if record["Fault"] in ("drop", "truncate") or (record["Fault"] is None and not status_holder["status"]):
                status = status if record["Fault"] == "truncate" else 0  # 0: no complete answer reached the client
            record["Status"] = status
            if status >= 400 or (status == 0 and record["Fault"] is None):
                record["ErrorType"] = {401: "Unauthorized", 429: "Throttled", 503: "Throttled"}.get(
                    status, "Internal" if status >= 500 or status == 0 else "Validation")
            if record["RetryAfter"] is None:
                for name, value in status_holder.get("headers", []):
                    if name == b"retry-after":
                        record["RetryAfter"] = int(value)
            record["LatencyMs"] = round((time.perf_counter() - started) * 1000, 3)
            rt.journal.append(record)

    @staticmethod
    def _fast_read(read: Callable[[str], dict[str, Any]], key: str | None, trace_id: str) -> Any:
        from ..domain.errors import DomainError
        from .errors import json_response

        assert key is not None
        try:
            return json_response(read(key))
        except DomainError as e:
            return error_response(e.status, e.message, [(f.field, f.message) for f in e.errors], trace_id=trace_id,
                                  error_type=e.error_type)

    def _authenticate(self, scope: Scope) -> tuple[str | None, str]:
        header = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        if not header:
            return None, "An Authorization: Bearer token is required."
        scheme, _, token = header.decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None, "The Authorization header must be 'Bearer <token>'."
        return self.rt.client_of(token.strip())

    @staticmethod
    def _replay(body: bytes, downstream: Receive) -> Receive:
        """Hand the buffered body to the app once; after that, wait on the real connection (disconnects)."""
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await downstream()

        return receive

    @staticmethod
    def _describe_body(record: dict[str, Any], body: bytes) -> None:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            record["BodySha256"] = hashlib.sha256(body).hexdigest()
            return
        record["Body"] = parsed
        record["BodySha256"] = hashlib.sha256(orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS)).hexdigest()
        if isinstance(parsed, dict) and isinstance(parsed.get("Lines"), list):
            record["ProductNumbers"] = [
                str(ln.get("ProductNumber")) for ln in parsed["Lines"] if isinstance(ln, dict) and "ProductNumber" in ln
            ]
