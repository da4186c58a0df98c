"""Run the fake on a real loopback port inside this process (a background thread with its own event loop).

Used by the harness, the pytest plugin and tests that want real HTTP and real signed deliveries without a
subprocess. ``mock-xtnd serve`` is the same app on the main thread.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from .app import create_app
from .runtime import Runtime
from .settings import Settings


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class ServerThread:
    def __init__(self, settings: Settings, startup_timeout: float = 30.0) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.runtime: Runtime = self.app.state.runtime
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((settings.host, settings.port))
        self.port = int(self._sock.getsockname()[1])
        self.base_url = f"http://{settings.host}:{self.port}"
        self.api_url = f"{self.base_url}/RESTAPI/v1_0/{settings.company}"
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="mock-xtnd", daemon=True)
        self._startup_timeout = startup_timeout
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self._sock])
        except BaseException as e:  # surfaced by start()
            self.error = e

    def start(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self.server.started:
            if self.error is not None or not self._thread.is_alive():
                raise RuntimeError(f"mock-xtnd failed to start: {self.error!r}")
            if time.monotonic() > deadline:
                raise RuntimeError("mock-xtnd did not start in time")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
