"""create_app(settings) wires the fake together. No module-level singletons: two apps never share state."""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match, Route

from . import __version__
from .admin import routes as admin_routes
from .api import availability, customers, orders, prices, products, token
from .api.errors import error_response, field_of, json_response
from .api.pipeline import XtndPipeline
from .domain.errors import DomainError
from .runtime import Runtime
from .settings import Settings

API_DESCRIPTION = """\
An offline, stateful fake of the XTND (Extend Commerce) ERP/WMS REST API.

**Documented by XTND** (faithful): `POST CustomerOrders` keeps the webshop's prices; order hooks `OrderReserved`
(no change allowed after it), `OrderPicked`, `OrderCancelled`, `OrderDeliveryDataChanged`, then
`GET customerorders/{id}`; `GET CustomerOrders` list as the no-webhook fallback; `GET ProductAvailability` filtered
by changed-since, products and warehouses, to be called when `AvailableBalanceChanged` arrives (XTND does not
accept clients that call every N minutes for each product); `GET Products`/`GET Customers` lists by last change,
then single records; `POST Customers`; `GET ProductPrices` needs a customer number and answers the net best price
right now; pagination; three kinds of error; HTTP 429 over the rate limit with `x-ratelimit-limit`
(standard group 300); models only gain fields.

**Chosen by the mock** (XTND's public docs are silent; each is configurable where a tenant could differ): the base
path `/api` and case-insensitive paths; OAuth2 client credentials at `POST /api/token`; the paging parameters and
envelope (`page`, `pageSize` default 100 max 1000, stable snapshots for 10 minutes); ISO 8601 UTC timestamps with
milliseconds and an inclusive `changedSince`; repeated query parameters for multi-value filters (at most 200
product numbers); the error envelope and the status code of each error; the three rate-limit groups (Standard
300, List 60, Write 120 per client per rolling minute) and their headers; idempotency keys
`ExternalOrderNumber`/`ExternalCustomerNumber` (identical retry 200, different body 409); backorders when an order
asks for more than is available; the webhook Details per action.
"""


def _install_error_handlers(app: FastAPI, rt: Runtime) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        return error_response(exc.status, exc.message, [(e.field, e.message) for e in exc.errors],
                              trace_id=_trace(request), error_type=exc.error_type)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        message = "The request is not valid."
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                message = "The body is not valid JSON."
                errors.append(("body", f"Malformed JSON: {err.get('ctx', {}).get('error', 'invalid')}"))
                continue
            errors.append((field_of(err.get("loc", ())), str(err.get("msg", "Invalid value."))))
        if errors and message == "The request is not valid.":
            message = f"Invalid value for {errors[0][0]}: {errors[0][1]}"
        return error_response(400, message, errors, trace_id=_trace(request))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {404: "No such resource.", 405: "Method not allowed on this resource."}.get(
            exc.status_code, str(exc.detail))
        # routing errors concern the path; anything else starlette raises (e.g. an undecodable body) the body
        field = "path" if exc.status_code in (404, 405) else "body"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return error_response(exc.status_code, message, [(field, message)], trace_id=_trace(request),
                              error_type="Validation" if exc.status_code < 500 else "Internal", headers=headers)


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (RFC 9110). Starlette's own 405 names only the first route's,
    but GET and POST of one resource are separate routes here."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods
    return ", ".join(sorted(methods))


def _trace(request: Request) -> str:
    ctx = request.scope.get("xtnd")
    return ctx.trace_id if ctx is not None else ""


def _install_parts(rt: Runtime) -> None:
    from .faults.api import ApiFaults
    from .webhooks.service import Webhooks

    rt.webhooks = Webhooks(rt)
    rt.add_part(rt.webhooks)
    rt.faults = ApiFaults(rt)
    rt.add_part(rt.faults)
    from .simulate.backoffice import BackOffice
    from .simulate.storm import Storms

    rt.add_part(BackOffice(rt))
    rt.add_part(Storms(rt))


def _custom_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    spec["servers"] = [{"url": "/", "description": "mock-xtnd (the /api base path is chosen by the mock)"}]
    spec.setdefault("components", {})["securitySchemes"] = {
        "oauth2": {
            "type": "oauth2",
            "description": "OAuth2 client credentials (chosen by the mock). Default client: demo / demo-secret.",
            "flows": {"clientCredentials": {"tokenUrl": "/api/token", "scopes": {}}},
        }
    }
    schemas = spec["components"].get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    paging = app.state.runtime.settings.paging
    for path, ops in spec["paths"].items():
        for op in ops.values():
            # limits the routers enforce from settings, declared so generated clients and fuzzers know them
            for param in op.get("parameters", []):
                if param["name"] == "pageSize":
                    param["schema"]["maximum"] = paging.max_page_size
                elif param["name"] == "productNumber" and param["schema"].get("type") == "array":
                    param["schema"]["maxItems"] = paging.max_product_numbers
            responses = op.get("responses", {})
            r422 = responses.get("422")
            if r422 and "HTTPValidationError" in str(r422):
                del responses["422"]
            if path != "/api/token":
                op["security"] = [{"oauth2": []}]
    links = {
        "GetOrder": {"operationId": "getCustomerOrder", "parameters": {"orderNumber": "$response.body#/OrderNumber"},
                     "description": "Read the order just created."},
        "UpdateOrder": {"operationId": "updateCustomerOrder",
                        "parameters": {"orderNumber": "$response.body#/OrderNumber"}},
        "CancelOrder": {"operationId": "cancelCustomerOrder",
                        "parameters": {"orderNumber": "$response.body#/OrderNumber"}},
    }
    post_orders = spec["paths"]["/api/CustomerOrders"]["post"]["responses"]
    for code in ("200", "201"):
        post_orders[code]["links"] = links
    spec["paths"]["/api/Customers"]["post"]["responses"]["201"]["links"] = {
        "GetCustomer": {"operationId": "getCustomer", "parameters": {"customerNumber": "$response.body#/CustomerNumber"}},
        "CustomerPrices": {"operationId": "listProductPrices",
                           "parameters": {"customerNumber": "$response.body#/CustomerNumber"}},
    }
    spec["paths"]["/api/Products"]["get"]["responses"]["200"]["links"] = {
        "GetFirstProduct": {"operationId": "getProduct",
                            "parameters": {"productNumber": "$response.body#/Items/0/ProductNumber"}},
    }
    spec["paths"]["/api/CustomerOrders"]["get"]["responses"]["200"]["links"] = {
        "GetFirstOrder": {"operationId": "getCustomerOrder",
                          "parameters": {"orderNumber": "$response.body#/Items/0/OrderNumber"}},
    }
    spec["paths"]["/api/Customers"]["get"]["responses"]["200"]["links"] = {
        "GetFirstCustomer": {"operationId": "getCustomer",
                             "parameters": {"customerNumber": "$response.body#/Items/0/CustomerNumber"}},
    }
    app.openapi_schema = spec
    return spec


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

    app = FastAPI(
        title="XTND API (mock-xtnd)",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.runtime = rt
    for module in (token, orders, availability, products, customers, prices):
        app.include_router(module.router(rt))
    _install_error_handlers(app, rt)
    app.openapi = lambda: _custom_openapi(app)  # type: ignore[method-assign]

    admin = FastAPI(
        title="mock-xtnd control surface",
        version=__version__,
        description="The mock's own surface (never part of XTND's API): reset, truth, back-office moves, clock, "
        "journal, webhooks, faults, storms. Chosen by the mock.",
        docs_url="/docs",
        redoc_url=None,
    )
    admin.include_router(admin_routes.router(rt))
    for extra in rt.admin_routers():
        admin.include_router(extra)
    _install_error_handlers(admin, rt)
    app.mount("/_mock", admin)

    app.add_middleware(XtndPipeline, runtime=rt)

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return json_response({"Name": "mock-xtnd", "Version": __version__, "Api": "/api", "Docs": "/docs",
                              "Admin": "/_mock/docs"})

    return app


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()
