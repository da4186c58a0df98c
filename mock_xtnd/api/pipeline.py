"""One request path you can read top to bottom (stripe-mock's HandleRequest), as a raw ASGI middleware:

    classify (route table) -> auth -> body (bounded) -> injected fault -> rate limit -> parse and validate
    -> transient quirk -> handler -> answer -> journal

Every early exit answers in XTND's error format. Everything under ``/RESTAPI`` but the Swagger documents is
answered here, without FastAPI's routing and dependency solving (about half the cost of a request), from the one
route table in routes.py; ``/_mock`` and the documents go on to the FastAPI app.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote

import orjson

from ..asgi import read_body
from ..domain.clock import iso_ms
from ..domain.errors import DomainError, StoreUnavailable
from .call import Call, RawJson
from .errors import DEADLOCK, INTERNAL, JSON, TIMEOUT, UNAUTHORIZED, ApiError, error_kind, invalid
from .facts import facts
from .routes import AREA_OF, BASE, RESOURCES, Route, arities, match

if TYPE_CHECKING:
    from ..faults.api import Picked
    from ..runtime import Runtime

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

AUTH_HEADER = b"extendbasicauthorization"
JSON_HEADERS = [(b"content-type", JSON.encode())]
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
# paths under /RESTAPI the FastAPI app serves (the Swagger document and UI)
DOCS_PREFIX = "/restapi/swagger"


class Classified:
    """Where a request goes: a route with its path values, or the 404/405 that answers it."""

    __slots__ = ("route", "path_values", "canonical", "error", "resource")

    def __init__(self, canonical: str, route: Route | None = None, path_values: dict[str, str] | None = None,
                 error: ApiError | None = None, resource: str | None = None) -> None:
        self.canonical = canonical
        self.route = route
        self.path_values = path_values or {}
        self.error = error
        self.resource = resource


class XtndPipeline:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.rt = runtime
        self.company_lower = runtime.settings.company.lower()
        self.base_hint = f"{BASE}/v1_0/{runtime.settings.company}/"
        self._auth_cache: dict[bytes, str] = {}
        self._auth_users = runtime.users  # the cache is valid for this mapping only
        self._facts = facts()

    # ------------------------------------------------------------------ ASGI entry
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path")
        path_text = (raw_path.decode("latin-1") if raw_path else quote(scope["path"])).split("?", 1)[0]
        lower = path_text.lower()
        if lower == "/" or lower.startswith(("/_mock", DOCS_PREFIX, "/favicon")):
            await self.app(scope, receive, send)
            return
        await self._api(scope, receive, send, self.classify(scope["method"], path_text))

    # ------------------------------------------------------------------ classify
    def classify(self, method: str, raw_path: str) -> Classified:
        """Match ``/RESTAPI/{area}/{client}/{Resource}/...`` (any case) against the route table."""
        raw_segments = raw_path.split("/")
        if len(raw_segments) > 2 and raw_segments[-1] == "":
            raw_segments = raw_segments[:-1]  # tolerate one trailing slash
        segments = [unquote(s) for s in raw_segments]
        hint = f"XTND's API lives under {self.base_hint}{{Resource}}."
        if len(segments) < 2 or segments[1].lower() != "restapi":
            return Classified(raw_path, error=ApiError(404, f"No API resource at {unquote(raw_path)}. {hint}"))
        area = AREA_OF.get(segments[2].lower()) if len(segments) > 2 else None
        if area is None or len(segments) < 5:
            return Classified(raw_path, error=ApiError(404, f"No API resource at {unquote(raw_path)}. {hint}"))
        client, resource_given, tail = segments[3], segments[4], segments[5:]
        if client.lower() != self.company_lower:
            return Classified(raw_path, error=ApiError(
                404, f"There is no company '{client}' on this server. {hint}"))
        resource = RESOURCES.get(resource_given.lower())
        canonical = "/".join([BASE, area, self.rt.settings.company, resource or resource_given, *tail])
        if resource is None:
            return Classified(canonical, error=ApiError(404, f"No resource '{resource_given}' in XTND's API. {hint}"))
        routes = match(area, resource, tail)
        if routes is None:
            known = arities(area, resource)
            extra = ""
            if tail and any(n < len(tail) for n in known):
                extra = " Keys that contain '/' must be URL-encoded as %2F."
            return Classified(canonical, error=ApiError(404, f"No API resource at {canonical}.{extra}"),
                              resource=resource)
        route = routes.get(method)
        if route is None:
            allowed = ", ".join(sorted(routes))
            return Classified(canonical, error=ApiError(
                405, f"The requested resource does not support http method '{method}'.",
                headers={"Allow": allowed}), resource=resource)
        return Classified(canonical, route, dict(zip(route.params, tail, strict=True)), resource=resource)

    # ------------------------------------------------------------------ auth
    def _authenticate(self, scope: Scope) -> tuple[str | None, str | None]:
        """(the authenticated user or None, the user the header names even when refused - for the journal)."""
        header = b""
        for name, value in scope["headers"]:
            if name == AUTH_HEADER:
                header = value
                break
        if not header:
            return None, None
        users = self.rt.users
        if users is not self._auth_users:  # users changed (PUT /_mock/users): forget what was accepted
            self._auth_cache = {}
            self._auth_users = users
        cached = self._auth_cache.get(header)
        if cached is not None:
            return cached, cached
        scheme, _, encoded = header.decode("latin-1").strip().partition(" ")
        if scheme.lower() != "basic":
            return None, None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        username, sep, password = decoded.partition(":")
        if not sep:
            return None, None
        claimed = username[:200]
        expected = users.get(username)
        # compare in constant time, and compare even for an unknown user so timing tells nothing
        good = hmac.compare_digest(password.encode(), (expected if expected is not None else password + "x").encode())
        if not good or expected is None:
            return None, claimed
        if len(self._auth_cache) < 64:
            self._auth_cache[header] = username
        return username, claimed

    # ------------------------------------------------------------------ the request path
    async def _api(self, scope: Scope, receive: Receive, send: Send, where: Classified) -> None:
        rt = self.rt
        started = time.perf_counter()
        now = rt.clock.now_ms()
        method: str = scope["method"]
        route = where.route
        raw_query = self._raw_query(scope.get("query_string", b""), route)
        record: dict[str, Any] = {
            "kind": "api", "time": iso_ms(now), "user": None, "claimedUser": None, "method": method,
            "path": where.canonical,
            "route": route.template if route else None, "operation": route.op_id if route else None,
            "resource": where.resource, "key": None, "warehouse": None, "query": raw_query, "productNumbers": [],
            "status": 0, "errorKind": None, "message": None, "rateFamily": None, "retryAfter": None,
            "latencyMs": 0.0, "fault": None, "quirk": None, "bodySha256": None, "body": None, "resultKey": None,
            "pageScheme": None, "page": None, "pageSize": None, "rows": None, "totalPages": None, "lastPage": None,
        }
        if route is not None:
            pv = where.path_values
            record["key"] = pv.get("id") or pv.get("productNumber")
            record["warehouse"] = pv.get("warehouse") or _first(raw_query.get("warehouse"))
            if route.resource in ("Products", "ProductAvailability") and record["key"] is not None:
                record["productNumbers"] = [record["key"]]
            elif "productNumber" in raw_query:
                record["productNumbers"] = [v for v in raw_query["productNumber"] if v]
            elif "productNumberList" in raw_query:
                record["productNumbers"] = [v for v in raw_query["productNumberList"] if v]
        answer: tuple[int, bytes, list[tuple[bytes, bytes]]] | None = None
        transport: str | None = None  # "drop" | "truncate" | "commit-then-drop": how the answer is (not) delivered
        try:
            answer, transport = await self._answer(scope, receive, where, record, now)
        except ApiError as e:
            answer = self._error(e, record)
        except Exception as exc:  # never a bare crash: XTND's 500, and the cause in the log
            rt.log_error(f"{method} {where.canonical} failed: {exc!r}")
            answer = self._error(ApiError(500, INTERNAL), record)
        finally:
            if answer is not None:  # 0: no complete answer reached the client
                record["status"] = 0 if transport in ("drop", "commit-then-drop") else answer[0]
            record["latencyMs"] = round((time.perf_counter() - started) * 1000, 3)
            if record["errorKind"] is None:
                record["errorKind"] = error_kind(record["status"], record["message"])
            rt.journal.append(record)
        if answer is None:
            return
        status, body, headers = answer
        if transport in ("drop", "commit-then-drop"):
            await self._drop(send)
            return
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        if transport == "truncate":
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            self._close_transport(send)
            return
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: Scope, receive: Receive, where: Classified, record: dict[str, Any],
                      now: int) -> tuple[tuple[int, bytes, list[tuple[bytes, bytes]]], str | None]:
        rt = self.rt
        method = record["method"]
        if where.error is not None:
            raise where.error
        route = where.route
        assert route is not None

        # 1. auth, before the body is read: an unauthenticated upload costs nothing
        user, record["claimedUser"] = self._authenticate(scope)
        if user is None:
            raise ApiError(401, UNAUTHORIZED, headers={"WWW-Authenticate": 'Basic realm="XTND"'})
        record["user"] = user

        # 2. the body, bounded
        body_bytes = b""
        if method in WITH_BODY or route.scalar_body is not None:
            got = await read_body(scope, receive, rt.settings.max_body_bytes)
            if got is None:
                raise ApiError(413, f"The request body is larger than {rt.settings.max_body_bytes} bytes.")
            body_bytes = got
            parsed_body = self._describe_body(record, body_bytes)
        else:
            parsed_body = None

        # 3. injected faults. One that answers instead of XTND (a status, a transient 400, an outage, a dropped
        # connection) is not counted against the rate limit: the harness's own faults never use up the budget.
        picked: Picked | None = None
        if rt.faults is not None and rt.faults.faults:
            names = (where.canonical.lower(), route.template.lower(), _relative(where.canonical), route.op_id.lower())
            picked = rt.faults.pick(method, names, user, now)
        if picked is not None:
            record["fault"] = picked.label
            if picked.kind in ("drop", "outage"):
                return (0, b"", []), "drop"
            error = picked.error(now)
            if error is not None:
                raise error

        # 4. the rate limit of the operation's family (an operation whose facts document no 429 is not limited)
        limit_headers: list[tuple[bytes, bytes]] = []
        if route.limited:
            verdict = rt.limiter.check(route.family)
            record["rateFamily"] = route.family
            limit_headers = [(b"x-ratelimit-limit", str(verdict.limit).encode()),
                             (b"x-ratelimit-remaining", str(verdict.remaining).encode()),
                             (b"x-ratelimit-reset", str(verdict.reset_epoch).encode())]
            if not verdict.allowed:
                raise ApiError(429, f"Too many requests (Rate limit = {self._limit_name(route.family)}).",
                               headers={"Retry-After": str(verdict.retry_after),
                                        "x-ratelimit-limit": str(verdict.limit), "x-ratelimit-remaining": "0",
                                        "x-ratelimit-reset": str(verdict.reset_epoch)})

        # 5. parse and validate the query and the body against the operation's facts (a refusal was counted, so it
        # carries the limit headers like every other counted answer)
        try:
            call = Call(rt, route, where.path_values, self._query(route, record["query"]),
                        self._body(route, body_bytes, parsed_body), user, record, now)
        except ApiError as e:
            e.headers = {**dict((k.decode(), v.decode()) for k, v in limit_headers), **(e.headers or {})}
            raise

        # 6. a transient failure, as a real tenant's database sometimes answers (quirk; nothing is changed)
        if rt.quirk_dice is not None and rt.quirk_dice.random() < rt.settings.quirks.transient_errors:
            deadlock = rt.quirk_dice.random() < 0.5
            record["quirk"] = "transient-deadlock" if deadlock else "transient-timeout"
            raise ApiError(400, DEADLOCK.format(pid=50 + rt.quirk_dice.randrange(200)) if deadlock else TIMEOUT,
                           headers=dict((k.decode(), v.decode()) for k, v in limit_headers), kind="Transient")

        # 7. latency, then the handler
        if picked is not None and picked.kind == "latency":
            await asyncio.sleep(picked.latency_ms() / 1000)
        try:
            value = route.handler(call)
        except DomainError as e:
            raise self._domain_error(e, route, limit_headers) from None
        except StoreUnavailable as e:  # the commit was refused and rolled back: nothing changed (docs/wire.md)
            raise store_error(rt, e, dict((k.decode(), v.decode()) for k, v in limit_headers)) from None
        except ApiError as e:
            e.headers = {**dict((k.decode(), v.decode()) for k, v in limit_headers), **(e.headers or {})}
            raise
        body = value if isinstance(value, RawJson) else orjson.dumps(value)
        transport = picked.kind if picked is not None and picked.kind in ("truncate", "commit-then-drop") else None
        return (200, body, JSON_HEADERS + limit_headers), transport

    # ------------------------------------------------------------------ pieces
    def _limit_name(self, family: str) -> str:
        limit = self.rt.limiter.limit_of(family)
        return "Standard" if limit == 300 else f"{family} {limit}"

    @staticmethod
    def _domain_error(e: DomainError, route: Route, limit_headers: list[tuple[bytes, bytes]]) -> ApiError:
        headers = {k.decode(): v.decode() for k, v in limit_headers}
        if e.kind == "invalid" and e.errors:
            err = invalid([(f.field, f.message) for f in e.errors])
            err.headers = headers
            return err
        status = 404 if e.kind == "not_found" and route.single else 400
        return ApiError(status, e.message, headers=headers)

    def _error(self, e: ApiError, record: dict[str, Any]) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        record["message"] = e.message
        record["errorKind"] = e.kind or error_kind(e.status, e.message)
        retry = (e.headers or {}).get("Retry-After")
        if retry is not None:
            record["retryAfter"] = int(retry)
        headers = list(JSON_HEADERS)
        for k, v in (e.headers or {}).items():
            headers.append((k.lower().encode("latin-1"), str(v).encode("latin-1")))
        return e.status, orjson.dumps(e.body()), headers

    @staticmethod
    def _raw_query(query_string: bytes, route: Route | None) -> dict[str, list[str]]:
        """Query parameters, names in the operation's canonical case (ASP.NET binds them case-insensitively),
        sorted by name."""
        if not query_string:
            return {}
        names = {p.name.lower(): p.name for p in route.facts.query} if route is not None else {}
        out: dict[str, list[str]] = {}
        for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            out.setdefault(names.get(name.lower(), name), []).append(value)
        return dict(sorted(out.items()))

    def _query(self, route: Route, raw: dict[str, list[str]]) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []
        for param in route.facts.query:
            values = raw.get(param.name)
            if values is None:
                if param.required:
                    problems.append((param.name, f"The {param.name} field is required."))
                continue
            parsed[param.name] = self._facts.query_value(param, values, problems)
            if param.required and parsed[param.name] in (None, "", []):
                problems.append((param.name, f"The {param.name} field is required."))
        if problems:
            raise invalid(problems)
        return parsed

    def _body(self, route: Route, body_bytes: bytes, parsed: Any) -> Any:
        param = route.facts.body
        if param is None:
            return self._scalar_body(route, body_bytes, parsed)
        if not body_bytes.strip():
            raise invalid([(param.name, f"A {param.type} body is required.")])
        if parsed is _NOT_JSON:
            raise invalid([(param.name, "The body is not valid JSON.")])
        problems: list[tuple[str, str]] = []
        value = self._facts.validate(param.type, parsed, param.name, problems)
        if parsed is None:
            problems.append((param.name, f"A {param.type} body is required."))
        if problems:
            raise invalid(problems)
        return value

    def _scalar_body(self, route: Route, body_bytes: bytes, parsed: Any) -> Any:
        """The scalar a GET's body may carry (GET PurchaseOrders' isOpen), as ASP.NET binds a nullable [FromBody]
        parameter: no body or null is null; anything but its type is a 400 naming the parameter (chosen)."""
        param = route.scalar_body
        if param is None or not body_bytes.strip():
            return None
        if parsed is _NOT_JSON:
            raise invalid([(param.name, "The body is not valid JSON.")])
        problems: list[tuple[str, str]] = []
        value = self._facts.validate(param.type, parsed, param.name, problems)
        if problems:
            raise invalid(problems)
        return value

    @staticmethod
    def _describe_body(record: dict[str, Any], body: bytes) -> Any:
        if not body:
            return None
        try:
            # a UTF-8 byte-order mark is allowed, as .NET's JSON reader allows it
            parsed = orjson.loads(body[3:] if body.startswith(b"\xef\xbb\xbf") else body)
        except orjson.JSONDecodeError:
            record["bodySha256"] = hashlib.sha256(body).hexdigest()
            return _NOT_JSON
        record["body"] = parsed
        record["bodySha256"] = hashlib.sha256(orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS)).hexdigest()
        if isinstance(parsed, dict):
            products = _body_products(parsed)
            if products:
                record["productNumbers"] = products
        return parsed

    @staticmethod
    def _close_transport(send: Send) -> bool:
        """uvicorn's send is bound to its request cycle, which holds the transport: closing it drops the
        connection for real. Under an in-process transport there is none; the caller then ends incompletely."""
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is not None:
            transport.close()
            return True
        return False

    async def _drop(self, send: Send) -> None:
        if self._close_transport(send):
            return
        # no transport to close: announce a body that never comes, so the client cannot read a complete answer
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"1024"), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"", "more_body": True})


_NOT_JSON = object()


def _first(values: list[str] | None) -> str | None:
    return values[0] if values else None


def _relative(canonical: str) -> str:
    """The path after the company, lower case: ``productavailability/100003/1``."""
    parts = canonical.split("/", 4)  # "", RESTAPI, v1_0, company, the rest
    return parts[4].lower() if len(parts) > 4 else ""


def _body_products(body: dict[str, Any]) -> list[str]:
    """Product numbers a write body is about: order rows' products, a stock-level body's product."""
    out: list[str] = []
    rows = next((v for k, v in body.items() if k.lower() == "orderrows"), None)
    if isinstance(rows, list):
        for row in rows:
            product = next((v for k, v in row.items() if k.lower() == "product"), None) \
                if isinstance(row, dict) else None
            if isinstance(product, dict):
                number = next((v for k, v in product.items() if k.lower() == "productnumber"), None)
                if number is not None:
                    out.append(str(number))
    else:
        number = next((v for k, v in body.items() if k.lower() == "productnumber"), None)
        if number is not None:
            out.append(str(number))
    return out


def store_error(rt: Runtime, e: StoreUnavailable, headers: dict[str, str] | None = None) -> ApiError:
    """A refused commit, in XTND's words: a lock another process holds is what SQL Server reports as an execution
    timeout (a transient 400 a client retries); anything else (a full disk, a read-only file) is a 500."""
    rt.log_error(f"commit refused, change rolled back: {e.message}")
    if e.transient:
        return ApiError(400, TIMEOUT, headers=headers, kind="Transient")
    return ApiError(500, INTERNAL, headers=headers)


def seeded_dice(seed: int) -> random.Random:
    """The quirk dice: one stream per run, so one seed reproduces which calls meet a transient failure."""
    return random.Random(f"{seed}/quirks/transient")

