"""pytest plugin (entry point ``pytest11: mock_xtnd``): a fake XTND for your integration's tests.

    def test_my_sync_follows_hooks(xtnd):
        xtnd.subscribe("http://127.0.0.1:9000/xtnd/webhooks", secret="s3cret")
        ... start your integration against xtnd.api_url (http://127.0.0.1:<port>/RESTAPI/v1_0/demo) with
            xtnd.username / xtnd.password (the ExtendBasicAuthorization header: xtnd.auth_header()) ...
        xtnd.stock("100001", "1", balance_difference=5)
        xtnd.advance(60)                  # virtual clock: retries and back-office timers run, no sleeping
        xtnd.assert_conduct(probe=my_sync.view())   # {"balances": [...], "orders": [...]}, as GET /xtnd/probe

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
    parser.addini("xtnd_transient_errors",
                  "share of calls the session fake answers with a transient 400 (default: 0 under the virtual "
                  "clock, whose time stands still between advances so the judge cannot see a client's real-time "
                  "waits before its retries; the fake's 0.01 under a real clock)",
                  default="")


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


#: The session fake's API user (the fake's default, docs/wire.md).
DEFAULT_USERNAME, DEFAULT_PASSWORD = "demo", "demo-secret"


class ConductError(AssertionError):
    """assert_conduct() failed: the message is the judge's full report."""


class XtndFake:
    """Drive the fake: back office, stock, clock, faults, webhooks, users, quirks; read the truth and the journal;
    judge. Everything goes through ``/_mock`` (camelCase bodies, docs/control-surface.md) except ``api()``, an
    authenticated client of the API itself for your own assertions."""

    def __init__(self, server: ServerThread, username: str = DEFAULT_USERNAME,
                 password: str = DEFAULT_PASSWORD) -> None:
        import httpx

        self.server = server
        self.base_url = server.base_url
        #: ``http://127.0.0.1:<port>/RESTAPI/v1_0/<company>``, no trailing slash (as ``XTND_API_URL``).
        self.api_url = server.api_url.rstrip("/")
        self.username = username
        self.password = password
        self.control: httpx.Client = httpx.Client(base_url=server.base_url, timeout=30)

    # -- plumbing
    def _send(self, method: str, path: str, body: Any = None) -> Any:
        r = self.control.request(method, path, json=body if body is not None else {})
        if r.status_code >= 400:
            raise AssertionError(f"{method} {path} -> {r.status_code}: {r.text[:500]}")
        return r.json() if r.content else None

    def _post(self, path: str, body: Any = None) -> dict[str, Any]:
        data: dict[str, Any] = self._send("POST", path, body)
        return data

    def reset(self) -> None:
        self._post("/_mock/reset")

    def auth_header(self, username: str | None = None, password: str | None = None) -> dict[str, str]:
        """``{"ExtendBasicAuthorization": "Basic <base64(username:password)>"}`` (not ``Authorization``)."""
        import base64

        pair = f"{username or self.username}:{password if password is not None else self.password}"
        return {"ExtendBasicAuthorization": "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")}

    def api(self) -> httpx.Client:
        """An httpx client for the API, authenticated, relative to the company:
        ``api.get("ProductAvailability", params={"productNumber": "100001"})``."""
        import httpx

        return httpx.Client(base_url=self.api_url + "/", headers=self.auth_header(), timeout=30)

    # -- truth and evidence
    def state(self, include_products: bool = False) -> dict[str, Any]:
        """``GET /_mock/state``: ``{"now", "balances": [...], "orders": [...]}``."""
        params = {"include": "products"} if include_products else None
        data: dict[str, Any] = self.control.get("/_mock/state", params=params).json()
        return data

    def truth(self) -> dict[str, Any]:
        """``GET /_mock/truth``: every record the fake holds, as persisted."""
        data: dict[str, Any] = self.control.get("/_mock/truth").json()
        return data

    def journal(self, **filters: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.control.get("/_mock/journal", params=filters).json()["items"]
        return items

    def deliveries(self, **filters: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.control.get("/_mock/deliveries", params=filters).json()["items"]
        return items

    # -- back office, users, quirks and time
    def advance(self, seconds: float) -> str:
        """Virtual clock: run every timer and delivery attempt that falls due, then return the new time."""
        now: str = self._post("/_mock/clock/advance", {"seconds": seconds})["now"]
        return now

    def stock(self, product: str, warehouse: str, *, balance_difference: int | None = None,
              physical_balance: int | None = None) -> dict[str, Any]:
        """A back-office stock move on the real ledger (fires BalanceChanged and AvailableBalanceChanged)."""
        body: dict[str, Any] = {"productNumber": product, "warehouse": warehouse}
        if physical_balance is not None:
            body["physicalBalance"] = physical_balance
        else:
            body["balanceDifference"] = 5 if balance_difference is None else balance_difference
        return self._post("/_mock/stock", body)

    def reserve(self, order_number: str) -> dict[str, Any]:
        return self._post(f"/_mock/orders/{order_number}/reserve")

    def pick(self, order_number: str) -> dict[str, Any]:
        return self._post(f"/_mock/orders/{order_number}/pick")

    def cancel(self, order_number: str) -> dict[str, Any]:
        return self._post(f"/_mock/orders/{order_number}/cancel")

    def move_delivery_date(self, order_number: str, asked_delivery_date: str) -> dict[str, Any]:
        return self._post(f"/_mock/orders/{order_number}/delivery-date", {"askedDeliveryDate": asked_delivery_date})

    def set_password(self, password: str, username: str | None = None) -> None:
        """Change a user's password (``PUT /_mock/users``): the next call with the old one answers 401. The
        fixture's own ``password`` follows, so ``api()`` keeps working; ``reset()`` does not restore it."""
        who = username or self.username
        self._send("PUT", "/_mock/users", [{"username": who, "password": password}])
        if who == self.username:
            self.password = password

    def quirks(self, **changes: Any) -> dict[str, Any]:
        """Switch production quirks (``PUT /_mock/quirks``), e.g. ``quirks(transientErrors=0)``; returns them."""
        current: dict[str, Any] = self.control.get("/_mock/quirks").json()
        data: dict[str, Any] = self._send("PUT", "/_mock/quirks", {**current, **changes})
        return data

    def storm(self, **spec: Any) -> dict[str, Any]:
        """``POST /_mock/storm`` with camelCase fields, e.g. ``storm(shape="burst", rate=500, count=2000)``."""
        return self._post("/_mock/storm", spec)

    # -- webhooks and faults
    def subscribe(self, url: str, secret: str, *, name: str = "test", triggers: Sequence[str] | None = None,
                  warehouses: Sequence[str] = ()) -> dict[str, Any]:
        """Subscribe ``url`` (to every one of the 18 actions unless ``triggers`` says otherwise)."""
        from .harness import ACTIONS

        return self._post("/_mock/webhooks", {"name": name, "callbackUrl": url, "secret": secret,
                                               "triggers": list(triggers or ACTIONS),
                                               "warehouseFilter": list(warehouses)})

    def fault(self, **spec: Any) -> dict[str, Any]:
        """``POST /_mock/faults`` with camelCase fields, e.g. ``fault(kind="transient", message="deadlock",
        route="ProductAvailability*", times=1)``: a route glob may be the path after the company."""
        from urllib.parse import urlsplit

        route = str(spec.get("route", "*"))
        if route != "*" and not route.startswith("/") and "_" not in route:
            spec["route"] = f"{urlsplit(self.api_url).path}/{route}"
        return self._post("/_mock/faults", spec)

    def delivery_faults(self, **plan: Any) -> dict[str, Any]:
        data: dict[str, Any] = self._send("PUT", "/_mock/faults/deliveries", plan)
        return data

    # -- judgement
    def judge(self, probe: Mapping[str, Any] | None = None, *, user: str | None = None,
              webhooks: bool = True, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Report:
        from .rules import JudgeContext, judge

        ctx = JudgeContext(self.journal(), user=user or self.username, probe=probe, truth=self.state(),
                           webhooks_enabled=webhooks)
        return judge(ctx, overrides=overrides)

    def assert_conduct(self, probe: Mapping[str, Any] | None = None, *, user: str | None = None,
                       webhooks: bool = True, overrides: Mapping[str, Mapping[str, Any]] | None = None,
                       require: Sequence[str] = ()) -> Report:
        """Fail with the judge's report if any error-severity rule failed, or a rule in ``require`` was not
        checked or not applicable (never counted as passed)."""
        report = self.judge(probe, user=user, webhooks=webhooks, overrides=overrides)
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
    transient = str(request.config.getini("xtnd_transient_errors") or "").strip()
    if transient:
        quirks = {"transient_errors": float(transient)}
    else:
        # a virtual clock nobody advances stands still: a client's real-time wait before retrying a transient 400
        # would show as no wait at all to no-retry-of-validation-errors, so the quirk is off unless asked for
        quirks = {"transient_errors": 0.0} if clock == "virtual" else {}
    settings = Settings(clock=clock, seed=seed, port=0, catalogue={"products": products}, quirks=quirks)
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
        if fake.password != DEFAULT_PASSWORD:  # a test changed it: the next one starts with the default
            fake.set_password(DEFAULT_PASSWORD)
        fake.close()
