"""Storms: real stock changes on a planned shape, on the virtual clock (time is advanced, never slept on)."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mock_xtnd.app import create_app
from mock_xtnd.domain.events import DomainEvent
from mock_xtnd.runtime import Runtime
from mock_xtnd.settings import CatalogueSettings, Settings, SubscriptionSettings
from mock_xtnd.simulate.storm import PeakRate, Plan, Storms, StormSpec
from tests.support.receiver import Receiver
from tests.support.xtnd import API, CONTROL, assert_invalid, assert_message, basic

START_MS = 1_767_600_000_000  # 2026-01-05T08:00:00Z, the virtual clock's default start


def wire(settings: Settings) -> tuple[FastAPI, Runtime, Storms]:
    """The app with a Storms part (create_app may already wire one; then that one is used)."""
    rt = Runtime(settings)
    app = create_app(runtime=rt)
    existing = [p for p in rt.parts if isinstance(p, Storms)]
    if existing:
        return app, rt, existing[0]
    storms = Storms(rt)
    rt.add_part(storms)
    admin = next(r.app for r in app.routes if getattr(r, "path", "") == "/_mock")  # type: ignore[attr-defined]
    for router in storms.admin_routers():
        admin.include_router(router)
    return app, rt, storms


def small(**extra: Any) -> Settings:
    extra.setdefault("catalogue", CatalogueSettings(products=40, warehouses=3, customers=10))
    extra.setdefault("quirks", {"transient_errors": 0})  # the transient-400 quirk is not what these tests are about
    return Settings(clock="virtual", seed=1, **extra)


class Recorder:
    """Every committed event, with the ledger's truth for its item at commit time."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.events: list[DomainEvent] = []
        self.mismatches: list[tuple[dict[str, Any], int]] = []
        rt.backend.after_commit.append(self)

    def __call__(self, events: list[DomainEvent]) -> None:
        for e in events:
            self.events.append(e)
            if e.action == "AvailableBalanceChanged":
                item = self.rt.backend.state.stock[(e.details["ProductNumber"], e.details["Warehouse"])]
                if item.available != e.details["AvailableBalance"]:
                    self.mismatches.append((e.details, item.available))

    def balance_events(self) -> list[DomainEvent]:
        return [e for e in self.events if e.action == "AvailableBalanceChanged"]


@pytest.fixture
def fake() -> Iterator[tuple[TestClient, Runtime, Recorder]]:
    app, rt, _ = wire(small())
    recorder = Recorder(rt)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, rt, recorder


def start_storm(client: TestClient, **body: Any) -> str:
    r = client.post("/_mock/storm", json=body)
    assert r.status_code == 202, r.text
    storm_id: str = r.json()["stormId"]
    return storm_id


def advance(client: TestClient, seconds: float) -> None:
    r = client.post("/_mock/clock/advance", json={"seconds": seconds})
    assert r.status_code == 200, r.text


def offsets(**spec: Any) -> list[int]:
    return list(Plan(StormSpec(**spec), random.Random(7)).offsets())


# ---------------------------------------------------------------------------------------------- the ledger
def test_a_storm_changes_real_stock_one_step_one_event(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, rt, rec = fake
    before = {k: (s.on_hand, s.allocated, s.blocked) for k, s in rt.backend.state.stock.items()}
    storm_id = start_storm(client, shape="constant", rate=50, count=500)
    advance(client, 11)

    progress = client.get(f"/_mock/storm/{storm_id}").json()
    assert progress["state"] == "done" and progress["planned"] == progress["emitted"] == 500
    events = rec.balance_events()
    assert len(events) == 500 and len(rec.events) == 500  # nothing but AvailableBalanceChanged, one per step
    assert rec.mismatches == []  # every hook carried the ledger's value at that moment

    # each step moved one item's available balance by exactly one unit
    current = {k: on_hand - allocated - blocked for k, (on_hand, allocated, blocked) in before.items()}
    for e in events:
        key = (e.details["ProductNumber"], e.details["Warehouse"])
        assert abs(e.details["AvailableBalance"] - current[key]) == 1, e
        current[key] = e.details["AvailableBalance"]
    # ... by allocating or releasing: on-hand and blocked never moved, allocated never went below 0
    steps = 0
    for key, item in rt.backend.state.stock.items():
        on_hand, allocated, blocked = before[key]
        assert item.on_hand == on_hand and item.blocked == blocked and item.allocated >= 0
        steps += abs(item.allocated - allocated)
    per_item = Counter((e.details["ProductNumber"], e.details["Warehouse"]) for e in events)
    assert steps <= 500 and steps % 2 == 500 % 2
    assert all(abs(rt.backend.state.stock[k].allocated - before[k][1]) <= n for k, n in per_item.items())

    # ProductAvailability agrees with the last hook of every item (one list page and single-item reads)
    last = {(e.details["ProductNumber"], e.details["Warehouse"]): e.details["AvailableBalance"] for e in events}
    for (pn, wh), value in sorted(last.items())[:25]:
        r = client.get(f"{API}/ProductAvailability/{quote(pn, safe='')}/{wh}", headers=basic())
        assert r.status_code == 200, r.text
        assert r.json()["availableBalanceNow"] == value, (pn, wh)
    r = client.get(f"{API}/ProductAvailability", params={"warehouse": "1"}, headers=basic())
    assert r.status_code == 200, r.text
    listed = {row["productNumber"]: row["availableBalanceNow"] for row in r.json()["productAvailabilityList"]}
    assert all(listed[pn] == value for (pn, wh), value in last.items() if wh == "1" and pn in listed)


def test_steps_run_at_their_planned_times_on_the_virtual_clock(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, rt, rec = fake
    start_storm(client, shape="ramp", rate=40, count=200)
    plan = offsets(shape="ramp", rate=40, count=200)
    advance(client, 4.0)
    assert len(rec.balance_events()) == sum(1 for o in plan if o <= 4000)  # nothing early, nothing late
    advance(client, 10.0)
    assert [e.at_ms - START_MS for e in rec.balance_events()] == plan


def test_storm_reports_deliveries_to_a_real_receiver() -> None:
    failed_once: set[str] = set()

    def first_attempt_fails(r: Any) -> int:
        body = r.json
        if body["Attempt"] == 1 and body["Id"] not in failed_once:
            failed_once.add(body["Id"])
            return 500
        return 204

    with Receiver(first_attempt_fails) as receiver:
        sub = SubscriptionSettings(name="shop", callback_url=receiver.url, secret="s3cret",
                                   triggers=["AvailableBalanceChanged"])
        app, rt, _ = wire(small(subscriptions=[sub]))
        with TestClient(app, raise_server_exceptions=False) as client:
            storm_id = start_storm(client, shape="constant", rate=20, count=30)
            advance(client, 2)
            d = client.get(f"/_mock/storm/{storm_id}").json()["deliveries"]
            assert (d["sent"], d["retried"], d["delivered"]) == (30, 30, 0)
            advance(client, 61)  # the retry schedule's first step: 1 minute later
            progress = client.get(f"/_mock/storm/{storm_id}").json()
    d = progress["deliveries"]
    assert (d["sent"], d["delivered"], d["retried"], d["failed"]) == (60, 30, 30, 0)
    assert d["p50LatencyMs"] == pytest.approx(60_000, rel=0.02)  # from the notification's creation: retry wait counts
    assert d["deliveriesPerSecond"] > 0


# ---------------------------------------------------------------------------------------------- shapes
def test_constant_shape_is_evenly_spaced_and_ends_at_its_duration() -> None:
    plan = offsets(shape="constant", rate=100, count=1000)
    assert len(plan) == 1000 and plan[0] == 10 and plan[-1] == 10_000
    assert set(b - a for a, b in zip(plan, plan[1:], strict=False)) == {10}
    by_duration = offsets(shape="constant", rate=100, durationSeconds=3)
    assert len(by_duration) == 300 and by_duration[-1] == 3000


def test_ramp_rises_from_zero_to_rate() -> None:
    plan = offsets(shape="ramp", rate=100, count=1000)  # 0 -> 100/s over 20 s
    assert len(plan) == 1000 and plan[-1] == 20_000
    per_second = Counter(min(19, o // 1000) for o in plan)
    counts = [per_second[s] for s in range(20)]
    assert counts == sorted(counts) and counts[0] < 10 and counts[-1] > 90
    assert len(offsets(shape="ramp", rate=100, durationSeconds=20)) == 1000


def test_burst_spikes_at_ten_times_the_rate_for_a_tenth_of_each_period() -> None:
    plan = offsets(shape="burst", rate=100, durationSeconds=30)
    assert len(plan) == round(1.225 * 100 * 30)
    spikes = sum(1 for o in plan if (o - 1) % 10_000 < 1000)
    assert spikes == 3 * 1000  # 10 x 100/s for 1 s of every 10 s
    assert len(plan) - spikes == 3 * 225  # 25/s for the other 9 s


def test_a_bursts_peak_rate_is_stated_planned_and_as_emitted(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    """rate names a burst's base, but for a tenth of each period it runs at ten times that: progress says so."""
    client, _, rec = fake
    r = client.post("/_mock/storm", json={"shape": "burst", "rate": 100, "durationSeconds": 20})
    assert r.status_code == 202, r.text
    assert r.json()["plannedPeakRate"] == 1000
    steady = start_storm(client, shape="constant", rate=50, count=300)
    advance(client, 21)
    burst = client.get(f"/_mock/storm/{r.json()['stormId']}").json()
    assert (burst["rate"], burst["plannedPeakRate"], burst["emitted"]) == (100, 1000, 2 * 1225)
    # 1,000 steps in the first second of each period, counted in a window sliding in 10 ms steps
    assert 990 <= burst["peakRate"] <= 1000
    constant = client.get(f"/_mock/storm/{steady}").json()
    assert (constant["plannedPeakRate"], constant["peakRate"]) == (50, 50)
    assert len(rec.balance_events()) == 2 * 1225 + 300


def test_the_peak_rate_counts_steps_in_any_one_second() -> None:
    peak = PeakRate()
    for t in range(0, 5000, 100):  # 10 a second for 5 s
        peak.add(t)
    assert peak.peak == 10
    for t in range(60_000, 60_500, 2):  # a minute later, 250 steps in half a second
        peak.add(t)
    assert peak.peak == 250
    peak.add(61_499)  # 999 ms after that burst's last step: still inside one second with it
    assert peak.peak == 250
    for t in range(120_000, 120_021):
        peak.add(t)  # what went before a long gap is forgotten: 21, not 21 + anything older
    assert peak.peak == 250 and peak.in_window == 21


def test_poisson_is_reproducible_from_its_seed_with_the_planned_mean() -> None:
    a = offsets(shape="poisson", rate=200, count=4000)
    assert a == offsets(shape="poisson", rate=200, count=4000)
    assert a != list(Plan(StormSpec(shape="poisson", rate=200, count=4000), random.Random(8)).offsets())
    assert a == sorted(a) and len(a) == 4000
    assert 18_000 < a[-1] < 22_000  # mean inter-arrival 5 ms
    gaps = [b - x for x, b in zip(a, a[1:], strict=False)]
    assert sum(1 for g in gaps if g > 10) / len(gaps) == pytest.approx(0.13, abs=0.03)  # P(X > 2/rate) = e^-2

    plan = Plan(StormSpec(shape="poisson", rate=200, durationSeconds=10), random.Random(3))
    times = list(plan.offsets())
    assert len(times) == plan.count and 1800 < plan.count < 2200
    assert times == sorted(times) and times[0] >= 0 and times[-1] <= 10_000


def test_zipf_skew_concentrates_on_few_products(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, _, rec = fake
    start_storm(client, rate=1000, count=2000, products=20, skew="zipf", zipfS=1.2, warehouses=["2"])
    advance(client, 3)
    hits = Counter(e.details["ProductNumber"] for e in rec.balance_events())
    assert {e.details["Warehouse"] for e in rec.balance_events()} == {"2"}
    assert len(hits) <= 20
    top = hits.most_common(1)[0][1]
    assert top > 2000 / 20 * 3  # the hottest product gets several times a uniform share


def test_same_seed_same_storm() -> None:
    def run() -> list[tuple[str, str, int, int]]:
        app, rt, _ = wire(small())
        rec = Recorder(rt)
        with TestClient(app) as client:
            start_storm(client, shape="poisson", rate=300, count=600, skew="zipf")
            advance(client, 5)
        return [(e.details["ProductNumber"], e.details["Warehouse"], e.details["AvailableBalance"], e.at_ms)
                for e in rec.balance_events()]

    first = run()
    assert len(first) == 600 and first == run()


# ---------------------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rate": 10, "count": 5_000_001}, "count"),
        ({"rate": 10, "durationSeconds": 3601}, "durationSeconds"),
        ({"rate": 10}, "count"),
        ({"rate": 10, "count": 5, "durationSeconds": 5}, "count"),
        ({"rate": 0.001, "count": 100}, "count"),
        ({"rate": 10_000, "durationSeconds": 3600}, "rate"),
        ({"rate": 0, "count": 5}, "rate"),
        ({"rate": 10, "count": 5, "shape": "sawtooth"}, "shape"),
        ({"rate": 10, "count": 5, "products": 41}, "products"),
        ({"Rate": 10, "Count": 5}, "Rate"),  # the old PascalCase names are unknown fields now
    ],
)
def test_storms_out_of_bounds_are_refused(fake: tuple[TestClient, Runtime, Recorder], body: dict[str, Any],
                                          field: str) -> None:
    client, _, rec = fake
    before = client.get("/_mock/truth").json()
    assert_invalid(client.post("/_mock/storm", json=body), 400, field)
    assert client.get("/_mock/truth").json() == before, "a refused storm draws no id and changes nothing"
    advance(client, 10)
    assert rec.events == []
    assert client.get("/_mock/storm").json()["items"] == []


def test_a_storm_on_an_unknown_warehouse_is_refused(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, _, rec = fake
    before = client.get("/_mock/truth").json()
    assert_message(client.post("/_mock/storm", json={"rate": 10, "count": 5, "warehouses": ["9"]}), 400, "'9'")
    assert client.get("/_mock/truth").json() == before
    advance(client, 10)
    assert rec.events == [] and client.get("/_mock/storm").json()["items"] == []


def test_unknown_storm_is_404(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, _, _ = fake
    assert_message(client.get("/_mock/storm/storm-99"), 404, "storm-99")


def test_reset_stops_storms_and_releases_nothing_twice(fake: tuple[TestClient, Runtime, Recorder]) -> None:
    client, rt, rec = fake
    storm_id = start_storm(client, rate=10, count=100)
    advance(client, 2)
    assert client.post("/_mock/reset", headers=CONTROL).status_code == 200
    assert client.get(f"/_mock/storm/{storm_id}").status_code == 404
    seen = len(rec.events)
    advance(client, 20)
    assert len(rec.events) == seen
    assert all(s.allocated == 0 for s in rt.backend.state.stock.values())


# ---------------------------------------------------------------------------------------------- real clock
def test_real_clock_storm_emits_on_time_without_blocking_the_api() -> None:
    app, rt, _ = wire(Settings(clock="real", seed=1, catalogue=CatalogueSettings(products=40, warehouses=2,
                                                                                 customers=5)))
    rec = Recorder(rt)
    with TestClient(app) as client:
        t0 = time.monotonic()
        storm_id = start_storm(client, shape="constant", rate=2000, count=600)  # 0.3 s
        state = {}
        while time.monotonic() - t0 < 10:
            state = client.get(f"/_mock/storm/{storm_id}").json()  # answered while the storm runs
            if state["state"] == "done":
                break
            time.sleep(0.02)
        elapsed = time.monotonic() - t0
    assert state["state"] == "done" and state["emitted"] == 600
    assert 0 < state["peakRate"] <= 600
    assert len(rec.balance_events()) == 600 and rec.mismatches == []
    assert 0.25 < elapsed < 5


# ---------------------------------------------------------------------------------------------- the CLI
def test_cli_runs_a_storm_and_prints_the_delivery_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from mock_xtnd.simulate import storm_cli

    with Receiver() as receiver:
        sub = SubscriptionSettings(name="shop", callback_url=receiver.url, secret="s3cret",
                                   triggers=["AvailableBalanceChanged"])
        app, _, _ = wire(small(subscriptions=[sub]))
        monkeypatch.setattr(storm_cli, "make_client", lambda url: TestClient(app))  # drives the virtual clock
        result = CliRunner().invoke(storm_cli.storm, ["--shape", "poisson", "--rate", "50", "--count", "120",
                                                      "--products", "5", "--skew", "zipf", "--warehouses", "1,3"])
        assert result.exit_code == 0, result.output
        assert len(receiver.received) == 120
    lines = {line.strip("│┃ ").split("│")[0].strip(): line for line in result.output.splitlines() if "│" in line}
    for figure in ("peak steps/s planned", "peak steps/s emitted (any 1 s)", "sent", "delivered", "retried", "failed",
                   "deliveries/s", "p50 delivery latency", "p99 delivery latency"):
        assert figure in lines, result.output
    assert "120" in lines["delivered"] and lines["failed"].rstrip(" │").endswith("0")
    assert lines["peak steps/s planned"].rstrip(" │").endswith(" 50")


def test_cli_reports_a_refused_storm_and_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from mock_xtnd.simulate import storm_cli

    app, _, _ = wire(small())
    monkeypatch.setattr(storm_cli, "make_client", lambda url: TestClient(app))
    result = CliRunner().invoke(storm_cli.storm, ["--count", "6000000"])
    assert result.exit_code == 2
    assert "count" in result.output and "400" in result.output and "1,000,000" in result.output


def test_the_storm_channel_holds_survive_a_restart_with_a_db(tmp_path: Any) -> None:
    settings = small(db=str(tmp_path / "state.db"))
    app, rt, storms = wire(settings)
    with TestClient(app) as client:
        start_storm(client, rate=100, count=300, products=5)
        advance(client, 4)
    held = dict(storms.channel.held)
    allocated = {k: s.allocated for k, s in rt.backend.state.stock.items()}
    assert held and sum(held.values()) == sum(allocated.values())
    rt.store.close()  # type: ignore[union-attr]

    _, rt2, storms2 = wire(settings)
    assert storms2.channel.held == held
    assert {k: s.allocated for k, s in rt2.backend.state.stock.items()} == allocated
