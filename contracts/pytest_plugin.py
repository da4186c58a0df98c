"""pytest plugin (entry point ``pytest11: mock_xtnd``): a fake XTND for your integration's tests.

    def test_my_sync_follows_hooks(xtnd):
        xtnd.subscribe("http://127.0.0.1:9000/xtnd/webhooks", secret="s3cret")
        ... start your integration against xtnd.api_url with xtnd.client_id / xtnd.client_secret ...
        xtnd.stock("100001", "1", delta=5)
        xtnd.advance(60)                  # virtual clock: retries and back-office timers run, no sleeping
        xtnd.assert_conduct(probe=my_sync.view())

The fake is session-scoped (one real server on a loopback port, virtual clock by default) and reset before each
test that uses ``xtnd``. Heavy imports happen only when a fixture is used.

Scenario files as tests: a ``.yaml`` file whose first lines carry the modeline
``# yaml-language-server: $schema=...scenario.schema.json`` is collected as one test item when pytest is pointed
at it (``pytest scenarios/ --xtnd-client "reference-sync run"``, or ini ``xtnd_client``). Each item validates the
file, runs the harness with the client and fails with the judge's report and the unmet expectations. Without a
client command the items are skipped, saying why - never passed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx

    from mock_xtnd.server import ServerThread

    from .rules import Report


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mock-xtnd")
    group.addoption("--xtnd-clock", choices=("virtual", "real"), default=None,
                    help="clock of the session fake (default virtual)")
    group.addoption("--xtnd-seed", type=int, default=None, help="seed of the session fake (default 1)")
    group.addoption("--xtnd-client", default=None,
                    help="client command to run scenario files against (without it scenario items are skipped)")
    parser.addini("xtnd_clock", "clock of the session fake: virtual or real", default="virtual")
    parser.addini("xtnd_client", "client command to run scenario files against", default="")
    parser.addini("xtnd_products", "catalogue size of the session fake", default="200")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xtnd_scenario: a scenario file run through the mock-xtnd harness")


# ---------------------------------------------------------------------------------------------- scenario files
SCENARIO_MARK = "scenario.schema.json"


def _is_scenario_file(path: Path) -> bool:
    if path.suffix not in (".yaml", ".yml"):
        return False
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            head = [f.readline() for _ in range(5)]
    except OSError:
        return False
    return any(line.lstrip().startswith("#") and "yaml-language-server" in line and SCENARIO_MARK in line
               for line in head)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if _is_scenario_file(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """A scenario file: one item (the file is validated when the item runs, so a bad file fails its test)."""

    def collect(self) -> Iterator[pytest.Item]:
        yield ScenarioItem.from_parent(self, name=self.path.stem)


class ScenarioFailed(Exception):
    """The scenario ran and its expectations were not met; the message is the judge's report."""


class ScenarioItem(pytest.Item):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker("xtnd_scenario")

    def client_command(self) -> str:
        option = self.config.getoption("--xtnd-client")
        return str(option or self.config.getini("xtnd_client") or "").strip()

    def runtest(self) -> None:
        from .harness import run
        from .scenario import load_scenario

        scenario = load_scenario(self.path)  # a bad file fails here, client or not
        client = self.client_command()
        if not client:
            pytest.skip("scenario file not run: no client command (pass --xtnd-client \"CMD\" or set ini xtnd_client)")
        lines: list[str] = []
        result = run(scenario, client, log=lines.append)
        self.user_properties.append(("metrics", {k: v for k, v in result.metrics.items() if k != "Storms"}))
        self.user_properties.append(("duration_seconds", result.duration_seconds))
        if not result.passed:
            text = [f"scenario {scenario.name} ({self.path}): expectations not met", ""]
            text += [f"  - {f}" for f in result.expectation_failures]
            text += ["", result.report.to_text()]
            text += [f"note: {n}" for n in result.notes]
            text += ["", "--- harness log ---", *lines[-30:], "", "--- last lines of the client's output ---",
                     *result.client_log.splitlines()[-20:]]
            raise ScenarioFailed("\n".join(text))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        from .harness import HarnessError
        from .scenario import ScenarioError

        if isinstance(excinfo.value, ScenarioFailed | ScenarioError):
            return str(excinfo.value)
        if isinstance(excinfo.value, HarnessError):
            return f"harness error (not the client's fault under judgement): {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"xtnd scenario {self.path.name}"


class ConductError(AssertionError):
    """assert_conduct() failed: the message is the judge's full report."""


class XtndFake:
    """Drive the fake: back office, stock, clock, faults, webhooks; read the truth and the journal; judge."""

    client_id = "demo"
    client_secret = "demo-secret"

    def __init__(self, server: ServerThread) -> None:
        import httpx

        self.server = server
        self.base_url = server.base_url
        self.api_url = server.api_url
        self.token_url = f"{server.api_url}/token"
        self.control: httpx.Client = httpx.Client(base_url=server.base_url, timeout=30)

    # -- plumbing
    def _post(self, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        r = self.control.post(path, json=dict(body or {}))
        if r.status_code >= 400:
            raise AssertionError(f"POST {path} -> {r.status_code}: {r.text[:500]}")
        data: dict[str, Any] = r.json()
        return data

    def reset(self) -> None:
        self._post("/_mock/reset")

    def token(self) -> str:
        r = self.control.post("/api/token", data={"grant_type": "client_credentials", "client_id": self.client_id,
                                                  "client_secret": self.client_secret})
        r.raise_for_status()
        token: str = r.json()["access_token"]
        return token

    def api(self) -> httpx.Client:
        """An httpx client for the public API with a fresh bearer token (for your own assertions)."""
        import httpx

        return httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {self.token()}"}, timeout=30)

    # -- truth and evidence
    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = self.control.get("/_mock/state").json()
        return data

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.control.get("/_mock/journal", params=filters).json()["Items"]
        return items

    def deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.control.get("/_mock/deliveries", params=filters).json()["Items"]
        return items

    # -- back office and time
    def advance(self, seconds: float) -> str:
        """Virtual clock: run every timer and delivery attempt that falls due, then return the new time."""
        now: str = self._post("/_mock/clock/advance", {"Seconds": seconds})["Now"]
        return now

    def stock(self, product: str, warehouse: str, *, delta: int | None = None, on_hand: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"ProductNumber": product, "WarehouseNumber": warehouse}
        body.update({"Delta": delta} if delta is not None else {"OnHand": on_hand})
        return self._post("/_mock/stock", body)

    def reserve(self, order_number: str) -> dict[str, Any]:
        return self._post(f"/_mock/orders/{order_number}/reserve")

    def pick(self, order_number: str) -> dict[str, Any]:
        return self._post(f"/_mock/orders/{order_number}/pick")

    def cancel(self, order_number: str) -> dict[str, Any]:
        return self._post(f"/_mock/orders/{order_number}/cancel")

    def move_delivery_date(self, order_number: str, date: str) -> dict[str, Any]:
        return self._post(f"/_mock/orders/{order_number}/delivery-date", {"ExpectedDeliveryDate": date})

    def expire_tokens(self) -> None:
        self._post("/_mock/tokens/expire")

    def storm(self, **spec: Any) -> dict[str, Any]:
        """POST /_mock/storm with PascalCase fields, e.g. storm(Shape="burst", Rate=500, Count=2000)."""
        return self._post("/_mock/storm", spec)

    # -- webhooks and faults
    def subscribe(self, url: str, secret: str, *, name: str = "test", triggers: Sequence[str] | None = None,
                  warehouses: Sequence[str] = ()) -> dict[str, Any]:
        from mock_xtnd.domain.events import ACTIONS

        return self._post("/_mock/webhooks", {"Name": name, "CallbackUrl": url, "Secret": secret,
                                               "Triggers": list(triggers or ACTIONS),
                                               "WarehouseFilter": list(warehouses)})

    def fault(self, **spec: Any) -> dict[str, Any]:
        """POST /_mock/faults, e.g. fault(Kind="status", Status=503, Route="/api/*", Times=2)."""
        return self._post("/_mock/faults", spec)

    def delivery_faults(self, **plan: Any) -> dict[str, Any]:
        r = self.control.put("/_mock/faults/deliveries", json=plan)
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    # -- judgement
    def judge(self, probe: Mapping[str, Any] | None = None, *, client_id: str | None = None,
              webhooks: bool = True, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Report:
        from .rules import JudgeContext, judge

        ctx = JudgeContext(self.journal(), client_id=client_id or self.client_id, probe=probe, truth=self.state(),
                           webhooks_enabled=webhooks)
        return judge(ctx, overrides=overrides)

    def assert_conduct(self, probe: Mapping[str, Any] | None = None, *, client_id: str | None = None,
                       webhooks: bool = True, overrides: Mapping[str, Mapping[str, Any]] | None = None,
                       require: Sequence[str] = ()) -> Report:
        """Fail with the judge's report if any error-severity rule failed, or a rule in ``require`` was not
        checked or not applicable (never counted as passed)."""
        report = self.judge(probe, client_id=client_id, webhooks=webhooks, overrides=overrides)
        unmet = [r.rule_id for r in report.results if r.rule_id in require and r.status != "passed"]
        if not report.passed or unmet:
            extra = f"\nrequired but not passed: {unmet}" if unmet else ""
            raise ConductError(report.to_text() + extra)
        return report

    def close(self) -> None:
        self.control.close()


@pytest.fixture(scope="session")
def xtnd_server(request: pytest.FixtureRequest) -> Iterator[ServerThread]:
    from mock_xtnd.server import ServerThread
    from mock_xtnd.settings import Settings

    clock = request.config.getoption("--xtnd-clock") or request.config.getini("xtnd_clock")
    seed = request.config.getoption("--xtnd-seed") or 1
    products = int(request.config.getini("xtnd_products"))
    settings = Settings(clock=clock, seed=seed, port=0, catalogue={"products": products})
    with ServerThread(settings) as server:
        yield server


@pytest.fixture
def xtnd(xtnd_server: ServerThread) -> Iterator[XtndFake]:
    """The session's fake, reset to its seeded start for this test."""
    fake = XtndFake(xtnd_server)
    fake.reset()
    try:
        yield fake
    finally:
        fake.close()
