"""Start ``mock-xtnd serve`` as a real subprocess on a free port and wait (bounded polling) until it answers."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.xtnd import basic

CONSOLE_SCRIPT = Path(sys.executable).parent / "mock-xtnd"


def command() -> list[str]:
    """The installed console script when present (what users run), else the module."""
    return [str(CONSOLE_SCRIPT)] if CONSOLE_SCRIPT.exists() else [sys.executable, "-m", "mock_xtnd.cli"]


@dataclass
class Served:
    proc: subprocess.Popen[str]
    base_url: str  # http://127.0.0.1:<port>
    api_url: str  # the API's base as the banner prints it: http://127.0.0.1:<port>/RESTAPI/v1_0/<company>
    banner: list[str] = field(default_factory=list)

    def api(self, username: str = "demo", password: str = "demo-secret") -> httpx.Client:
        """A client on the API's base path, sending ``ExtendBasicAuthorization`` on every call."""
        return httpx.Client(base_url=self.api_url, headers=basic(username, password), timeout=10)

    def kill9(self) -> None:
        """SIGKILL: no shutdown hooks, no flush - only what was committed survives."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.close_pipes()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.close_pipes()

    def close_pipes(self) -> None:
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def serve(*args: str, timeout: float = 20.0) -> Served:
    """``mock-xtnd serve --port 0 <args>``: read the banner for the bound port, then poll until ``/`` answers."""
    # a file, not a pipe, so a chatty server never blocks on it; it lives as long as the process
    errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
    proc = subprocess.Popen([*command(), "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=errors, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + timeout
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def pump() -> None:  # a thread, so a blocking readline never blocks the test past its deadline
        for text in stdout:
            lines.put(text.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    banner: list[str] = []
    base_url = api_url = None
    while base_url is None or len(banner) < 5:  # the banner has five lines at least
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            errors.seek(0)
            err = errors.read()
            raise AssertionError(f"mock-xtnd serve did not start (exit {proc.returncode}): {err[-2000:]}")
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        banner.append(line)
        m = re.search(r"((http://127\.0\.0\.1:\d+)/RESTAPI/v1_0/[A-Za-z0-9_.-]+)", line)
        if m and base_url is None:
            api_url, base_url = m.group(1), m.group(2)
    while True:
        try:
            if httpx.get(f"{base_url}/", timeout=1).status_code == 200:
                assert api_url is not None
                return Served(proc, base_url, api_url, banner)
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("mock-xtnd serve printed its banner but never answered")
        time.sleep(0.05)
