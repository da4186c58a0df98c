"""Requests/s and p50/p99 of the fake's API beside a bare FastAPI floor answering the same bytes, in one run.

    python bench/bench_api.py [--seconds 10] [--reps 3] [--connections 64]

Both servers run as subprocesses on core 0 under uvicorn with the settings ``mock-xtnd serve`` uses (one worker,
httptools + uvloop); wrk (-t1 -c64) runs on core 1. The fake keeps auth (the ExtendBasicAuthorization header on
every call), validation, rate limiting (limits raised so it never answers 429; the transient-400 quirk off) and the
journal ON. Targets are loaded one at a time: each repetition gives every target --seconds of load in
--slice-seconds slices interleaved round-robin, so the noise of other tenants falls on all alike. Each figure is the
median of the repetitions; each ratio the median of the per-repetition ratios.

Issue 11's targets: a single-record GET >= 1.0x a bare FastAPI route returning the same bytes; a full 100-item
ProductAvailability page >= 0.5x a bare FastAPI route serialising the same 100 dicts with orjson.

Writes bench/results/api.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import _harness as h

TARGET_SINGLE = 1.0
TARGET_PAGE = 0.5


def capture_bodies(port: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The fake's answers to the measured calls (the bare floor serves the same), and the fake's paths."""
    auth = h.auth()
    status, _, body = h.http(port, "GET", f"{h.API}/ProductAvailability?pageNumber=1", headers=auth)
    assert status == 200, body[:300]
    page = json.loads(body)
    assert len(page["productAvailabilityList"]) == 100, len(page["productAvailabilityList"])
    first = next(r for r in page["productAvailabilityList"] if r["productNumber"].isdigit())
    paths = {
        "product": f"{h.API}/Products/{quote(first['productNumber'], safe='')}",
        "availability_one": f"{h.API}/ProductAvailability/{quote(first['productNumber'], safe='')}/"
                            f"{quote(first['warehouse'], safe='')}",
        "availability_page": f"{h.API}/ProductAvailability?pageNumber=1",
    }
    bodies: dict[str, Any] = {"availability_page": page}
    for name in ("product", "availability_one"):
        status, _, body = h.http(port, "GET", paths[name], headers=auth)
        assert status == 200, (name, body[:300])
        bodies[name] = json.loads(body)
    return bodies, paths


def run(seconds: float, reps: int, connections: int, slice_seconds: float = 2.0) -> dict[str, Any]:
    h.pin_self(h.LOAD_CORE)
    h.check_server_stack()
    tool = h.load_tool_note()
    fake_port, bare_port = h.free_port(), h.free_port()
    fake, cfg = h.start_fake(fake_port)
    bodies_file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)  # noqa: SIM115
    procs: list[h.Proc] = []
    try:
        h.wait_ready(fake_port, fake)
        bodies, paths = capture_bodies(fake_port)
        json.dump(bodies, bodies_file)
        bodies_file.close()
        bare = h.Proc(h.pinned([h.PYTHON, str(h.BENCH_DIR / "bare_app.py"), "--port", str(bare_port),
                                "--bodies", bodies_file.name], h.SERVER_CORE), "bare")
        procs.append(bare)
        h.wait_ready(bare_port, bare)
        pids = {fake_port: fake.pid, bare_port: bare.pid}
        auth = h.auth()
        # name -> (port, path, headers)
        targets: dict[str, tuple[int, str, dict[str, str] | None]] = {
            "fake_product": (fake_port, paths["product"], auth),
            "bare_product_bytes": (bare_port, paths["product"].replace(h.API, "/bare"), None),
            "fake_availability_one": (fake_port, paths["availability_one"], auth),
            "bare_availability_one_bytes": (bare_port, paths["availability_one"].replace(h.API, "/bare"), None),
            "fake_availability_page100": (fake_port, paths["availability_page"], auth),
            "bare_availability_page100_orjson": (bare_port, "/bare/ProductAvailability", None),
        }
        sizes = {}
        for name, (port, path, hdrs) in targets.items():
            status, _, body = h.http(port, "GET", path, headers=hdrs or {})
            assert status == 200, (name, status, body[:200])
            sizes[name] = len(body)
        print(f"response bytes: {sizes}")
        # warm every server (imports, caches, first-call paths) before measuring
        for port, path, hdrs in targets.values():
            h.load(f"http://{h.HOST}:{port}{path}", hdrs, 2, connections)
        names = list(targets)
        # each repetition gives every target `seconds` of load, cut into slices interleaved round-robin (order
        # rotating), so the other tenants' noise on this machine falls on all targets alike
        slices = max(1, round(seconds / slice_seconds))
        runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        for rep in range(reps):
            parts: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
            for k in range(slices):
                shift = (rep * slices + k) % len(names)
                for name in names[shift:] + names[:shift]:
                    port, path, hdrs = targets[name]
                    parts[name].append(h.load(f"http://{h.HOST}:{port}{path}", hdrs, slice_seconds, connections,
                                              server_pid=pids[port]))
            for name in names:
                res = h.combine(parts[name])
                runs[name].append(res)
                print(f"rep {rep + 1}/{reps} {name:38s} {res['rps']:9.1f} req/s  p50 {res['p50_ms']:7.2f} ms  "
                      f"p99 {res['p99_ms']:7.2f} ms  server CPU {res['server_cpu_us_per_request']} us/req  "
                      f"non-2xx {res['non_2xx_3xx']}  errors {res['socket_errors']}", flush=True)
        fake_rss = h.rss_kib(fake.pid)
        journal_len = None
        status, _, body = h.http(fake_port, "GET", "/_mock/journal?limit=1")
        if status == 200:
            journal_len = json.loads(body).get("lastSeq")
    finally:
        for proc in procs:
            proc.stop()
        fake.stop()
        for p in (cfg, bodies_file.name):
            Path(p).unlink(missing_ok=True)

    def med(name: str, key: str) -> float | None:
        values = [r[key] for r in runs[name] if r.get(key) is not None]
        return h.median(values) if values else None

    def rps_ratio(a: str, b: str) -> float:
        return round(h.median([x["rps"] / y["rps"] for x, y in zip(runs[a], runs[b], strict=True)]), 3)

    def cpu_ratio(a: str, b: str) -> float | None:
        """b's CPU per request over a's: the throughput ratio a core to itself would give (noise-robust)."""
        pairs = [(x["server_cpu_us_per_request"], y["server_cpu_us_per_request"])
                 for x, y in zip(runs[a], runs[b], strict=True)]
        if any(x is None or y is None for x, y in pairs):
            return None
        return round(h.median([y / x for x, y in pairs]), 3)

    figures = {n: {"rps": med(n, "rps"), "p50_ms": med(n, "p50_ms"), "p99_ms": med(n, "p99_ms"),
                   "max_ms": med(n, "max_ms"), "server_cpu_us_per_request": med(n, "server_cpu_us_per_request"),
                   "response_bytes": sizes[n],
                   "non_2xx_total": sum(r["non_2xx_3xx"] for r in runs[n]),
                   "socket_errors_total": sum(r["socket_errors"] for r in runs[n])} for n in names}
    pairs = {
        "product_vs_bare_bytes": ("fake_product", "bare_product_bytes"),
        "availability_one_vs_bare_bytes": ("fake_availability_one", "bare_availability_one_bytes"),
        "availability_page100_vs_bare_orjson": ("fake_availability_page100", "bare_availability_page100_orjson"),
    }
    ratios = {k: rps_ratio(a, b) for k, (a, b) in pairs.items()}
    cpu_ratios = {k: cpu_ratio(a, b) for k, (a, b) in pairs.items()}
    single = min(ratios["product_vs_bare_bytes"], ratios["availability_one_vs_bare_bytes"])
    page = ratios["availability_page100_vs_bare_orjson"]
    return {
        "benchmark": "api",
        "machine": h.machine(),
        "method": {"load": tool, "connections": connections, "seconds_per_target_per_rep": seconds,
                   "slice_seconds": slice_seconds, "repetitions": reps,
                   "server": "uvicorn (mock-xtnd serve's Config: one worker, loop/http auto = uvloop/httptools)",
                   "fake_settings": "default seed and catalogue (500 products x 3 warehouses); rate limits raised "
                                    "to 1e6 per second so no 429; the transient-400 quirk off; auth, validation, "
                                    "rate limiting and journal ON",
                   "cpu_ratio": "bare server CPU-us per request / fake's, from /proc/<pid>/stat over the same "
                                "slices: what the req/s ratio would be with the core to itself"},
        "figures_median": figures,
        "ratios_median": ratios,
        "cpu_ratios_median": cpu_ratios,
        "targets": {
            "single_get_vs_bare_same_bytes": {"target": f">= {TARGET_SINGLE}", "measured": single,
                                              "met": single >= TARGET_SINGLE},
            "page100_vs_bare_orjson": {"target": f">= {TARGET_PAGE}", "measured": page, "met": page >= TARGET_PAGE},
        },
        "fake_rss_kib_after": fake_rss,
        "fake_journal_records_after": journal_len,
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--slice-seconds", type=float, default=2.0,
                        help="each target's load is cut into slices of this length, interleaved")
    args = parser.parse_args()
    result = run(args.seconds, args.reps, args.connections, args.slice_seconds)
    path = h.write_result("api", result)
    print(json.dumps({k: result[k] for k in ("figures_median", "ratios_median", "cpu_ratios_median", "targets")},
                     indent=2))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
