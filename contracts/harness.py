"""The harness: runs any integration (a command, any language) against the fake through a scenario, then judges
it against XTND's code of conduct.

Phases (xtnd-contract.md §3): start the fake, start the client, wait for its port, run the timeline, settle
(outbox empty and client quiet, bounded), probe, stop the client, judge. Exit codes: 0 passed, 1 rule violations,
2 usage or scenario error, 3 harness error.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shlex
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mock_xtnd.domain.events import ACTIONS
from mock_xtnd.server import ServerThread, free_port
from mock_xtnd.settings import Settings, SubscriptionSettings

from .rules import JudgeContext, Report, judge
from .scenario import Scenario, Step

EXIT_PASSED, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_HARNESS = 0, 1, 2, 3
SUBSCRIPTION = "harness-client"
HARNESS_CLIENT = ("harness", "harness-secret")  # never judged: the harness's own reads


class HarnessError(Exception):
    """Something went wrong that is not the client's fault under judgement (exit 3)."""


@dataclass
class RunResult:
    report: Report
    scenario: Scenario
    journal: list[dict[str, Any]]
    truth: dict[str, Any]
    probe: dict[str, Any] | None
    expectation_failures: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    client_log: str = ""

    @property
    def passed(self) -> bool:
        return not self.expectation_failures

    def exit_code(self) -> int:
        return EXIT_PASSED if self.passed else EXIT_VIOLATIONS


def fake_settings(scenario: Scenario, client_id: str, client_secret: str, webhook_secret: str, hook_url: str) -> Settings:
    subs = []
    if scenario.webhooks:
        subs.append(SubscriptionSettings(name=SUBSCRIPTION, tech_contact_email="ci@example.com",
                                         callback_url=hook_url, secret=webhook_secret, triggers=list(ACTIONS)))
    return Settings.model_validate({
        "seed": scenario.seed,
        "clock": "real",
        "port": 0,
        "clients": [{"client_id": client_id, "client_secret": client_secret},
                    {"client_id": HARNESS_CLIENT[0], "client_secret": HARNESS_CLIENT[1]}],
        "catalogue": scenario.catalogue.model_dump(),
        "rate_limits": {**scenario.rate_limits.model_dump(), "window_seconds": 60},
        "subscriptions": [s.model_dump() for s in subs],
        "delivery": scenario.delivery.model_dump(),
        "delivery_faults": scenario.delivery_faults.model_dump(),
        "api_faults": [{k: v for k, v in f.model_dump().items() if v is not None} for f in scenario.api_faults],
    })


def _pascal(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_"))


class Timeline:
    """Carries out scenario steps against the fake's control surface (and the client's shop endpoint)."""

    def __init__(self, fake: httpx.Client, shop_url: str | None, scenario: Scenario, log: Callable[[str], None]) -> None:
        self.fake = fake
        self.shop_url = shop_url
        self.scenario = scenario
        self.rng = random.Random(f"{scenario.seed}/timeline")
        self.log = log
        self.shop_orders: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.storms: list[str] = []
        self._restore_timers: list[threading.Timer] = []
        state = self._state()
        self.products = sorted({b["ProductNumber"] for b in state["Balances"]})
        self.warehouses = sorted({b["WarehouseNumber"] for b in state["Balances"]})
        self.active_products = [p["ProductNumber"] for p in state.get("Products", []) if p.get("Status") == "Active"] \
            or self.products

    def _state(self) -> dict[str, Any]:
        r = self.fake.get("/_mock/state", params={"include": "products"})
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def _post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        r = self.fake.post(path, json=body or {})
        if r.status_code >= 500:
            raise HarnessError(f"the fake answered {r.status_code} to {path}: {r.text[:300]}")
        return r

    def run_step(self, step: Step) -> None:
        kind = step.kind
        handler = getattr(self, f"_do_{kind}")
        handler(getattr(step, kind) if kind not in ("expire_tokens", "clear_api_faults") else None)

    # each step kind -------------------------------------------------------------------------------------
    def _do_shop_order(self, spec: Any) -> None:
        for _ in range(spec.count):
            lines = [{"ProductNumber": ln.product or self.rng.choice(self.active_products), "Quantity": ln.quantity}
                     for ln in spec.lines]
            body = {"Lines": lines, "WarehouseNumber": spec.warehouse}
            self.shop_orders.append(body)
            if self.shop_url is None:
                self.notes.append("shop_order skipped: the client serves no /xtnd/shop/orders")
                continue
            try:
                r = httpx.post(f"{self.shop_url}/xtnd/shop/orders", json=body, timeout=10)
            except httpx.HTTPError as e:
                self.notes.append(f"shop_order: the client did not answer ({type(e).__name__})")
                continue
            if r.status_code == 404:
                self.shop_url = None
                self.notes.append("shop_order skipped: the client serves no /xtnd/shop/orders (404)")
            elif r.status_code >= 300:
                self.notes.append(f"shop_order: the client answered {r.status_code}")

    def _pick(self) -> tuple[str, str]:
        return self.rng.choice(self.products), self.rng.choice(self.warehouses)

    def _do_stock(self, spec: Any) -> None:
        for _ in range(spec.count):
            product, warehouse = self._pick()
            product = spec.product or product
            warehouse = spec.warehouse or warehouse
            body: dict[str, Any] = {"ProductNumber": product, "WarehouseNumber": warehouse}
            if spec.on_hand is not None:
                body["OnHand"] = spec.on_hand
            else:
                body["Delta"] = spec.delta
            r = self._post("/_mock/stock", body)
            if r.status_code == 422 and spec.delta is not None and spec.delta < 0:
                continue  # would go below zero: skip this item
            if r.status_code >= 400:
                raise HarnessError(f"stock move refused: {r.text[:300]}")

    def _do_purchase_arrival(self, spec: Any) -> None:
        for _ in range(spec.count):
            product, warehouse = self._pick()
            product, warehouse = spec.product or product, spec.warehouse or warehouse
            qty = max(1, spec.delta or 10)
            r = self._post("/_mock/backoffice/purchases",
                           {"WarehouseNumber": warehouse, "Lines": [{"ProductNumber": product, "Quantity": qty}]})
            if r.status_code == 404:  # no back office in this build: the arrival as a plain stock move
                self._post("/_mock/stock", {"ProductNumber": product, "WarehouseNumber": warehouse, "Delta": qty})
                continue
            if r.status_code >= 400:
                raise HarnessError(f"purchase refused: {r.text[:300]}")
            number = r.json().get("PurchaseOrderNumber")
            self._post(f"/_mock/backoffice/purchases/{number}/receive", {})

    def _client_orders(self) -> list[dict[str, Any]]:
        return sorted(self._state()["Orders"], key=lambda o: int(o["OrderNumber"]) if o["OrderNumber"].isdigit() else 0)

    def _do_order(self, spec: Any) -> None:
        allowed = {"reserve": {"Created"}, "pick": {"Created", "Reserved"}, "cancel": {"Created", "Reserved"},
                   "delivery_date": {"Created", "Reserved"}}[spec.action]
        orders = self._client_orders()
        if spec.which == "all":
            chosen = orders
        elif spec.which in ("first", "oldest_created"):
            chosen = orders[:1]
        elif spec.which == "last":
            chosen = orders[-1:]
        else:
            chosen = orders[int(spec.which) : int(spec.which) + 1]
        chosen = [o for o in chosen if o["Status"] in allowed]
        if not chosen:
            self.notes.append(f"order {spec.action}: no order of the client in {sorted(allowed)} to move")
        for o in chosen:
            n = o["OrderNumber"]
            if spec.action == "delivery_date":
                now = self._state()["Now"][:10]
                from datetime import date, timedelta

                d = (date.fromisoformat(now) + timedelta(days=spec.days)).isoformat()
                self._post(f"/_mock/orders/{n}/delivery-date", {"ExpectedDeliveryDate": d})
            else:
                self._post(f"/_mock/orders/{n}/{spec.action}")

    def _do_storm(self, spec: Any) -> None:
        body = {_pascal(k): v for k, v in spec.model_dump().items() if v not in (None, [])}
        r = self._post("/_mock/storm", body)
        if r.status_code >= 400:
            raise HarnessError(f"storm refused: {r.status_code} {r.text[:300]}")
        self.storms.append(r.json()["StormId"])

    def _do_api_fault(self, spec: Any) -> None:
        body = {_pascal(k): v for k, v in spec.model_dump().items() if v is not None}
        r = self._post("/_mock/faults", body)
        if r.status_code >= 400:
            raise HarnessError(f"fault refused: {r.text[:300]}")

    def _do_clear_api_faults(self, _spec: Any) -> None:
        self.fake.delete("/_mock/faults")

    def _do_forge(self, spec: Any) -> None:
        for _ in range(spec.count):
            product = spec.product or self.rng.choice(self.products)
            details: dict[str, Any] = {"ProductNumber": product, "WarehouseNumber": spec.warehouse}
            if spec.action == "AvailableBalanceChanged":
                details["AvailableBalance"] = spec.balance
            r = self._post("/_mock/webhooks/forge", {"Action": spec.action, "Details": details,
                                                     "Signature": spec.signature})
            if r.status_code >= 400:
                self.notes.append(f"forge: {r.status_code} {r.text[:200]}")

    def _do_receiver_outage(self, spec: Any) -> None:
        subs = self.fake.get("/_mock/webhooks").json()["Items"]
        sub = next((s for s in subs if s["Name"] == SUBSCRIPTION), None)
        if sub is None:
            self.notes.append("receiver_outage: no webhook subscription (webhooks off)")
            return
        closed = f"http://127.0.0.1:{free_port()}/xtnd/webhooks"
        original = sub["CallbackUrl"]
        secret = self._secret
        self.fake.put(f"/_mock/webhooks/{SUBSCRIPTION}", json={**sub, "CallbackUrl": closed, "Secret": secret})

        def restore() -> None:
            with contextlib.suppress(httpx.HTTPError):
                self.fake.put(f"/_mock/webhooks/{SUBSCRIPTION}", json={**sub, "CallbackUrl": original, "Secret": secret})

        timer = threading.Timer(spec.duration_seconds, restore)
        timer.daemon = True
        timer.start()
        self._restore_timers.append(timer)

    _secret = ""

    def _do_expire_tokens(self, _spec: Any) -> None:
        self._post("/_mock/tokens/expire")

    def _do_advance_seconds(self, seconds: float) -> None:
        self._post("/_mock/clock/advance", {"Seconds": seconds})

    def finish(self) -> None:
        for t in self._restore_timers:
            if t.is_alive():
                t.cancel()
                t.function()


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HarnessError(f"the client exited with code {proc.returncode} before listening on port {port}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise HarnessError(f"the client never listened on 127.0.0.1:{port} within {timeout:.0f} s "
                       "(it must serve its webhook receiver on $XTND_WEBHOOK_PORT)")


def stop_client(proc: subprocess.Popen[bytes], grace: float = 8.0) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def run(
    scenario: Scenario,
    client_command: str,
    *,
    log: Callable[[str], None] = lambda _m: None,
    startup_timeout: float = 30.0,
    workdir: Path | None = None,
) -> RunResult:
    client_id, client_secret = "integration", secrets.token_hex(12)
    webhook_secret = secrets.token_hex(16)
    hook_port = free_port()
    hook_url = f"http://127.0.0.1:{hook_port}/xtnd/webhooks"
    settings = fake_settings(scenario, client_id, client_secret, webhook_secret, hook_url)
    workdir = workdir or Path(tempfile.mkdtemp(prefix="mock-xtnd-check-"))
    client_log_path = workdir / "client.log"
    with ServerThread(settings) as fake, httpx.Client(base_url=fake.base_url, timeout=30) as control:
        log(f"fake XTND at {fake.api_url}; client webhook port {hook_port}")
        env = {
            **os.environ,
            "XTND_API_URL": fake.api_url,
            "XTND_CLIENT_ID": client_id,
            "XTND_CLIENT_SECRET": client_secret,
            "XTND_WEBHOOK_SECRET": webhook_secret,
            "XTND_WEBHOOK_PORT": str(hook_port),
        }
        if not scenario.webhooks:
            env["XTND_WEBHOOKS"] = "off"
        with open(client_log_path, "wb") as client_log:
            proc = subprocess.Popen(client_command, shell=True, env=env, stdout=client_log,
                                    stderr=subprocess.STDOUT, start_new_session=True, cwd=os.getcwd())
            try:
                try:
                    wait_for_port(hook_port, proc, startup_timeout)
                except HarnessError as e:
                    client_log.flush()
                    tail = client_log_path.read_text(errors="replace").splitlines()[-20:]
                    raise HarnessError(f"{e}\n--- last lines of the client's output ---\n" + "\n".join(tail)) from None
                log(f"client listening (pid {proc.pid}); running {len(scenario.timeline)} step(s)")
                shop = f"http://127.0.0.1:{hook_port}"
                timeline = Timeline(control, shop, scenario, log)
                timeline._secret = webhook_secret
                started = time.monotonic()
                for step in scenario.timeline:
                    delay = step.at - (time.monotonic() - started)
                    if delay > 0:
                        time.sleep(delay)
                    if proc.poll() is not None:
                        raise HarnessError(f"the client exited with code {proc.returncode} during the run")
                    log(f"t={step.at:>5.1f}s {step.kind}" + (f" - {step.note}" if step.note else ""))
                    timeline.run_step(step)
                timeline.finish()
                _settle(control, scenario, client_id, log)
                probe = _probe(shop)
            finally:
                stop_client(proc)
                ended_at = control.get("/_mock/clock").json()["Now"]
        journal = control.get("/_mock/journal").json()["Items"]
        truth = control.get("/_mock/state").json()
        storms = [control.get(f"/_mock/storm/{sid}").json() for sid in timeline.storms]
    ctx = JudgeContext(
        journal, client_id=client_id, probe=probe, truth=truth, webhooks_enabled=scenario.webhooks,
        rate_limits={"Standard": scenario.rate_limits.standard, "List": scenario.rate_limits.list,
                     "Write": scenario.rate_limits.write},
        shop_orders_requested=timeline.shop_orders, webhook_urls=[hook_url], ended_at=ended_at,
    )
    report = judge(ctx, overrides=scenario.expect.rule_params)
    result = RunResult(report, scenario, journal, truth, probe,
                       client_log=client_log_path.read_text(errors="replace")[-20_000:])
    result.metrics = metrics(journal, client_id, storms)
    result.expectation_failures = expectation_failures(result)
    for note in timeline.notes:
        log(f"note: {note}")
    return result


def _settle(control: httpx.Client, scenario: Scenario, client_id: str, log: Callable[[str], None]) -> None:
    """Wait until the outbox is empty and the client has made no API call for quiet_seconds (bounded)."""
    deadline = time.monotonic() + scenario.settle.max_seconds
    last_seq = 0
    last_activity = time.monotonic()
    while time.monotonic() < deadline:
        pending = len(control.get("/_mock/deliveries", params={"status": "pending", "limit": 1}).json()["Items"])
        recent = control.get("/_mock/journal", params={"kind": "api", "clientId": client_id, "since": last_seq})
        items = recent.json()["Items"]
        if items:
            last_seq = items[-1]["Seq"]
            last_activity = time.monotonic()
        if pending == 0 and time.monotonic() - last_activity >= scenario.settle.quiet_seconds:
            log("settled: outbox empty and client quiet")
            return
        time.sleep(0.25)
    log(f"settle: gave up after {scenario.settle.max_seconds:.0f} s (outbox not empty or client still calling)")


def _probe(shop: str) -> dict[str, Any] | None:
    try:
        r = httpx.get(f"{shop}/xtnd/probe", timeout=10)
    except httpx.HTTPError:
        return None
    if r.status_code != 200:
        return None
    try:
        data: dict[str, Any] = r.json()
    except ValueError:
        return None
    return data


def metrics(journal: list[dict[str, Any]], client_id: str, storms: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures load testers ask for: API calls per balance change, deliveries, delivery latency."""
    calls = [r for r in journal if r["Kind"] == "api" and r.get("ClientId") == client_id]
    deliveries = [r for r in journal if r["Kind"] == "delivery" and not r.get("Forged")]
    balance_events = {r["DeliveryId"] for r in deliveries
                      if any(n["Action"] == "AvailableBalanceChanged" for n in r["Notifications"])}
    availability_calls = [r for r in calls if r.get("Resource") == "ProductAvailability"]
    latencies = sorted(r["LatencyMs"] for r in deliveries if r.get("Status"))
    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2) if latencies else None
    return {
        "ApiCalls": len(calls),
        "AvailabilityCalls": len(availability_calls),
        "BalanceEvents": len(balance_events),
        "CallsPerBalanceEvent": round(len(availability_calls) / len(balance_events), 4) if balance_events else None,
        "DeliveryAttempts": len(deliveries),
        "Delivered": sum(1 for r in deliveries if r["Outcome"] == "delivered"),
        "DeliveryP50Ms": pct(0.5),
        "DeliveryP99Ms": pct(0.99),
        "Storms": storms,
    }


def expectation_failures(result: RunResult) -> list[str]:
    """What the scenario expected and did not get. "Not checked" never counts as passed."""
    exp = result.scenario.expect
    out: list[str] = []
    report = result.report
    by_id = {r.rule_id: r for r in report.results}
    must_pass = [r.rule_id for r in report.results] if exp.must_pass == "all" else exp.must_pass
    for rule_id in must_pass:
        r = by_id.get(rule_id)
        if rule_id in exp.must_fail:
            continue
        if r is None:
            out.append(f"{rule_id}: expected to pass but the rule is unknown or disabled")
        elif r.status == "failed" and r.severity == "error":
            out.append(f"{rule_id}: failed")
        elif r.status == "not_checked" and exp.must_pass != "all":
            out.append(f"{rule_id}: expected to pass but could not be checked ({r.message})")
    for rule_id in exp.must_fail:
        r = by_id.get(rule_id)
        if r is None or r.status != "failed":
            out.append(f"{rule_id}: expected to fail (a negative example) but was {r.status if r else 'not run'}")
    conv = by_id.get("converges")
    if exp.converges and "converges" not in exp.must_fail and conv is not None and conv.status == "not_checked":
        out.append(f"converges: expected, but not checked ({conv.message})")
    ratio = result.metrics.get("CallsPerBalanceEvent")
    if exp.max_calls_per_balance_event is not None and ratio is not None and ratio > exp.max_calls_per_balance_event:
        out.append(f"calls per balance event {ratio} > {exp.max_calls_per_balance_event}")
    return out


def shell_join(args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)
