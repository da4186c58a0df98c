"""Soak: storms of real stock changes at 2,000/s for a long time, with a receiver; does memory stay flat, and is
every delivery delivered or dead-lettered in the end? (issue 12, item 5)

    python bench/bench_soak.py --minutes 30          # the full run (about 3.6 million deliveries)
    python bench/bench_soak.py --minutes 2 --rate 500 # a short look

The fake (``mock-xtnd serve``, real clock, default retention: 100,000 finished deliveries, 64 MiB of journal) is
pinned to core 0 with one subscription to bench/receiver.py (raw asyncio, answers 204) on core 1. Storms of
``--storm-seconds`` (60) at ``--rate`` steps per second follow each other until ``--minutes`` have passed; every
step is one ``AvailableBalanceChanged``, so one delivery. Every ``--sample-seconds`` (15) the fake's RSS
(/proc/<pid>/status VmRSS), the outbox figures (``GET /_mock/deliveries`` -> ``outbox``) and the journal's
``dropped`` are sampled. After the last storm it waits (bounded) for the outbox to have nothing pending, then checks
that deliveries made = steps emitted = delivered + dead (kept and evicted), and that the receiver counted the
delivered ones.

Writes bench/results/soak.json (the curve and the verdict) and prints a table. Bounded: the run stops at
``--minutes`` plus the drain wait (at most ``--drain-minutes``), and every process it started is stopped by its pid.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

SECRET = "soak-secret"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def get(port: int, path: str) -> Any:
    status, _, body = h.http(port, "GET", path, timeout=60)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
    return json.loads(body)


def post(port: int, path: str, payload: Any) -> tuple[int, Any]:
    status, _, body = h.http(port, "POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"},
                             timeout=60)
    return status, json.loads(body) if body else None


def outbox(port: int) -> dict[str, Any]:
    data: dict[str, Any] = get(port, "/_mock/deliveries?status=pending&limit=1")["outbox"]
    return data


def sample(port: int, pid: int, t0: float, emitted: int) -> dict[str, Any]:
    ob = outbox(port)
    journal = get(port, "/_mock/journal?limit=1")
    return {"t": round(time.monotonic() - t0, 1), "rssMb": rss_mb(pid), "emitted": emitted,
            "pending": ob["pending"], "finishedKept": ob["finishedKept"], "evicted": sum(ob["evicted"].values()),
            "journalDropped": journal["dropped"], "journalLastSeq": journal["lastSeq"]}


def run(minutes: float, rate: float, storm_seconds: float, sample_seconds: float, drain_minutes: float,
        senders: int) -> dict[str, Any]:
    receiver_port, port = h.free_port(), h.free_port()
    receiver = h.Proc(h.pinned([h.PYTHON, str(h.BENCH_DIR / "receiver.py"), "--port", str(receiver_port)],
                               h.LOAD_CORE), "receiver")
    fake = None
    try:
        h.wait_ready(receiver_port, receiver, path="/stats")
        config = {"subscriptions": [{"name": "soak", "callback_url": f"http://{h.HOST}:{receiver_port}/hook",
                                     "secret": SECRET, "triggers": ["AvailableBalanceChanged"]}],
                  "delivery": {"senders": senders}}
        fake, cfg = h.start_fake(port, config)
        h.wait_ready(port, fake)
        t0 = time.monotonic()
        end = t0 + minutes * 60
        curve: list[dict[str, Any]] = []
        storms: list[str] = []
        emitted = refused = planned = 0
        current: str | None = None
        next_sample = t0
        while True:
            now = time.monotonic()
            if current is not None:
                progress = get(port, f"/_mock/storm/{current}")
                if progress["state"] == "done":
                    emitted += progress["emitted"]
                    refused += progress["refused"]
                    current = None
            if current is None and now < end:
                duration = min(storm_seconds, max(1.0, end - now))
                status, started = post(port, "/_mock/storm", {"shape": "constant", "rate": rate,
                                                              "durationSeconds": round(duration, 3)})
                if status != 202:
                    raise RuntimeError(f"storm refused: {status} {started}")
                current = started["stormId"]
                planned += started["planned"]
                storms.append(current)
            if now >= next_sample:
                s = sample(port, fake.pid, t0, emitted)
                curve.append(s)
                print(f"  t={s['t']:7.1f}s  rss={s['rssMb']:7.1f} MB  emitted={emitted:>9,}  pending={s['pending']:>6,}"
                      f"  kept={s['finishedKept']:>7,}  evicted={s['evicted']:>9,}", flush=True)
                next_sample += sample_seconds
            if current is None and now >= end:
                break
            if not fake.alive():
                raise RuntimeError(f"the fake died:\n{fake.output()[-3000:]}")
            time.sleep(0.5)
        storm_end = time.monotonic()
        deadline = storm_end + drain_minutes * 60
        while outbox(port)["pending"] and time.monotonic() < deadline:
            time.sleep(1)
        drained_s = round(time.monotonic() - storm_end, 1)
        final = sample(port, fake.pid, t0, emitted)
        curve.append(final)
        ob = outbox(port)
        kept = {status: len(get(port, f"/_mock/deliveries?status={status}&limit=100000")["items"])
                for status in ("delivered", "dead", "gone")}
        delivered = kept["delivered"] + ob["evicted"].get("delivered", 0)
        dead = kept["dead"] + ob["evicted"].get("dead", 0)
        gone = kept["gone"] + ob["evicted"].get("gone", 0)
        received = h.http(receiver_port, "GET", "/stats")
        receiver_count = json.loads(received[2])["count"]
        rss = [c["rssMb"] for c in curve]
        settled = [c["rssMb"] for c in curve if c["t"] >= 120] or rss
        return {
            "minutes": minutes, "rate": rate, "stormSeconds": storm_seconds, "storms": len(storms),
            "planned": planned, "emitted": emitted, "refusedSteps": refused,
            "deliveries": {"made": delivered + dead + gone + ob["pending"], "delivered": delivered, "dead": dead,
                           "gone": gone, "pending": ob["pending"], "evicted": ob["evicted"],
                           "finishedKept": ob["finishedKept"], "receiverCounted": receiver_count},
            "everyDeliveryFinished": ob["pending"] == 0 and delivered + dead + gone == emitted,
            "drainSeconds": drained_s,
            "rssMb": {"first": rss[0], "max": max(rss), "last": rss[-1],
                      "settledMin": min(settled), "settledMax": max(settled)},
            "curve": curve,
        }
    finally:
        if fake is not None:
            fake.stop()
        receiver.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=2000.0, help="storm steps (deliveries) per second")
    ap.add_argument("--storm-seconds", type=float, default=60.0)
    ap.add_argument("--sample-seconds", type=float, default=15.0)
    ap.add_argument("--drain-minutes", type=float, default=10.0)
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--name", default="soak", help="results file bench/results/<name>.json")
    a = ap.parse_args()
    print(f"soak: {a.minutes} min of storms at {a.rate:,.0f}/s, sampling every {a.sample_seconds} s", flush=True)
    result = run(a.minutes, a.rate, a.storm_seconds, a.sample_seconds, a.drain_minutes, a.senders)
    result["machine"] = h.machine()
    path = h.write_result(a.name, result)
    d, r = result["deliveries"], result["rssMb"]
    print(f"\nemitted {result['emitted']:,} steps in {result['storms']} storms; deliveries: {d['delivered']:,} delivered,"
          f" {d['dead']:,} dead, {d['gone']:,} gone, {d['pending']:,} pending (receiver counted "
          f"{d['receiverCounted']:,}); drained {result['drainSeconds']} s after the last storm")
    print(f"RSS: first {r['first']} MB, settled (after 2 min) {r['settledMin']}-{r['settledMax']} MB, max {r['max']} MB,"
          f" last {r['last']} MB")
    print(f"every delivery delivered or dead: {result['everyDeliveryFinished']}  ->  {path}")


if __name__ == "__main__":
    main()
