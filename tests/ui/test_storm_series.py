"""A storm over time (storm_series.py): per-second counts and latencies, the histogram as plotted, and the lag of a
client's reads behind the truth."""

from __future__ import annotations

from mock_xtnd.simulate.storm import LATENCY_BUCKET, LatencyHistogram
from mock_xtnd.simulate.storm_series import LagTracker, PerSecond, StormSeries, histogram

ORIGIN = "storm:storm-1"


def hook(seq: int, product: str, warehouse: str = "1", attempt: int = 1, origin: str = ORIGIN) -> dict[str, object]:
    return {"seq": seq, "kind": "delivery", "deliveryId": f"d{product}{warehouse}{seq if attempt == 1 else seq - 1}",
            "origin": origin, "attempt": attempt, "forged": False,
            "notifications": [{"Action": "AvailableBalanceChanged",
                               "Details": {"ProductNumber": product, "Warehouse": warehouse, "AvailableBalance": 1}}]}


def read(products: list[str], warehouse: str | None = None, status: int = 200, fault: str | None = None,
         user: str | None = "demo") -> dict[str, object]:
    return {"kind": "api", "method": "GET", "resource": "ProductAvailability", "user": user, "status": status,
            "fault": fault, "productNumbers": products, "warehouse": warehouse}


def test_per_second_counts_and_quantiles_stay_within_what_happened() -> None:
    p = PerSecond()
    for ms, latency in ((10, 1.0), (900, 3.0), (1500, 100.0), (3100, 2.0)):
        p.add(ms, latency)
    assert p.counts == [2, 1, 0, 1]
    p50 = p.quantiles(0.5)
    assert p50[2] is None and p.maxima[1] == 100.0
    assert all(q is None or q <= m for q, m in zip(p50, p.maxima, strict=True) if m is not None)


def test_the_series_pads_emitted_and_delivered_to_one_length() -> None:
    s = StormSeries()
    s.step(0)
    s.step(999)
    s.delivery(2500, 4.0)
    j = s.to_json()
    assert j["seconds"] == [0, 1, 2] and j["emitted"] == [2, 0, 0] and j["delivered"] == [0, 0, 1]
    assert len(j["p50LatencyMs"]) == 3 and j["p50LatencyMs"][2] is not None


def test_the_plotted_histogram_keeps_every_delivery() -> None:
    h = LatencyHistogram()
    for ms in (0.001, 0.5, 0.6, 5.0, 50.0, 50.5, 2000.0):
        h.add(ms)
    out = histogram(h.counts, LATENCY_BUCKET, 0.01)
    assert sum(out["counts"]) == 7 and len(out["edgesMs"]) == len(out["counts"]) + 1
    assert out["edgesMs"] == sorted(out["edgesMs"]) and out["edgesMs"][0] <= 0.51 and out["edgesMs"][-1] >= 2000
    assert histogram({}, LATENCY_BUCKET, 0.01) == {"edgesMs": [], "counts": []}


def test_lag_runs_from_the_earliest_unread_change_to_the_first_read_covering_it() -> None:
    lag = LagTracker(ORIGIN, started_ms=0)
    lag.fold(hook(1, "P1"), created_at=100, at_ms=101)
    lag.fold(hook(2, "P1"), created_at=300, at_ms=301)  # changed again before any read: still stale since 100
    lag.fold(hook(3, "P2", "2"), created_at=400, at_ms=401)
    lag.fold(hook(4, "P9", origin="storm:other"), created_at=400, at_ms=401)  # another storm's: not counted
    lag.fold(read(["P1"], status=500), None, 500)  # a failed read shows nothing
    lag.fold(read(["P1"], fault="truncate"), None, 550)  # nor does a cut answer
    lag.fold(read(["P1"], user=None), None, 560)  # nor an unauthenticated one
    lag.fold(read(["P1"]), None, 600)
    assert lag.to_json()["measured"] == 1 and lag.max_ms == 500
    lag.fold(read(["P2"], warehouse="1"), None, 700)  # the wrong warehouse
    assert lag.unread == 1
    lag.fold(read([]), None, 900)  # a list read covers everything changed before it
    j = lag.to_json()
    assert j["measured"] == 2 and j["unread"] == 0 and j["maxMs"] == 500 and j["users"] == ["demo"]
    assert j["p99Ms"] is not None and j["p99Ms"] <= 500


def test_a_retry_of_the_same_delivery_is_not_a_new_change() -> None:
    lag = LagTracker(ORIGIN, started_ms=0)
    lag.fold(hook(1, "P1"), created_at=100, at_ms=100)
    lag.fold(read(["P1"]), None, 200)
    lag.fold(hook(2, "P1", attempt=2), created_at=100, at_ms=300)  # attempt 2 of delivery 1
    assert lag.unread == 0 and lag.count == 1
