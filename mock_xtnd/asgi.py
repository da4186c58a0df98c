"""Reading a request body in raw ASGI, bounded: shared by the fake's API pipeline and the reference sync's webhook
receiver, the two places that answer requests without a framework."""

from __future__ import annotations

from starlette.types import Receive, Scope


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None when it is larger than ``limit`` bytes: said by its Content-Length (nothing
    is read then) or found while reading. A client that disconnects mid-body leaves what arrived."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                if int(value) > limit:
                    return None
            except ValueError:
                pass
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)
