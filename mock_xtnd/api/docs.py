"""The documents, where the vendor serves them, working offline: the OpenAPI document at ``/RESTAPI/swagger/docs/v1``
and Swagger UI at ``/RESTAPI/swagger/ui/index`` (chosen by the mock: the real API serves its Swagger there), and the
control surface's own UI at ``/_mock/docs``. Swagger UI's script and style come from an installed package
(fastapi-offline ships Swagger UI's distribution files) and are served by the app itself: no page loads anything
from a CDN, so the docs work without internet.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, Response

from ..settings import Settings
from .errors import ApiError
from .openapi import build_openapi

DOCUMENT = "/RESTAPI/swagger/docs/v1"
UI = "/RESTAPI/swagger/ui/index"
ASSETS = "/RESTAPI/swagger/ui"
_TYPES = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8",
          "favicon.png": "image/png"}
# the package ships no source maps: drop the comment that would make a browser's devtools ask for one
_SOURCE_MAP = re.compile(rb"\n?/[*/]# sourceMappingURL=[^\n]*\s*$")
# Swagger UI's defaults, less the online validator badge (it would fetch an image from the validator's host)
UI_PARAMETERS = {"dom_id": "#swagger-ui", "layout": "BaseLayout", "deepLinking": True, "showExtensions": True,
                 "showCommonExtensions": True, "validatorUrl": None}


@cache
def asset(name: str) -> bytes:
    data = resources.files("fastapi_offline").joinpath("static", name).read_bytes()
    return _SOURCE_MAP.sub(b"\n", data) if name.endswith((".js", ".css")) else data


def ui_page(openapi_url: str, title: str, extra: dict[str, object] | None = None) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=openapi_url, title=title, swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css", swagger_favicon_url=f"{ASSETS}/favicon.png",
        swagger_ui_parameters={**UI_PARAMETERS, **(extra or {})})


def install_docs(app: FastAPI, admin: FastAPI, settings: Settings) -> None:
    """Routes for the API's document and UI on ``app``, and an offline ``/docs`` on the mounted ``admin`` app
    (create it with ``docs_url=None``)."""
    document = json.dumps(build_openapi(settings), ensure_ascii=False).encode()

    @app.get(DOCUMENT, include_in_schema=False)
    async def openapi_document() -> Response:
        return Response(document, media_type="application/json; charset=utf-8")

    @app.get(UI, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        # the header is an apiKey scheme: "Authorize" asks for the whole value, Basic base64(user:password)
        return ui_page(DOCUMENT, "XTND REST API (mock-xtnd) - Swagger UI", {"persistAuthorization": True})

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    async def swagger_asset(name: str) -> Response:
        media_type = _TYPES.get(name)
        if media_type is None:
            raise ApiError(404, f"No such resource: {ASSETS}/{name}.")
        return Response(asset(name), media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})

    @admin.get("/docs", include_in_schema=False)
    async def admin_ui() -> HTMLResponse:
        return ui_page("/_mock" + (admin.openapi_url or "/openapi.json"), f"{admin.title} - Swagger UI")
