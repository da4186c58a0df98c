"""create_app(settings) wires the fake together. No module-level singletons: two apps never share state.

The public API (everything under ``/RESTAPI`` but the Swagger documents) is answered by the request pipeline
(api/pipeline.py) from the route table; FastAPI serves the mock's own control surface under ``/_mock`` and the
documents, and wraps both.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from . import __version__
from .admin import routes as admin_routes
from .admin.guard import ControlGuard
from .api.docs import install_docs
from .api.errors import ApiError, invalid, json_response
from .api.pipeline import XtndPipeline, store_error
from .domain.errors import DomainError, StoreUnavailable
from .runtime import Runtime
from .settings import Settings


def _field_of(loc: tuple[object, ...] | list[object]) -> str:
    """('body', 'rows', 0, 'quantity') -> 'rows[0].quantity'; ('query', 'limit') -> 'limit'."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "form"):
        parts = parts[1:]
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + str(p)
    return out or "body"


def install_error_handlers(app: FastAPI, rt: Runtime) -> None:
    """The control surface answers in the API's error bodies too (one vocabulary)."""

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> Response:
        return store_error(rt, exc).response()

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        if exc.kind == "invalid" and exc.errors:
            return invalid([(e.field, e.message) for e in exc.errors]).response()
        return ApiError(exc.status, exc.message).response()

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                problems.append(("body", "The body is not valid JSON."))
            else:
                problems.append((_field_of(err.get("loc", ())), str(err.get("msg", "Invalid value."))))
        return invalid(problems).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        text = {404: f"No such resource: {request.url.path}.",
                405: f"The requested resource does not support http method '{request.method}'."}.get(
            exc.status_code, str(exc.detail))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return ApiError(exc.status_code, text, headers=headers).response()


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (RFC 9110); Starlette's own 405 names only the first route's."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))


def _install_parts(rt: Runtime) -> None:
    from .faults.api import ApiFaults
    from .simulate.backoffice import BackOffice
    from .simulate.storm import Storms
    from .ui.dashboard import Dashboard
    from .webhooks.service import Webhooks

    rt.webhooks = Webhooks(rt)
    rt.add_part(rt.webhooks)
    rt.faults = ApiFaults(rt)
    rt.add_part(rt.faults)
    rt.add_part(BackOffice(rt))
    rt.add_part(Storms(rt))
    rt.add_part(Dashboard(rt))  # /_mock/ui and the read endpoints it needs (docs/ui.md)


class XtndApp(FastAPI):
    """The FastAPI app (``/_mock``, documents, lifespan) behind the request pipeline: API calls enter the pipeline
    first and never pass through FastAPI's own middleware stack (error handling, telemetry, body limits cost about
    15 us a request and the pipeline does its own); everything else goes on to FastAPI unchanged."""

    pipeline: XtndPipeline

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.pipeline(scope, receive, send)

    async def fastapi_call(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    rt = runtime or Runtime(settings or Settings())
    if not rt.parts:
        _install_parts(rt)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await rt.start()
        try:
            yield
        finally:
            await rt.stop()

    company = rt.settings.company
    app = XtndApp(title="mock-xtnd", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.pipeline = XtndPipeline(app.fastapi_call, runtime=rt)
    app.state.runtime = rt
    install_error_handlers(app, rt)

    admin = FastAPI(
        title="mock-xtnd control surface",
        version=__version__,
        description="The mock's own surface (never part of XTND's API): reset, truth, back-office moves, clock, "
        "journal, webhooks, faults, storms, quirks, users. camelCase, in the API's names (docs/control-surface.md). "
        "Chosen by the mock.",
        docs_url=None,  # served offline by install_docs
        redoc_url=None,
    )
    admin.include_router(admin_routes.router(rt))
    for extra in rt.admin_routers():
        admin.include_router(extra)
    install_error_handlers(admin, rt)
    install_docs(app, admin, rt.settings)
    app.mount("/_mock", ControlGuard(admin, rt))  # cross-site requests, the admin token, body size (admin/guard.py)

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return json_response({"name": "mock-xtnd", "version": __version__, "api": f"/RESTAPI/v1_0/{company}",
                              "auth": "ExtendBasicAuthorization: Basic base64(username:password)",
                              "docs": "/RESTAPI/swagger/ui/index", "openapi": "/RESTAPI/swagger/docs/v1",
                              "controls": "/_mock/docs", "dashboard": "/_mock/ui"})

    return app

