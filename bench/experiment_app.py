"""An EXPERIMENT, not the product: the fake with a proposed change applied from outside, to measure what the change
would buy before anyone writes it into mock_xtnd.

Both experiments this file carried were adopted, and live on here only as far as they still say something:

- the "fast path" (hot reads skipping FastAPI's router and dependency solving) became the product's request path:
  since issue 11 the pipeline (mock_xtnd/api/pipeline.py) dispatches every API operation from the route table
  without FastAPI, so there is nothing left to apply; the app below is the product itself unless a flag says
  otherwise (bench_api.py's ``experiment_*`` rows, where still run, measure the product twice);
- ``--raw-sender``: the webhook sender's HTTP client (``Webhooks._post``) replaced by the first raw asyncio
  HTTP/1.1 client (``RawSender``), everything else (outbox, signing, journal, retries, faults) unchanged. The
  product's mock_xtnd/webhooks/sender.py grew out of it (adding the retry of a stale keep-alive and bodies without
  a length); bench_webhooks.py --experiments keeps the two side by side.

    python bench/experiment_app.py --port 8098 --config cfg.yaml [--raw-sender]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import time
from urllib.parse import urlsplit

from fastapi import FastAPI

from mock_xtnd.app import create_app
from mock_xtnd.settings import Settings, load_settings


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


def create_experiment_app(settings: Settings, raw_sender: bool = False) -> FastAPI:
    app = create_app(settings)
    if raw_sender:
        webhooks = app.state.runtime.webhooks
        webhooks._post = RawSender(settings.delivery.timeout_seconds).post  # instance attribute wins
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--config", default=None)
    parser.add_argument("--raw-sender", action="store_true")
    args = parser.parse_args()
    app = create_experiment_app(load_settings(args.config), raw_sender=args.raw_sender)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")).run(sockets=[sock])


if __name__ == "__main__":
    main()
