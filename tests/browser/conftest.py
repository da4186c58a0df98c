"""Real-browser tests of the dashboard and the HTML reports: Playwright for Python driving Debian's Chromium by its
path (no browser download). A real fake on a loopback port (a background thread), subscribed to a small real
receiver that records every hook and answers what a test tells it to.

Without Chromium or Playwright the tests skip and say how to install them. With ``MOCK_XTND_SCREENSHOTS=1`` they
write the screenshots in docs/ui/ (CI does not set it, so it never changes the tree).
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_xtnd.server import ServerThread
from mock_xtnd.settings import Settings
from mock_xtnd.webhooks.signing import verify
from tests.support.receiver import Receiver

SECRET = "browser-tests-secret"
USER, PASSWORD = "demo", "demo-secret"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "ui"
# What works on these machines: headless, no sandbox (root), no GPU, and nothing that reaches for the network
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Every state-changing /_mock call carries both (the control surface asks it of browsers and tools alike)
CONTROL_HEADERS = {"Content-Type": "application/json", "X-Mock-Xtnd": "1"}
WAIT_MS = 15_000  # bounded waits for what a person would see; never a fixed sleep


def chromium_path() -> str | None:
    for candidate in (os.environ.get("MOCK_XTND_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


class Hooks:
    """A webshop's webhook endpoint (tests/support/receiver.py) that answers ``status`` (200 unless a test says
    otherwise), with what each hook carried: body, ms-signature, and whether it verifies under the secret."""

    def __init__(self) -> None:
        self.status = 200
        self.receiver = Receiver(policy=lambda _r: self.status)
        self.url = self.receiver.url

    @property
    def hooks(self) -> list[dict[str, Any]]:
        received = list(self.receiver.received)
        return [{"body": r.body, "signature": r.headers.get("ms-signature"),
                 "valid": verify(SECRET, r.body, r.headers.get("ms-signature"))} for r in received]

    def actions(self) -> list[str]:
        return [n["Action"] for r in list(self.receiver.received) for n in r.json["Notifications"]]

    def clear(self) -> None:
        self.receiver.received.clear()
        self.status = 200


def wait_for(condition: Callable[[], Any], timeout: float = WAIT_MS / 1000, what: str = "the condition") -> Any:
    """Poll ``condition`` until it is truthy (bounded), for what happens outside the page."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def fake_settings(receiver: Hooks, clock: str = "real") -> Settings:
    return Settings.model_validate({
        "port": 0, "seed": 1, "clock": clock,
        "quirks": {"transient_errors": 0},
        # retries a few hundred ms apart, so a dead letter takes a second, not six minutes
        "delivery": {"retry_delays_seconds": [0.2, 0.2], "timeout_seconds": 5},
        "subscriptions": [{"name": "webshop", "callback_url": receiver.url, "secret": SECRET,
                           "triggers": ["AvailableBalanceChanged", "OrderCreated", "OrderReserved", "OrderPicked",
                                        "OrderCancelled", "OrderDeliveryDataChanged"]}],
    })


class Fake:
    """A running fake and the calls a test makes outside the page: a webshop's API calls, the control surface."""

    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.url = server.base_url
        self.ui = f"{server.base_url}/_mock/ui"
        self.http = httpx.Client(base_url=server.base_url, timeout=30)
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.auth = {"ExtendBasicAuthorization": f"Basic {token}"}

    def control(self, method: str, path: str, body: Any = None) -> Any:
        r = self.http.request(method, f"/_mock{path}", json={} if body is None else body, headers=CONTROL_HEADERS)
        assert r.status_code < 300, r.text
        return r.json()

    def get(self, path: str) -> Any:
        r = self.http.get(f"/_mock{path}")
        assert r.status_code == 200, r.text
        return r.json()

    def api(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.http.request(method, f"/RESTAPI/v1_0/demo/{path}", json=body, headers=self.auth)

    def create_order(self, external: str, product: str = "100003", quantity: int = 1) -> str:
        r = self.api("POST", "CustomerOrders", {
            "orderHeader": {"orderNumberExternal": external, "customerNumber": "10001"},
            "orderRows": [{"product": {"productNumber": product},
                           "salesData": {"quantity": quantity, "unit": "par", "unitPrice": 99.5, "currency": "SEK"},
                           "warehouse": "1"}]})
        assert r.status_code == 200, r.text
        number: str = r.json()["orderHeader"]["orderNumber"]
        return number


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium not found: install Debian's (apt-get install -y chromium; /usr/bin/chromium) or set "
                    "MOCK_XTND_CHROMIUM to a Chromium binary. Playwright comes with pip install -e '.[dev]'; no "
                    "browser download is needed.")
    return path


@pytest.fixture(scope="package")
def browser(chromium: str) -> Iterator[Any]:
    # package scope, not session: Playwright's sync API keeps an event loop running in this thread while it is
    # open, and every later test that calls asyncio.run() would fail on it
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is missing: pip install -e '.[dev]'")
    with tempfile.TemporaryDirectory(prefix="mock-xtnd-chromium-") as profile, sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(profile, executable_path=chromium, args=CHROMIUM_ARGS,
                                                       headless=True, viewport={"width": 1400, "height": 900})
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="package")
def receiver() -> Iterator[Hooks]:
    hooks = Hooks()
    with hooks.receiver:
        yield hooks


@pytest.fixture(scope="package")
def fake_server(receiver: Hooks) -> Iterator[ServerThread]:
    with ServerThread(fake_settings(receiver)) as server:
        yield server


@pytest.fixture
def fake(fake_server: ServerThread, receiver: Hooks) -> Iterator[Fake]:
    """The session's fake, back at the seeded start (and the receiver answering 200) for each test."""
    f = Fake(fake_server)
    f.control("POST", "/reset")
    receiver.clear()
    yield f
    f.http.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab; the test fails on any uncaught error in the page."""
    tab = browser.new_page()
    tab.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    yield tab
    tab.close()
    assert not errors, f"errors in the page: {errors}"


@pytest.fixture
def screenshot() -> Callable[[Any, str], None]:
    """``screenshot(page, name)``: docs/ui/<name>.png, only when MOCK_XTND_SCREENSHOTS=1."""

    def take(page: Any, name: str) -> None:
        if os.environ.get("MOCK_XTND_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    return take
