"""A real HTTP webhook receiver on a loopback port, for tests: records every POST (headers, exact body bytes)
and answers with a status chosen per request by a policy (default 204)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


class Receiver:
    def __init__(self, policy: Callable[[Received], int] | None = None) -> None:
        self.received: list[Received] = []
        self.policy = policy or (lambda _r: 204)
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                rec = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with outer._lock:
                    outer.received.append(rec)
                status = outer.policy(rec)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/xtnd/webhooks"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()  # returns within one poll interval (20 ms, not socketserver's 0.5 s)
        self.server.server_close()
        self._thread.join(timeout=5)

    def envelopes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.json for r in self.received]
