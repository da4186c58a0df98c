"""The reference sync under an AvailableBalanceChanged storm (issue 11, item 12; first written for issue 5).

    python bench/bench_reference_sync.py [--rates 1000,2000,5000] [--senders 8,64] [--reps 3] [--count 20000]
        [--products 500] [--run-seconds 120] [--quiet-wait 90] [--transient-errors X] [--quick]
        [--variants product,wrapper,gcfreeze] [--instrumented] [--no-lag-sampling] [--out NAME]

One run = two fresh processes on loopback, real clock:
  * the fake, ``mock-xtnd serve`` on core 0: 500 products x 3 warehouses, rate limits at their DEFAULTS (300 per
    endpoint family per minute: a well-behaved client converges within them), production quirks at their defaults
    (1% transient 400s unless --transient-errors says otherwise), one subscription to the sync's /xtnd/webhooks
    with every trigger, ``delivery.senders`` = 8 or 64, a dedicated API user for the sync (so the journal's
    ``user`` isolates its calls);
  * ``reference-sync run`` on core 1, configured only by the XTND_* environment variables.
After the sync's initial load matches ``GET /_mock/state``, the bench posts a storm
``{shape: constant, rate: R, count: 20000, products: 500, skew: uniform}`` and, every 250 ms, compares the sync's
``GET /xtnd/probe`` with the truth (``GET /_mock/state``): how many items (product x warehouse) differ, and how long
the longest-differing one has differed (first sample that saw it differ -> now; 250 ms resolution). Once the storm
has emitted its last step the truth is final; the probe is then polled every 50 ms until it equals the truth
exactly, and the bench waits for every storm delivery to be answered. A low rate (``--rates 2 --count 100``) is a
trickle: its figure is the reads per event and the rows read again (the sync's ``rows_already_known``).

Figures per run, from the fake's journal (docs/journal-format.md) after the run:
  * calls_per_event: ProductAvailability calls by the sync's user (single-item reads and modifiedDateFrom pages,
    from the storm's start to convergence, retries and reconciliation passes included) / AvailableBalanceChanged
    deliveries delivered (origin = storm:<id>);
  * ack p50/p99/max: delivery records' LatencyMs (the fake's sender timing the receiver's answer);
  * deliveries/s: delivered / (last delivered answer - storm start) (the fake's own DeliveriesPerSecond formula);
  * convergence_s: probe == truth, measured from the storm's last delivered answer (0 when already equal);
  * lag: items behind (max, time-weighted median) and the longest-differing item (max) until the last answer.
Also, per run: CPU of both processes (/proc/<pid>/stat) and their main threads' on-CPU / runnable-but-waiting
shares (/proc/<pid>/schedstat: waiting = another process had the core), the machine's busy and steal cores, the
sync's CPU per hook (the noise-robust cost), and the sync's own counters.

The machine is shared: before each run the bench waits (outside the run's 2-minute budget, at most --quiet-wait
seconds) for the two cores to go idle, and records what it saw. Configurations are interleaved per repetition.
Medians of --reps runs per (rate, senders); the headline is the configuration with the highest median
deliveries/s, i.e. the highest rate the fake sustains into this receiver. Writes bench/results/<--out>.json.

Diagnosis (product code untouched, wrapped from outside by ``serve_instrumented``):
  --instrumented      timers inside the sync: per-hook time from the ASGI call to the last byte, event-loop lag,
                      blocking sections (group commit, apply/clear balances, the probe); BENCH_SYNC_PROFILE=path
                      adds a cProfile of the storm;
  --variants wrapper  the same app started by this script without timers (control for the one below);
  --variants gcfreeze experiment (with --gc-log): gc.freeze() in the sync at start, in the fake every second
                      (gcfreeze-sync, gcfreeze-fake: one side only);
  --gc-log            garbage-collector pauses of both processes (the sync then runs as the wrapper variant);
  --no-lag-sampling   no probe/state reads until every delivery is answered (what the sampler costs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness as h

from mock_xtnd.domain.events import ACTIONS

SYNC_BIN = (
    str(h.VENV_BIN / "reference-sync") if (h.VENV_BIN / "reference-sync").exists() else "reference-sync"
)
USERNAME, PASSWORD = "reference-sync-bench", "reference-sync-bench-secret"
HOOK_SECRET = "bench-hook-secret"
SAMPLE_SECONDS = 0.25
CONVERGE_POLL_SECONDS = 0.05

TARGETS = {
    "calls_per_event_max": 0.01,
    "ack_p99_ms_max": 50.0,
    "convergence_s_max": 1.0,
}



# ---------------------------------------------------------------------------------------------- plumbing
def get_json(port: int, path: str, timeout: float = 30.0) -> Any:
    status, _, body = h.http(port, "GET", path, timeout=timeout)
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
    return json.loads(body)


def post_json(port: int, path: str, payload: Any) -> tuple[int, Any]:
    status, _, body = h.http(
        port, "POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    return status, json.loads(body) if body else None


def jsonl(port: int, path: str) -> list[dict[str, Any]]:
    status, _, body = h.http(port, "GET", path, timeout=120)
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
    return [json.loads(line) for line in body.splitlines() if line.strip()]


def truth_balances(fake_port: int) -> dict[tuple[str, str], float]:
    state = get_json(fake_port, "/_mock/state")
    return {(b["productNumber"], b["warehouse"]): float(b["availableBalanceNow"]) for b in state["balances"]}


def probe_balances(sync_port: int) -> dict[tuple[str, str], float]:
    view = get_json(sync_port, "/xtnd/probe")
    return {
        (b["productNumber"], b["warehouse"]): float(b["availableBalanceNow"])
        for b in view["balances"]
        if b.get("availableBalanceNow") is not None
    }


def behind(truth: dict[tuple[str, str], float], probe: dict[tuple[str, str], float]) -> set[tuple[str, str]]:
    return {k for k, v in truth.items() if probe.get(k) != v}


def iso_to_s(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * len(s) + 0.5)) - 1))]


def r3(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def r4(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def sched(pid: int) -> tuple[float, float]:
    """(on-CPU seconds, runnable-but-waiting seconds) of the process's main thread (/proc/<pid>/schedstat): a
    process that is neither is blocked (I/O, fsync, sleeping on a socket)."""
    fields = Path(f"/proc/{pid}/schedstat").read_text().split()
    return int(fields[0]) / 1e9, int(fields[1]) / 1e9


def machine_cpu() -> dict[str, float]:
    """Whole-machine jiffies: busy, idle, steal (a shared VM: other tenants take the cores away)."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    hz = 100.0
    return {
        "busy_s": (v[0] + v[1] + v[2] + v[5] + v[6]) / hz,
        "idle_s": (v[3] + v[4]) / hz,
        "steal_s": v[7] / hz,
    }


def quiet_wait(max_wait: float, threshold_cores: float = 0.5) -> dict[str, Any]:
    """Other tenants share these two cores. Before a run, wait (outside the run's time budget) until the machine
    has been nearly idle for a second, at most ``max_wait`` seconds; report what we saw either way."""
    t0 = time.monotonic()
    busy = 99.0
    while True:
        a = machine_cpu()
        time.sleep(1.0)
        b = machine_cpu()
        busy = b["busy_s"] - a["busy_s"]
        if busy < threshold_cores or time.monotonic() - t0 > max_wait:
            return {
                "waited_s": round(time.monotonic() - t0, 1),
                "busy_cores_before": round(busy, 2),
                "quiet": busy < threshold_cores,
            }


def time_weighted_median(samples: list[dict[str, Any]], key: str) -> float | None:
    """Median over time, not over samples: each sample stands for the time until the next one (polling is 50 ms
    after the last step and 250 ms before it, so a plain median would over-weight the end)."""
    if not samples:
        return None
    weighted = []
    for i, smp in enumerate(samples):
        dt_next = samples[i + 1]["t"] - smp["t"] if i + 1 < len(samples) else SAMPLE_SECONDS
        weighted.append((smp[key], max(0.0, dt_next)))
    weighted.sort()
    total = sum(w for _, w in weighted)
    acc = 0.0
    for value, w in weighted:
        acc += w
        if acc >= total / 2:
            return float(value)
    return float(weighted[-1][0])


def fake_config(
    sync_port: int, senders: int, products: int, transient_errors: float | None = None
) -> dict[str, Any]:
    # Rate limits and quirks stay at the fake's defaults on purpose (no NO_429_LIMITS here).
    config: dict[str, Any] = {
        "users": [
            {"username": "demo", "password": "demo-secret"},
            {"username": USERNAME, "password": PASSWORD},
        ],
        "catalogue": {"products": products},
        "subscriptions": [
            {
                "name": "reference-sync",
                "callback_url": f"http://{h.HOST}:{sync_port}/xtnd/webhooks",
                "secret": HOOK_SECRET,
                "triggers": list(ACTIONS),
            }
        ],
        "delivery": {"senders": senders},
    }
    if transient_errors is not None:
        config["quirks"] = {"transient_errors": transient_errors}
    return config


def pass_durations(pages: list[dict[str, Any]]) -> list[float]:
    """Seconds from each modifiedDateFrom pass's first page request to its last page's answer (journal times)."""
    out: list[float] = []
    start: float | None = None
    for c in sorted(pages, key=lambda c: int(c["seq"])):
        if c.get("page") == 1 and start is None:
            start = iso_to_s(c["time"])
        if start is not None and c.get("lastPage"):
            out.append(iso_to_s(c["time"]) + float(c["latencyMs"]) / 1000 - start)
            start = None
    return out


# ---------------------------------------------------------------------------------------------- one run
def one_run(
    rate: float,
    senders: int,
    count: int,
    products: int,
    run_seconds: float,
    instrumented: bool = False,
    sampling: bool = True,
    variant: str = "product",
    gc_log: bool = False,
    transient_errors: float | None = None,
) -> dict[str, Any]:
    if instrumented and variant == "product":
        variant = "wrapper"
    t_launch = time.monotonic()
    deadline = t_launch + run_seconds
    fake_port, sync_port = h.free_port(), h.free_port()
    cfg = h.write_config(fake_config(sync_port, senders, products, transient_errors))
    gc_paths = {
        k: f"{tempfile.gettempdir()}/bench-gc-{k}-{os.getpid()}-{fake_port}.json" for k in ("fake", "sync")
    }
    fake_cmd = [h.MOCK_XTND, "serve", "--port", str(fake_port), "--config", cfg]
    if gc_log:
        fake_cmd = [h.PYTHON, str(Path(__file__).resolve()), "--serve-fake-gclog", *fake_cmd[1:]]
    fake = h.Proc(
        h.pinned(fake_cmd, h.SERVER_CORE),
        "fake",
        env=(
            {
                "BENCH_GC_LOG": gc_paths["fake"],
                "BENCH_GC_FREEZE_EVERY": "1" if variant in ("gcfreeze", "gcfreeze-fake") else "0",
            }
            if gc_log
            else None
        ),
    )
    sync: h.Proc | None = None
    try:
        h.wait_ready(fake_port, fake, path="/_mock/clock", timeout=30)
        env = {
            "XTND_API_URL": f"http://{h.HOST}:{fake_port}/RESTAPI/v1_0/demo",
            "XTND_USERNAME": USERNAME,
            "XTND_PASSWORD": PASSWORD,
            "XTND_WEBHOOK_SECRET": HOOK_SECRET,
            "XTND_WEBHOOK_PORT": str(sync_port),
        }
        env.pop("XTND_SYNC_DB", None)
        if gc_log and variant == "product":
            variant = "wrapper"  # the same app, started by this script so that its GC pauses can be logged
        if gc_log:
            env["BENCH_GC_LOG"] = gc_paths["sync"]
        if variant == "product":
            cmd = [SYNC_BIN, "run", "--log-level", "WARNING"]
        else:
            cmd = [h.PYTHON, str(Path(__file__).resolve()), "--serve-instrumented"]
            env["BENCH_SYNC_TIMERS"] = "1" if instrumented else "0"
            if variant in ("gcfreeze", "gcfreeze-sync"):
                env["BENCH_GC_FREEZE_EVERY"] = "1"
        sync = h.Proc(h.pinned(cmd, h.LOAD_CORE), "sync", env=env)
        h.wait_ready(sync_port, sync, path="/xtnd/probe", timeout=30)

        # The initial load (the sync's first, full ProductAvailability read) must match the truth before the storm.
        truth0 = truth_balances(fake_port)
        while behind(truth0, probe_balances(sync_port)):
            if time.monotonic() > t_launch + 30:
                raise RuntimeError("the sync's initial load never matched /_mock/state")
            time.sleep(0.05)
        seq0 = int(get_json(fake_port, "/_mock/journal?limit=1")["lastSeq"])
        if instrumented:
            h.http(sync_port, "POST", "/_bench/reset")
        status0 = get_json(sync_port, "/xtnd/status")
        cpu0 = {"fake": h.cpu_seconds(fake.pid), "sync": h.cpu_seconds(sync.pid)}
        sched0 = {"fake": sched(fake.pid), "sync": sched(sync.pid)}
        mach0 = machine_cpu()
        self0 = sum(os.times()[:2])
        load0 = list(os.getloadavg())

        # ------------------------------------------------------------------ the storm
        t_storm = time.time()
        code, started = post_json(
            fake_port,
            "/_mock/storm",
            {"shape": "constant", "rate": rate, "count": count, "products": products, "skew": "uniform"},
        )
        if code != 202:
            raise RuntimeError(f"storm refused: {code} {started}")
        storm_id = started["stormId"]
        origin = f"storm:{storm_id}"

        samples: list[dict[str, Any]] = []
        first_seen: dict[tuple[str, str], float] = {}
        truth_final: dict[tuple[str, str], float] | None = None
        t_emitted: float | None = None
        t_match: float | None = None
        progress: dict[str, Any] = {}
        cpu_at_emitted: dict[str, float] = {}
        next_progress = 0.0
        incomplete = None
        while True:
            now_m = time.monotonic()
            if now_m > deadline:
                incomplete = "run deadline reached"
                break
            if now_m >= next_progress:
                progress = get_json(fake_port, f"/_mock/storm/{storm_id}")
                next_progress = now_m + SAMPLE_SECONDS
            d = progress["deliveries"]
            answered = d["delivered"] + d["failed"]
            if truth_final is None and progress["state"] == "done":
                truth_final = truth_balances(fake_port)  # no other writer: this is the final truth
                t_emitted = time.time()
                cpu_at_emitted = {"fake": h.cpu_seconds(fake.pid), "sync": h.cpu_seconds(sync.pid)}
            t0 = time.time()
            if not sampling and not (truth_final is not None and answered >= progress["emitted"]):
                # no lag sampling: only the storm's progress until it is all answered
                time.sleep(SAMPLE_SECONDS)
                continue
            probe = probe_balances(sync_port)
            truth = truth_final if truth_final is not None else truth_balances(fake_port)
            t_sample = time.time()
            lagging = behind(truth, probe)
            for k in list(first_seen):
                if k not in lagging:
                    del first_seen[k]
            for k in lagging:
                first_seen.setdefault(k, t0)
            oldest = (t_sample - min(first_seen.values())) if first_seen else 0.0
            samples.append(
                {
                    "t": t_sample,
                    "behind": len(lagging),
                    "oldest_s": oldest,
                    "emitted": progress["emitted"],
                    "delivered": d["delivered"],
                    "final_truth": truth_final is not None,
                }
            )
            if truth_final is not None and not lagging and t_match is None:
                t_match = t0  # the probe read that first matched the final truth
            if t_match is not None and answered >= progress["emitted"] and progress["state"] == "done":
                break
            period = CONVERGE_POLL_SECONDS if truth_final is not None else SAMPLE_SECONDS
            time.sleep(max(0.0, period - (time.time() - t0)))
        cpu1 = {"fake": h.cpu_seconds(fake.pid), "sync": h.cpu_seconds(sync.pid)}
        sched1 = {"fake": sched(fake.pid), "sync": sched(sync.pid)}
        mach1 = machine_cpu()
        self1 = sum(os.times()[:2])
        t_end = time.time()
        status1 = get_json(sync_port, "/xtnd/status")
        inside = get_json(sync_port, "/_bench/stats") if instrumented else None
        progress = get_json(fake_port, f"/_mock/storm/{storm_id}")

        # ------------------------------------------------------------------ the journal's facts
        deliveries = [
            r
            for r in jsonl(fake_port, f"/_mock/journal?kind=delivery&since={seq0}&format=jsonl")
            if r.get("origin") == origin
        ]
        calls = jsonl(fake_port, f"/_mock/journal?kind=api&user={USERNAME}&since={seq0}&format=jsonl")
    finally:
        if sync is not None:
            sync_log_tail = sync.output()[-2000:]
            sync.stop()
        else:
            sync_log_tail = ""
        fake.stop()
        Path(cfg).unlink(missing_ok=True)

    delivered = [r for r in deliveries if r["outcome"] == "delivered"]
    abc_delivered = sum(
        1 for r in delivered if any(n.get("Action") == "AvailableBalanceChanged" for n in r["notifications"])
    )
    latencies = [float(r["latencyMs"]) for r in deliveries if r.get("status") is not None]
    answers = [iso_to_s(r["time"]) + float(r["latencyMs"]) / 1000 for r in delivered]
    storm_started = iso_to_s(progress["startedAt"])
    last_answer = max(answers) if answers else None
    first_sent = min(iso_to_s(r["time"]) for r in deliveries) if deliveries else None
    pa = [c for c in calls if c.get("resource") == "ProductAvailability"]
    pa_single = [c for c in pa if c.get("key")]
    pa_pages = [c for c in pa if not c.get("key")]
    pa_passes = [c for c in pa_pages if c.get("page") == 1 and c.get("status") == 200]
    pass_seconds = pass_durations(pa_pages)
    during = [s for s in samples if last_answer is None or s["t"] <= last_answer]
    convergence = None
    if t_match is not None and last_answer is not None:
        convergence = max(0.0, t_match - last_answer)
    storm_wall = (last_answer or t_end) - storm_started
    emitted_wall = (t_emitted or t_end) - t_storm
    cpu_storm = {k: cpu1[k] - cpu0[k] for k in cpu0}
    result = {
        "rate": rate,
        "lag_sampling": sampling,
        "sync_variant": variant,
        "senders": senders,
        "storm": {
            k: progress.get(k)
            for k in ("stormId", "planned", "emitted", "peakRate", "startedAt", "finishedAt", "error", "deliveries")
        },
        "incomplete": incomplete,
        "abc_delivered": abc_delivered,
        "attempts": len(deliveries),
        "not_delivered_attempts": len(deliveries) - len(delivered),
        "deliveries_per_s": r3(len(delivered) / (last_answer - storm_started)) if last_answer else None,
        "deliveries_per_s_first_to_last": (
            r3(len(delivered) / (last_answer - first_sent))
            if last_answer and first_sent and last_answer > first_sent
            else None
        ),
        "emission_seconds": r3(emitted_wall),
        "delivery_seconds": r3(storm_wall),
        "ack_p50_ms": r3(pct(latencies, 0.50)),
        "ack_p90_ms": r3(pct(latencies, 0.90)),
        "ack_p99_ms": r3(pct(latencies, 0.99)),
        "ack_max_ms": r3(max(latencies) if latencies else None),
        "ack_over_50ms": sum(1 for x in latencies if x >= 50.0),
        "ack_slowest": [
            {"ms": r3(float(r["latencyMs"])), "at_s": r3(iso_to_s(r["time"]) - storm_started)}
            for r in sorted(deliveries, key=lambda r: -float(r["latencyMs"]))[:5]
        ],
        "availability_calls": len(pa),
        "availability_single_reads": len(pa_single),
        "availability_list_pages": len(pa_pages),
        "availability_passes": len(pa_passes),
        "pages_per_pass_mean": r3(len(pa_pages) / len(pa_passes)) if pa_passes else None,
        "pass_seconds_median": r3(statistics.median(pass_seconds)) if pass_seconds else None,
        "pass_seconds_max": r3(max(pass_seconds)) if pass_seconds else None,
        "calls_per_event": r4(len(pa) / abc_delivered) if abc_delivered else None,
        "events_per_call": r3(abc_delivered / len(pa)) if pa else None,
        "sync_api_calls_all": len(calls),
        "sync_429s": sum(1 for c in calls if c.get("status") == 429),
        "sync_transient_400s": sum(1 for c in calls if c.get("errorKind") == "Transient"),
        "convergence_s": r3(convergence),
        "converged_before_last_answer": (
            t_match is not None and last_answer is not None and t_match <= last_answer
        ),
        "lag_items_max": max((s["behind"] for s in during), default=None),
        "lag_items_median": time_weighted_median(during, "behind"),
        "lag_oldest_s_max": r3(max((s["oldest_s"] for s in during), default=None)),
        "lag_oldest_s_median": r3(time_weighted_median(during, "oldest_s")),
        "lag_samples": len(during),
        "cpu_util": {k: r3(v / max(1e-9, t_end - t_storm)) for k, v in cpu_storm.items()},
        "cpu_util_during_emission": (
            {k: r3((cpu_at_emitted[k] - cpu0[k]) / max(1e-9, emitted_wall)) for k in cpu0}
            if cpu_at_emitted
            else None
        ),
        "main_thread": {
            k: {
                "on_cpu": r3((sched1[k][0] - sched0[k][0]) / max(1e-9, t_end - t_storm)),
                "runnable_waiting": r3((sched1[k][1] - sched0[k][1]) / max(1e-9, t_end - t_storm)),
                "blocked_or_idle": r3(
                    1
                    - (sched1[k][0] - sched0[k][0] + sched1[k][1] - sched0[k][1]) / max(1e-9, t_end - t_storm)
                ),
            }
            for k in sched0
        },
        "machine": {
            "loadavg_at_start": load0,
            "busy_cores": r3((mach1["busy_s"] - mach0["busy_s"]) / max(1e-9, t_end - t_storm)),
            "steal_cores": r3((mach1["steal_s"] - mach0["steal_s"]) / max(1e-9, t_end - t_storm)),
            "bench_sampler_cores": r3((self1 - self0) / max(1e-9, t_end - t_storm)),
            "others_cores": r3(
                (mach1["busy_s"] - mach0["busy_s"] - cpu_storm["fake"] - cpu_storm["sync"])
                / max(1e-9, t_end - t_storm)
            ),
        },
        "sync_cpu_us_per_hook": r3(cpu_storm["sync"] / max(1, len(deliveries)) * 1e6),
        "fake_cpu_us_per_delivery": r3(cpu_storm["fake"] / max(1, len(deliveries)) * 1e6),
        "sync_counters_delta": {
            k: status1["counters"][k] - status0["counters"].get(k, 0) for k in status1["counters"]
        },
        "sync_pending_balances_at_end": status1.get("pendingBalances"),
        "lag_timeline": [
            {
                "t_s": round(s["t"] - t_storm, 3),
                "behind": s["behind"],
                "oldest_s": round(s["oldest_s"], 3),
                "emitted": s["emitted"],
                "delivered": s["delivered"],
            }
            for s in samples[:: max(1, len(samples) // 120)]
        ],
    }
    if inside is not None:
        result["inside_sync"] = inside
    if gc_log:
        result["gc_pauses"] = {k: gc_summary(v, storm_started) for k, v in gc_paths.items()}
    if incomplete:
        result["sync_log_tail"] = sync_log_tail
    return result


# ---------------------------------------------------------------------------------------------- diagnosis
def install_gc_log(path: str) -> None:
    """Record every garbage-collector pause (generation, ms, wall-clock start) and write them to ``path`` at exit."""
    import atexit
    import gc

    pauses: list[tuple[int, float, float]] = []
    started: list[float] = [0.0, 0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0], started[1] = time.perf_counter(), time.time()
        else:
            pauses.append((int(info["generation"]), (time.perf_counter() - started[0]) * 1000, started[1]))

    gc.callbacks.append(callback)

    def dump() -> None:
        Path(path).write_text(json.dumps(pauses))

    atexit.register(dump)


def gc_summary(path: str, t0: float) -> dict[str, Any] | None:
    try:
        pauses = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    finally:
        Path(path).unlink(missing_ok=True)
    after = [p for p in pauses if p[2] >= t0]
    return {
        "collections": len(after),
        "gen2": sum(1 for p in after if p[0] == 2),
        "total_ms": r3(sum(p[1] for p in after)),
        "longest": [
            {"gen": g, "ms": r3(ms), "at_s": r3(at - t0)}
            for g, ms, at in sorted(after, key=lambda p: -p[1])[:5]
        ],
    }


def serve_fake_gclog(argv: list[str]) -> None:
    """``mock-xtnd`` unchanged, with its GC pauses logged (``--gc-log``)."""
    install_gc_log(os.environ["BENCH_GC_LOG"])
    every = float(os.environ.get("BENCH_GC_FREEZE_EVERY", "0"))
    if every > 0:  # experiment: move what survived into the permanent generation every few seconds
        import gc
        import threading

        def freezer() -> None:
            while True:
                time.sleep(every)
                gc.freeze()

        threading.Thread(target=freezer, daemon=True).start()
    sys.argv = ["mock-xtnd", *argv]
    from mock_xtnd.cli import main as mock_main

    mock_main()


def serve_instrumented() -> None:
    """``reference-sync run`` with timers around it, for diagnosis only (``--instrumented``): the product code is
    imported unchanged and wrapped from outside. Adds ``GET /_bench/stats``: per-hook time inside the sync (ASGI
    call -> last body byte handed to the server), event-loop lag (a 2 ms ticker's overshoot), and time spent in
    the blocking sections (group commit, applying/clearing balances, the probe)."""
    import asyncio
    import contextlib
    import tempfile

    import orjson
    import uvicorn

    from reference_sync import app as app_mod
    from reference_sync import store as store_mod
    from reference_sync import sync as sync_mod
    from reference_sync.config import SyncConfig

    spans: dict[str, list[float]] = {}
    batch_sizes: list[int] = []

    def timed(cls: Any, name: str, label: str, size: bool = False) -> None:
        original = getattr(cls, name)

        def wrapper(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                spans.setdefault(label, []).append((time.perf_counter() - t0) * 1000)
                if size:
                    batch_sizes.append(len(a[1]))

        setattr(cls, name, wrapper)

    timers = os.environ.get("BENCH_SYNC_TIMERS", "1") == "1"
    if timers:
        timed(sync_mod.Sync, "accept_deliveries", "group_commit_ms", size=True)
        timed(sync_mod.Sync, "probe", "probe_ms")
        timed(store_mod.Store, "apply_balances", "apply_balances_ms")
        timed(store_mod.Store, "clear_balances", "clear_balances_ms")

        original_commit = store_mod.Store.transaction

        @contextlib.contextmanager
        def transaction(self: Any) -> Any:
            t0 = time.perf_counter()
            outer = self._depth == 0
            with original_commit(self):
                yield
            if outer:
                spans.setdefault("transaction_ms", []).append((time.perf_counter() - t0) * 1000)

        store_mod.Store.transaction = transaction  # type: ignore[method-assign]

    hooks: list[float] = []
    lag: list[float] = []
    profile_path = os.environ.get("BENCH_SYNC_PROFILE")  # cProfile from /_bench/reset (the storm) to shutdown
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()

    def summary(values: list[float]) -> dict[str, Any]:
        return {
            "n": len(values),
            "sum_ms": round(sum(values), 1),
            "p50": r3(pct(values, 0.5)),
            "p99": r3(pct(values, 0.99)),
            "max": r3(max(values) if values else None),
        }

    def stats() -> dict[str, Any]:
        return {
            "hook_in_sync_ms": summary(hooks),
            "loop_lag_ms": summary(lag),
            "loop_lag_over_10ms": sum(1 for x in lag if x > 10),
            "spans": {k: summary(v) for k, v in spans.items()},
            "group_commit_batch": {
                "mean": r3(statistics.mean(batch_sizes)) if batch_sizes else None,
                "max": max(batch_sizes, default=None),
            },
        }

    def wrap(inner: Any) -> Any:
        ticking: list[asyncio.Task[None]] = []

        async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                if timers and not ticking:
                    ticking.append(asyncio.get_running_loop().create_task(ticker()))
                await inner(scope, receive, send)
                return
            if scope["type"] == "http" and scope["path"] == "/_bench/stats":
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": orjson.dumps(stats())})
                return
            if scope["type"] == "http" and scope["path"] == "/_bench/reset":
                hooks.clear()
                lag.clear()
                batch_sizes.clear()
                spans.clear()
                if profiler is not None:
                    profiler.enable()
                await send({"type": "http.response.start", "status": 204, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
            if not timers or scope["type"] != "http" or scope["path"] != "/xtnd/webhooks":
                await inner(scope, receive, send)
                return
            t0 = time.perf_counter()

            async def timed_send(message: dict[str, Any]) -> None:
                await send(message)
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    hooks.append((time.perf_counter() - t0) * 1000)

            await inner(scope, receive, timed_send)

        return asgi

    async def ticker() -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(0.002)
            lag.append(max(0.0, (time.perf_counter() - t0) * 1000 - 2.0))

    env = os.environ
    if env.get("BENCH_GC_LOG"):
        install_gc_log(env["BENCH_GC_LOG"])
    fd, db_path = tempfile.mkstemp(prefix="reference-sync-bench-", suffix=".db")
    os.close(fd)
    config = SyncConfig(
        api_url=env["XTND_API_URL"],
        username=env["XTND_USERNAME"],
        password=env["XTND_PASSWORD"],
        webhook_secret=env["XTND_WEBHOOK_SECRET"],
        db_path=db_path,
        port=int(env["XTND_WEBHOOK_PORT"]),
    )
    service = app_mod.build_service(config)
    shop_app = app_mod.create_app(service)
    server = uvicorn.Server(
        uvicorn.Config(
            wrap(shop_app),
            host=config.host,
            port=config.port,
            log_level="warning",
            lifespan="on",
            access_log=False,
        )
    )
    try:
        if env.get("BENCH_GC_FREEZE_EVERY", "0") != "0":  # experiment: the startup heap leaves the GC's view
            import gc

            gc.freeze()
        server.run()
    finally:
        if profiler is not None and profile_path:
            profiler.disable()
            profiler.dump_stats(profile_path)
        with contextlib.suppress(OSError):
            os.unlink(db_path)


# ---------------------------------------------------------------------------------------------- many runs
MEDIAN_KEYS = (
    "deliveries_per_s",
    "ack_p50_ms",
    "ack_p99_ms",
    "ack_max_ms",
    "calls_per_event",
    "events_per_call",
    "availability_calls",
    "availability_passes",
    "pages_per_pass_mean",
    "pass_seconds_median",
    "pass_seconds_max",
    "convergence_s",
    "lag_items_max",
    "lag_items_median",
    "lag_oldest_s_max",
    "emission_seconds",
    "delivery_seconds",
    "sync_cpu_us_per_hook",
)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in MEDIAN_KEYS:
        vals = [r[k] for r in runs if r.get(k) is not None]
        out[k] = r4(statistics.median(vals)) if vals else None
    out["sync_cpu_util_median"] = r3(statistics.median([r["cpu_util"]["sync"] for r in runs]))
    out["fake_cpu_util_median"] = r3(statistics.median([r["cpu_util"]["fake"] for r in runs]))
    out["incomplete_runs"] = sum(1 for r in runs if r.get("incomplete"))
    out["others_cores_median"] = r3(statistics.median([r["machine"]["others_cores"] for r in runs]))
    out["sync_runnable_waiting_median"] = r3(
        statistics.median([r["main_thread"]["sync"]["runnable_waiting"] for r in runs])
    )
    out["runs"] = len(runs)
    return out


def verdict(fig: dict[str, Any]) -> dict[str, Any]:
    def ok(value: float | None, limit: float, strict: bool = False) -> bool | None:
        if value is None:
            return None
        return value < limit if strict else value <= limit

    return {
        "calls_per_event": {
            "value": fig["calls_per_event"],
            "target": "<= 0.01",
            "met": ok(fig["calls_per_event"], TARGETS["calls_per_event_max"]),
        },
        "ack_p99_ms": {
            "value": fig["ack_p99_ms"],
            "target": "< 50",
            "met": ok(fig["ack_p99_ms"], 50.0, True),
        },
        "convergence_s": {
            "value": fig["convergence_s"],
            "target": "<= 1",
            "met": ok(fig["convergence_s"], TARGETS["convergence_s_max"]),
        },
    }


def run(
    rates: list[float],
    senders_list: list[int],
    reps: int,
    count: int,
    products: int,
    run_seconds: float,
    instrumented: bool = False,
    quiet_seconds: float = 90.0,
    sampling: bool = True,
    variants: tuple[str, ...] = ("product",),
    gc_log: bool = False,
    transient_errors: float | None = None,
) -> dict[str, Any]:
    h.check_server_stack()
    configs: dict[str, Any] = {}
    for rep in range(reps):
        for senders in senders_list:
            for rate, variant in [(r, v) for r in rates for v in variants]:
                key = f"rate{int(rate)}_senders{senders}" + ("" if variant == "product" else f"_{variant}")
                print(f"-- {key} rep {rep + 1}/{reps}", flush=True)
                before = quiet_wait(quiet_seconds)
                try:
                    res = one_run(
                        rate, senders, count, products, run_seconds, instrumented, sampling, variant, gc_log,
                        transient_errors,
                    )
                except Exception as error:  # e.g. the shared checkout is mid-edit: one more try after a pause
                    print(f"   run failed ({error!r:.300}); retrying once in 30 s", flush=True)
                    time.sleep(30)
                    before = quiet_wait(quiet_seconds)
                    res = one_run(
                        rate, senders, count, products, run_seconds, instrumented, sampling, variant, gc_log,
                        transient_errors,
                    )
                res["before_run"] = before
                short = {
                    k: res[k]
                    for k in (
                        "deliveries_per_s",
                        "ack_p50_ms",
                        "ack_p99_ms",
                        "calls_per_event",
                        "availability_calls",
                        "availability_passes",
                        "availability_single_reads",
                        "pass_seconds_median",
                        "pass_seconds_max",
                        "sync_transient_400s",
                        "convergence_s",
                        "lag_items_max",
                        "lag_oldest_s_max",
                        "cpu_util",
                        "main_thread",
                        "machine",
                        "incomplete",
                        "before_run",
                    )
                }
                print("   " + json.dumps(short), flush=True)
                configs.setdefault(key, {"rate": rate, "senders": senders, "variant": variant, "runs": []})[
                    "runs"
                ].append(res)
    for c in configs.values():
        c["figures_median"] = summarize(c["runs"])
        c["targets"] = verdict(c["figures_median"])
    headline_key = max(
        [k for k in configs if configs[k]["variant"] == "product"] or list(configs),
        key=lambda k: configs[k]["figures_median"]["deliveries_per_s"] or 0.0,
    )
    return {
        "benchmark": "reference_sync",
        "machine": h.machine(),
        "method": {
            "count": count,
            "products": products,
            "shape": "constant",
            "skew": "uniform",
            "reps": reps,
            "fake": "mock-xtnd serve (core 0), real clock, default rate limits, one subscription (all triggers) "
            "to the sync's /xtnd/webhooks, delivery.senders as given, transient 400s: "
            + ("the fake's default (1%)" if transient_errors is None else f"{transient_errors:g}"),
            "sync": "reference-sync run (core 1), XTND_* env vars, default balance window (quiet 0.2 s, at most "
            "2.5 s), temp SQLite",
            "lag": f"probe vs /_mock/state every {SAMPLE_SECONDS} s while steps are emitted, then every "
            f"{CONVERGE_POLL_SECONDS} s against the final truth, up to the last delivered answer; items = "
            "product x warehouse pairs whose balance differs; oldest = longest an item has stayed "
            "continuously different (first sample that saw it differ -> now; 250 ms resolution); medians "
            "are time-weighted",
            "convergence": f"probe polled every {CONVERGE_POLL_SECONDS} s after the last step; measured from the "
            "storm's last delivered answer (journal Time + LatencyMs); 0 if already equal",
            "calls_per_event": "journal: ProductAvailability calls by the sync's user (single-item reads and "
            "modifiedDateFrom pages, retries included) from the storm's start to convergence / "
            "AvailableBalanceChanged deliveries delivered (origin storm:<id>)",
            "ack_latency": "journal delivery records' LatencyMs (the fake's sender, request sent -> answer read)",
            "deliveries_per_s": "delivered / (last delivered answer - storm StartedAt)",
        },
        "targets": TARGETS,
        "headline": headline_key,
        "configs": configs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="1000,2000,5000")
    parser.add_argument("--senders", default="8,64")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--products", type=int, default=500)
    parser.add_argument("--run-seconds", type=float, default=120.0)
    parser.add_argument(
        "--quick", action="store_true", help="one rep, 5000 events (smoke run, not for the docs)"
    )
    parser.add_argument("--out", default="reference_sync", help="result name under bench/results/")
    parser.add_argument(
        "--instrumented",
        action="store_true",
        help="diagnosis: run the sync wrapped with timers (see serve_instrumented); not the headline",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=90.0,
        help="before each run, wait up to this many seconds for the shared machine to go idle",
    )
    parser.add_argument(
        "--variants",
        default="product",
        help="comma list: product (reference-sync run), wrapper (the same app started by this script, "
        "control), gcfreeze (experiment, "
        "with --gc-log: gc.freeze() in the sync at start and in the fake every second; gcfreeze-sync, "
        "gcfreeze-fake: one side only)",
    )
    parser.add_argument(
        "--no-lag-sampling",
        action="store_true",
        help="control run: no probe/state reads during the storm (shows what the sampler costs); "
        "convergence is then polled only once every delivery is answered",
    )
    parser.add_argument(
        "--gc-log",
        action="store_true",
        help="diagnosis: log garbage-collector pauses in both processes (the sync runs as the wrapper variant)",
    )
    parser.add_argument(
        "--transient-errors",
        type=float,
        default=None,
        help="share of API calls the fake answers with a transient 400 (default: the fake's, 0.01)",
    )
    parser.add_argument("--serve-instrumented", action="store_true", help=argparse.SUPPRESS)
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-fake-gclog":
        serve_fake_gclog(sys.argv[2:])
        return
    args = parser.parse_args()
    if args.serve_instrumented:
        serve_instrumented()
        return
    reps, count = (1, 5000) if args.quick else (args.reps, args.count)
    data = run(
        [float(x) for x in args.rates.split(",")],
        [int(x) for x in args.senders.split(",")],
        reps,
        count,
        args.products,
        args.run_seconds,
        args.instrumented,
        args.quiet_wait,
        not args.no_lag_sampling,
        tuple(args.variants.split(",")),
        args.gc_log,
        args.transient_errors,
    )
    path = h.write_result(args.out, data)
    head = data["configs"][data["headline"]]
    print(
        json.dumps(
            {
                "headline": data["headline"],
                "figures_median": head["figures_median"],
                "targets": head["targets"],
            },
            indent=2,
        )
    )
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
