"""What stands in front of the control surface ``/_mock``: it can reset the fake, move stock, cancel orders,
change the API's passwords and point webhooks anywhere, so it must not be reachable from places it was not meant
for.

- **Cross-site requests.** A web page the developer happens to visit can make the browser send a "simple" request
  to ``http://127.0.0.1:8080`` - a POST without a body, or with a form or text body - without asking first. So
  every state-changing call (any method but GET, HEAD, OPTIONS) must carry ``Content-Type: application/json`` or
  the header ``X-Mock-Xtnd`` (any value; ``1`` by convention): a browser sends either across origins only after a
  CORS preflight, which the fake never grants. httpx's ``json=`` and ``curl -H 'Content-Type: application/json'``
  already do; a body-less POST adds ``X-Mock-Xtnd: 1``. Otherwise: 403.
- **An admin token** (``admin_token`` in the config): every ``/_mock`` call then needs
  ``Authorization: Bearer <token>`` (401 otherwise). For a fake bound to a non-loopback address.
- **Body size**: a ``/_mock`` body larger than ``admin_max_body_bytes`` (1 MiB) is refused with 413 before it is
  read.

Errors are the API's bodies (``{"Message": ...}``), as everywhere under ``/_mock``.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..asgi import read_body

if TYPE_CHECKING:
    from ..runtime import Runtime

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CUSTOM_HEADER = b"x-mock-xtnd"
CROSS_SITE = ("A state-changing /_mock call needs 'Content-Type: application/json' or the header 'X-Mock-Xtnd: 1' "
              "(a web page cannot make a browser send either to another site without asking first, so it cannot "
              "change the fake).")
NO_TOKEN = "This fake requires 'Authorization: Bearer <admin_token>' on every /_mock call."


def is_json(content_type: bytes | None) -> bool:
    """``application/json`` or ``application/*+json``, parameters allowed. Only the media type counts:
    ``text/plain; application/json`` is text (a browser sends it without a preflight)."""
    if not content_type:
        return False
    essence = content_type.split(b";", 1)[0].strip().lower()
    return essence == b"application/json" or (essence.startswith(b"application/") and essence.endswith(b"+json"))


class ControlGuard:
    def __init__(self, app: ASGIApp, rt: Runtime) -> None:
        self.app = app
        self.rt = rt

    @property
    def routes(self) -> list[Any]:
        """The guarded app's routes, so the mount still lists them (url_path_for, route walkers)."""
        return list(getattr(self.app, "routes", []))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.rt.settings
        headers = dict(scope["headers"])
        token = settings.admin_token
        if token is not None:
            given = headers.get(b"authorization", b"")
            if not (given[:7].lower() == b"bearer " and hmac.compare_digest(given[7:].strip(), token.encode())):
                await _answer(send, 401, NO_TOKEN, [(b"www-authenticate", b'Bearer realm="mock-xtnd"')])
                return
        if scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        if not (is_json(headers.get(b"content-type")) or headers.get(CUSTOM_HEADER)):
            await _answer(send, 403, CROSS_SITE)
            return
        limit = settings.admin_max_body_bytes
        body = await read_body(scope, receive, limit)
        if body is None:
            await _answer(send, 413, f"The request body is larger than {limit} bytes.")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _answer(send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = orjson.dumps({"Message": message})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
