"""Webhook deliveries/s of the fake beside a bare aiohttp loop, and the API's p99 with and without a storm.

    python bench/bench_webhooks.py [--count 20000] [--reps 3] [--probe-seconds 10] [--storm-rate 2000] [--experiments]

Part 1, throughput. A trivial receiver (bench/receiver.py: raw asyncio, answers 204) runs on core 1 and counts
POSTs; the sender under test runs on core 0:
  (a) the fake (``mock-xtnd serve``) with one subscription to the receiver and ``delivery.senders`` = 8 or 64,
      driven by ``POST /_mock/storm`` (count = N steps at the highest rate: every step is a real stock change that
      fires one AvailableBalanceChanged, so the fake's figure includes making the event, the outbox, signing,
      sending and journaling it);
  (b) bench/bare_sender.py: one aiohttp ClientSession posting N pre-built, pre-signed bodies of the same shape at
      the same concurrency (also once with ~1 KB bodies, to show size hardly matters on loopback).
Deliveries/s = (count - 1) / (last - first) as the receiver saw them. The sender's CPU time per delivery is
recorded too (/proc for the fake, process_time for the loop): the noise-robust cost.

Part 2, emission must not starve the API. bench/latency_probe.py (core 1) GETs a single product
(``GET /RESTAPI/v1_0/demo/Products/100003`` with ``ExtendBasicAuthorization``) at a paced 200 req/s over 4
connections for --probe-seconds with the fake idle and as long during --storm-rate events/s storms
(deliveries to the receiver included), in 5 + 5 interleaved slices per repetition, pooled per phase. (Until
2026-11-28 19:30Z it was one 10 s block per phase; the idle block's p99 then swung 1.0-3.9 ms with whatever else
the shared machine did at that moment, which alone moved the ratio between 0.5x and 2.6x.)

Both parts also run the same fake with its pacing off (``background_slice_ms: null``: storm steps and delivery
attempts run to the end of each burst instead of yielding to API requests after 0.3 ms of a loop pass; see
mock_xtnd/pacing.py): the ``*_unpaced`` rows, interleaved with the product's, show what pacing buys and costs.

Figures are medians of --reps repetitions; ratios are medians of per-repetition ratios.
Writes bench/results/webhooks.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import _harness as h

TARGET_RATIO = 0.7
TARGET_P99_FACTOR = 2.0
SLICES = 5  # idle and storm slices per repetition, interleaved
SECRET = "bench-secret"
PROBE_PATH = f"{h.API}/Products/100003"  # a single-record read, as a webshop makes on a hook


def subscription_config(receiver_port: int, senders: int, paced: bool = True) -> dict[str, Any]:
    """``paced=False`` turns the fake's pacing off (``background_slice_ms: null``), for the side-by-side rows."""
    return {
        "subscriptions": [{"name": "bench", "callback_url": f"http://{h.HOST}:{receiver_port}/hook",
                           "secret": SECRET, "triggers": ["AvailableBalanceChanged"]}],
        "delivery": {"senders": senders},
        **({} if paced else {"background_slice_ms": None}),
    }


def receiver_stats(port: int) -> dict[str, Any]:
    status, _, body = h.http(port, "GET", "/stats")
    assert status == 200, body
    return dict(json.loads(body))


def receiver_reset(port: int) -> None:
    h.http(port, "POST", "/reset")


def wait_count(port: int, count: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last_seen, stalled_since = -1, time.monotonic()
    while True:
        st = receiver_stats(port)
        if st["count"] >= count:
            return st
        now = time.monotonic()
        if st["count"] != last_seen:
            last_seen, stalled_since = st["count"], now
        if now > deadline or now - stalled_since > 30:
            st["incomplete"] = True
            return st
        time.sleep(0.05)


def rate_of(st: dict[str, Any]) -> float:
    span = st["last"] - st["first"]
    return round((st["count"] - 1) / span, 1) if span > 0 else 0.0


def start(port: int, config: dict[str, Any], experiment: bool) -> tuple[h.Proc, str]:
    if experiment:
        return h.start_experiment(port, config, ["--raw-sender"])
    return h.start_fake(port, config)


def fake_throughput(receiver_port: int, count: int, senders: int, experiment: bool = False,
                    paced: bool = True) -> dict[str, Any]:
    port = h.free_port()
    fake, cfg = start(port, subscription_config(receiver_port, senders, paced), experiment)
    try:
        h.wait_ready(port, fake)
        receiver_reset(receiver_port)
        cpu0 = h.cpu_seconds(fake.pid)
        status, _, body = h.http(port, "POST", "/_mock/storm", json.dumps(
            {"shape": "constant", "rate": 1_000_000, "count": count}).encode(),
            {"Content-Type": "application/json"})
        assert status == 202, body
        storm_id = json.loads(body)["stormId"]
        st = wait_count(receiver_port, count, timeout=count / 50 + 60)
        cpu = h.cpu_seconds(fake.pid) - cpu0
        status, _, body = h.http(port, "GET", f"/_mock/storm/{storm_id}", timeout=120)
        storm = json.loads(body) if status == 200 else {}
        progress = storm.get("deliveries", {})
    finally:
        fake.stop()
        Path(cfg).unlink(missing_ok=True)
    return {"rate": rate_of(st), "received": st["count"], "incomplete": st.get("incomplete", False),
            "body_bytes_mean": round(st["bytes"] / st["count"], 1) if st["count"] else 0,
            "signed": st["signed"], "sender_cpu_us_per_delivery": round(cpu / max(1, st["count"]) * 1e6, 1),
            "fake_report": {**{k: progress.get(k) for k in ("delivered", "retried", "failed", "p50LatencyMs",
                                                            "p99LatencyMs")},
                            "peakRate": storm.get("peakRate")}}


def bare_throughput(receiver_port: int, count: int, concurrency: int, body_bytes: int | None = None) -> dict[str, Any]:
    receiver_reset(receiver_port)
    cmd = [h.PYTHON, str(h.BENCH_DIR / "bare_sender.py"), "--url", f"http://{h.HOST}:{receiver_port}/hook",
           "--count", str(count), "--concurrency", str(concurrency), "--secret", SECRET]
    if body_bytes:
        cmd += ["--body-bytes", str(body_bytes)]
    out = subprocess.run(h.pinned(cmd, h.SERVER_CORE), capture_output=True, text=True, timeout=count / 50 + 120,
                         cwd=h.ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"bare sender failed: {out.stderr[-2000:]}")
    own = json.loads(out.stdout.strip().splitlines()[-1])
    st = wait_count(receiver_port, count, timeout=30)
    return {"rate": rate_of(st), "received": st["count"], "incomplete": st.get("incomplete", False),
            "body_bytes_mean": round(st["bytes"] / st["count"], 1) if st["count"] else 0, "signed": st["signed"],
            "sender_cpu_us_per_delivery": round(own["cpu_s"] / max(1, own["ok"]) * 1e6, 1),
            "sender_reported_rate": own["rate"], "failed": own["failed"]}


def probe(port: int, path: str, seconds: float, raw: bool = False) -> dict[str, Any]:
    ((name, value),) = h.auth().items()
    out = subprocess.run(h.pinned([h.PYTHON, str(h.BENCH_DIR / "latency_probe.py"), "--port", str(port), "--path",
                                   path, "--header", f"{name}: {value}", "--rate", "200", "--connections", "4",
                                   "--seconds", str(seconds), *(["--raw"] if raw else [])], h.LOAD_CORE),
                         capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"probe failed: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def quantiles(latencies: list[float]) -> dict[str, Any]:
    xs = sorted(latencies)

    def q(frac: float) -> float:
        return xs[min(len(xs) - 1, int(frac * len(xs)))]

    return {"requests": len(xs), "p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99), "max_ms": xs[-1]}


def latency_under_storm(receiver_port: int, reps: int, seconds: float, storm_rate: float,
                        experiment: bool = False, slices: int = SLICES, paced: bool = True) -> dict[str, Any]:
    """Per repetition, ``slices`` idle slices and ``slices`` storm slices of seconds/slices each, alternating (the
    order flips every slice), pooled per phase: whatever the shared machine does meanwhile falls on both phases.
    A storm slice starts its own storm 0.5 s before probing (steady rate, connections open) and waits for all of
    its deliveries to be answered before the next idle slice."""
    port = h.free_port()
    fake, cfg = start(port, subscription_config(receiver_port, 8, paced), experiment)
    runs: list[dict[str, Any]] = []
    slice_s = seconds / slices
    try:
        h.wait_ready(port, fake)
        path = PROBE_PATH
        status, _, body = h.http(port, "GET", path, headers=h.auth())
        assert status == 200, body[:300]
        probe(port, path, 2)  # warm
        for rep in range(reps):
            pooled: dict[str, list[float]] = {"idle": [], "storm": []}
            late = {"idle": 0, "storm": 0}
            rates: list[float] = []
            storms: list[dict[str, Any]] = []
            for i in range(slices):
                for phase in (("idle", "storm") if (rep + i) % 2 == 0 else ("storm", "idle")):
                    if phase == "idle":
                        got = probe(port, path, slice_s, raw=True)
                    else:
                        receiver_reset(receiver_port)
                        duration = slice_s + 1.0
                        status, _, body = h.http(port, "POST", "/_mock/storm", json.dumps(
                            {"shape": "constant", "rate": storm_rate, "durationSeconds": duration}).encode(),
                            {"Content-Type": "application/json"})
                        assert status == 202, body
                        storm_id, planned = json.loads(body)["stormId"], json.loads(body)["planned"]
                        time.sleep(0.5)
                        before = receiver_stats(receiver_port)["count"]
                        t0 = time.monotonic()
                        got = probe(port, path, slice_s, raw=True)
                        rates.append((receiver_stats(receiver_port)["count"] - before) / (time.monotonic() - t0))
                        st = wait_count(receiver_port, planned, timeout=duration + 60)
                        status, _, body = h.http(port, "GET", f"/_mock/storm/{storm_id}", timeout=120)
                        prog = json.loads(body) if status == 200 else {}
                        storms.append({"planned": planned, "emitted": prog.get("emitted"), "received": st["count"],
                                       "peak_rate": prog.get("peakRate"),
                                       "delivery_p99_ms": prog.get("deliveries", {}).get("p99LatencyMs")})
                        time.sleep(0.3)  # the outbox's last flush and the storm's own bookkeeping
                    assert got["non_2xx"] == 0, got
                    pooled[phase] += got["latencies_ms"]
                    late[phase] += got["late"]
            result: dict[str, Any] = {
                "idle": {**quantiles(pooled["idle"]), "late": late["idle"]},
                "storm": {**quantiles(pooled["storm"]), "late": late["storm"],
                          "deliveries_per_s_during_probe": round(h.median(rates), 1), "storms": storms},
            }
            result["p99_factor"] = round(result["storm"]["p99_ms"] / result["idle"]["p99_ms"], 2)
            runs.append(result)
            print(f"rep {rep + 1}/{reps} {'EXPERIMENT raw sender: ' if experiment else ''}"
                  f"{'' if paced else 'UNPACED '}API p99 idle "
                  f"{result['idle']['p99_ms']:.2f} ms  during a {storm_rate:.0f}/s storm "
                  f"{result['storm']['p99_ms']:.2f} ms  (x{result['p99_factor']}; {slices} + {slices} interleaved "
                  f"slices)  deliveries/s during {result['storm']['deliveries_per_s_during_probe']}", flush=True)
    finally:
        fake.stop()
        Path(cfg).unlink(missing_ok=True)
    return summarize_latency(runs, slices)


def summarize_latency(runs: list[dict[str, Any]], slices: int = SLICES) -> dict[str, Any]:
    return {
        "slices_per_phase": slices,
        "idle_p50_ms": h.median([r["idle"]["p50_ms"] for r in runs]),
        "idle_p99_ms": h.median([r["idle"]["p99_ms"] for r in runs]),
        "storm_p50_ms": h.median([r["storm"]["p50_ms"] for r in runs]),
        "storm_p99_ms": h.median([r["storm"]["p99_ms"] for r in runs]),
        "p99_factor": h.median([r["p99_factor"] for r in runs]),
        "deliveries_per_s_during_probe": h.median([r["storm"]["deliveries_per_s_during_probe"] for r in runs]),
        "runs": runs,
    }


def run(count: int, reps: int, probe_seconds: float, storm_rate: float, experiments: bool = False) -> dict[str, Any]:
    h.pin_self(h.LOAD_CORE)
    h.check_server_stack()
    receiver_port = h.free_port()
    receiver = h.Proc(h.pinned([h.PYTHON, str(h.BENCH_DIR / "receiver.py"), "--port", str(receiver_port)],
                               h.LOAD_CORE), "receiver")
    throughput: dict[str, list[dict[str, Any]]] = {}
    try:
        h.wait_ready(receiver_port, receiver)
        cases = {
            "fake_c8": lambda: fake_throughput(receiver_port, count, 8),
            "bare_c8": lambda: bare_throughput(receiver_port, count, 8),
            "fake_c64": lambda: fake_throughput(receiver_port, count, 64),
            "bare_c64": lambda: bare_throughput(receiver_port, count, 64),
            "bare_c64_1kb": lambda: bare_throughput(receiver_port, count, 64, 1024),
            "fake_c8_unpaced": lambda: fake_throughput(receiver_port, count, 8, paced=False),
            "fake_c64_unpaced": lambda: fake_throughput(receiver_port, count, 64, paced=False),
        }
        if experiments:
            cases["experiment_raw_c8"] = lambda: fake_throughput(receiver_port, count, 8, experiment=True)
            cases["experiment_raw_c64"] = lambda: fake_throughput(receiver_port, count, 64, experiment=True)
        throughput = {k: [] for k in cases}
        for rep in range(reps):
            names = list(cases)
            if rep % 2:  # alternate who goes first
                names = names[::-1]
            for name in names:
                res = cases[name]()
                throughput[name].append(res)
                print(f"rep {rep + 1}/{reps} {name:14s} {res['rate']:9.1f} deliveries/s  received {res['received']}"
                      f"  body {res['body_bytes_mean']} B  sender CPU {res['sender_cpu_us_per_delivery']} us/delivery"
                      + ("  INCOMPLETE" if res["incomplete"] else ""), flush=True)
        # the product (paced) and the same fake with pacing off, one repetition each in turn, first one then the other
        paced_runs: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for rep in range(reps):
            for paced in ((True, False) if rep % 2 == 0 else (False, True)):
                paced_runs[paced] += latency_under_storm(receiver_port, 1, probe_seconds, storm_rate,
                                                         paced=paced)["runs"]
        latency, latency_unpaced = summarize_latency(paced_runs[True]), summarize_latency(paced_runs[False])
        latency_exp = (latency_under_storm(receiver_port, reps, probe_seconds, storm_rate, experiment=True)
                       if experiments else None)
    finally:
        receiver.stop()

    def med(name: str, key: str) -> float:
        return h.median([r[key] for r in throughput[name]])

    def med_ratio(a: str, b: str, key: str = "rate", invert: bool = False) -> float:
        pairs = zip(throughput[a], throughput[b], strict=True)
        return round(h.median([(y[key] / x[key]) if invert else (x[key] / y[key]) for x, y in pairs]), 3)

    figures = {n: {"deliveries_per_s": med(n, "rate"), "sender_cpu_us_per_delivery": med(n, "sender_cpu_us_per_delivery"),
                   "body_bytes_mean": med(n, "body_bytes_mean"),
                   "incomplete_runs": sum(1 for r in throughput[n] if r["incomplete"])} for n in throughput}
    pairs = {"c8": ("fake_c8", "bare_c8"), "c64": ("fake_c64", "bare_c64"),
             "unpaced_c8": ("fake_c8_unpaced", "bare_c8"), "unpaced_c64": ("fake_c64_unpaced", "bare_c64")}
    if experiments:
        pairs.update({"experiment_raw_c8": ("experiment_raw_c8", "bare_c8"),
                      "experiment_raw_c64": ("experiment_raw_c64", "bare_c64")})
    ratios = {k: med_ratio(a, b) for k, (a, b) in pairs.items()}
    cpu_ratios = {k: med_ratio(a, b, "sender_cpu_us_per_delivery", invert=True) for k, (a, b) in pairs.items()}
    return {
        "benchmark": "webhooks",
        "machine": h.machine(),
        "method": {"count": count, "repetitions": reps, "receiver": "bench/receiver.py (raw asyncio + uvloop, 204)",
                   "fake": "mock-xtnd serve, one subscription, delivery.senders = concurrency, POST /_mock/storm "
                           "count=N at rate 1e6/s; journal, outbox and signing ON",
                   "bare": "bench/bare_sender.py: aiohttp ClientSession + TCPConnector(limit=c), uvloop, N pre-signed "
                           "bodies built with the fake's Delivery.body and signing.sign",
                   "rate": "(count - 1) / (last - first) at the receiver",
                   "probe": f"bench/latency_probe.py: paced 200 req/s, 4 connections, GET {PROBE_PATH}, "
                            f"{probe_seconds} s per phase in {SLICES} idle + {SLICES} storm slices, interleaved, "
                            "pooled per phase",
                   "cpu_ratio": "bare CPU-us per delivery / fake's: the ratio with a core to itself"},
        "figures_median": figures,
        "ratios_median": ratios,
        "cpu_ratios_median": cpu_ratios,
        "api_latency_under_storm": latency,
        "api_latency_under_storm_unpaced": latency_unpaced,
        "experiment_raw_sender_api_latency_under_storm": latency_exp,
        "targets": {
            "deliveries_vs_bare_c8": {"target": f">= {TARGET_RATIO}", "measured": ratios["c8"],
                                      "met": ratios["c8"] >= TARGET_RATIO},
            "deliveries_vs_bare_c64": {"target": f">= {TARGET_RATIO}", "measured": ratios["c64"],
                                       "met": ratios["c64"] >= TARGET_RATIO},
            "api_p99_storm_vs_idle": {"target": f"<= {TARGET_P99_FACTOR}x", "measured": latency["p99_factor"],
                                      "met": latency["p99_factor"] <= TARGET_P99_FACTOR},
        },
        "runs": throughput,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--probe-seconds", type=float, default=10.0)
    parser.add_argument("--storm-rate", type=float, default=2000.0)
    parser.add_argument("--experiments", action="store_true",
                        help="also run bench/experiment_app.py --raw-sender (a proposed sender, applied from outside)")
    args = parser.parse_args()
    result = run(args.count, args.reps, args.probe_seconds, args.storm_rate, args.experiments)
    path = h.write_result("webhooks", result)
    print(json.dumps({k: result[k] for k in ("figures_median", "ratios_median", "cpu_ratios_median", "targets")},
                     indent=2))
    for key in ("api_latency_under_storm", "api_latency_under_storm_unpaced",
                "experiment_raw_sender_api_latency_under_storm"):
        if result[key]:
            print(key, json.dumps({k: v for k, v in result[key].items() if k != "runs"}, indent=2))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
