"""Requests/s and p50/p99 of the fake's API beside a bare FastAPI floor, in one run.

    python bench/bench_api.py [--seconds 10] [--reps 3] [--connections 64] [--experiments]

Both servers run as subprocesses on core 0 under uvicorn with the settings ``mock-xtnd serve`` uses (one worker,
httptools + uvloop); wrk (-t1 -c64) runs on core 1. The fake keeps auth, validation, rate limiting (limits raised
in its config so it never answers 429) and the journal ON. Targets are loaded one at a time: each repetition
gives every target --seconds of load in --slice-seconds slices interleaved round-robin, so the noise of other
tenants falls on all alike. Each figure is the median of the repetitions; each ratio the median of the
per-repetition ratios.

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

TARGET_SINGLE = 0.6


def capture_bodies(port: int, tok: str) -> tuple[dict[str, Any], dict[str, Any], str, str, int, int]:
    auth = {"Authorization": f"Bearer {tok}"}
    status, _, body = h.http(port, "GET", "/api/Products?pageSize=1000", headers=auth)
    assert status == 200, body[:300]
    numbers = [it["ProductNumber"] for it in json.loads(body)["Items"]][:200]
    # a plain one for the single GET (the fake also has numbers with spaces and slashes; those are URL-encoded)
    single = next(n for n in numbers if n.isdigit())
    single_path = f"/api/Products/{quote(single, safe='')}"
    status, _, product_body = h.http(port, "GET", single_path, headers=auth)
    assert status == 200, product_body[:300]
    avail_path = ("/api/ProductAvailability?" + "&".join(f"productNumber={quote(n, safe='')}" for n in numbers)
                  + "&pageSize=1000")
    status, _, avail_body = h.http(port, "GET", avail_path, headers=auth)
    assert status == 200, avail_body[:300]
    avail = json.loads(avail_body)
    assert len(numbers) == 200 and avail["TotalCount"] == 200 * 3, (len(numbers), avail["TotalCount"])
    return json.loads(product_body), avail, single_path, avail_path, len(product_body), len(avail_body)


def run(seconds: float, reps: int, connections: int, slice_seconds: float = 2.0,
        experiments: bool = False) -> dict[str, Any]:
    h.pin_self(h.LOAD_CORE)
    h.check_server_stack()
    tool = h.load_tool_note()
    fake_port, bare_port, exp_port = h.free_port(), h.free_port(), h.free_port()
    fake, cfg = h.start_fake(fake_port)
    bodies_file = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)  # noqa: SIM115
    procs: list[h.Proc] = []
    try:
        h.wait_ready(fake_port, fake)
        tok = h.token(fake_port)
        product, avail, single_path, avail_path, product_len, avail_len = capture_bodies(fake_port, tok)
        json.dump({"product": product, "availability": avail}, bodies_file)
        bodies_file.close()
        bare = h.Proc(h.pinned([h.PYTHON, str(h.BENCH_DIR / "bare_app.py"), "--port", str(bare_port),
                                "--bodies", bodies_file.name], h.SERVER_CORE), "bare")
        procs.append(bare)
        h.wait_ready(bare_port, bare)
        pids = {fake_port: fake.pid, bare_port: bare.pid}
        # name -> (port, path, token)
        targets: dict[str, tuple[int, str, str | None]] = {
            "fake_single": (fake_port, single_path, tok),
            "bare_single_param": (bare_port, single_path, None),
            "bare_single_noparam": (bare_port, "/bare/product", None),
            "fake_availability200": (fake_port, avail_path, tok),
            "bare_availability200": (bare_port, avail_path, None),
            "bare_availability200_prebuilt_bytes": (bare_port, "/bare/availability-bytes", None),
        }
        if experiments:
            exp = h.Proc(h.pinned([h.PYTHON, str(h.BENCH_DIR / "experiment_app.py"), "--port", str(exp_port),
                                   "--config", cfg], h.SERVER_CORE), "experiment")
            procs.append(exp)
            h.wait_ready(exp_port, exp)
            pids[exp_port] = exp.pid
            exp_tok = h.token(exp_port)
            targets["experiment_fastpath_single"] = (exp_port, single_path, exp_tok)
            targets["experiment_fastpath_availability200"] = (exp_port, avail_path, exp_tok)
        sizes = {}
        for name, (port, path, t) in targets.items():
            status, _, body = h.http(port, "GET", path, headers={"Authorization": f"Bearer {t}"} if t else {})
            assert status == 200, (name, status, body[:200])
            sizes[name] = len(body)
        print(f"response bytes: {sizes}")
        # warm every server (imports, caches, first-call paths) before measuring
        for port, path, t in targets.values():
            h.load(f"http://{h.HOST}:{port}{path}", t, 2, connections)
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
                    port, path, t = targets[name]
                    parts[name].append(h.load(f"http://{h.HOST}:{port}{path}", t, slice_seconds, connections,
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
            journal_len = json.loads(body).get("LastSeq")
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
        "single_vs_bare_param": ("fake_single", "bare_single_param"),
        "single_vs_bare_noparam": ("fake_single", "bare_single_noparam"),
        "availability200_vs_bare_dict": ("fake_availability200", "bare_availability200"),
        "availability200_vs_bare_prebuilt_bytes": ("fake_availability200", "bare_availability200_prebuilt_bytes"),
    }
    if experiments:
        pairs.update({
            "experiment_fastpath_single_vs_bare_noparam": ("experiment_fastpath_single", "bare_single_noparam"),
            "experiment_fastpath_single_vs_fake": ("experiment_fastpath_single", "fake_single"),
            "experiment_fastpath_availability200_vs_bare_dict": ("experiment_fastpath_availability200",
                                                                 "bare_availability200"),
            "experiment_fastpath_availability200_vs_fake": ("experiment_fastpath_availability200",
                                                            "fake_availability200"),
        })
    ratios = {k: rps_ratio(a, b) for k, (a, b) in pairs.items()}
    cpu_ratios = {k: cpu_ratio(a, b) for k, (a, b) in pairs.items()}
    # the stricter of the two bare floors decides the target
    strict = min(ratios["single_vs_bare_param"], ratios["single_vs_bare_noparam"])
    cpu_strict = [v for v in (cpu_ratios["single_vs_bare_param"], cpu_ratios["single_vs_bare_noparam"])
                  if v is not None]
    return {
        "benchmark": "api",
        "machine": h.machine(),
        "method": {"load": tool, "connections": connections, "seconds_per_target_per_rep": seconds,
                   "slice_seconds": slice_seconds, "repetitions": reps,
                   "server": "uvicorn (mock-xtnd serve's Config: one worker, loop/http auto = uvloop/httptools)",
                   "fake_settings": "default seed and catalogue (500 products x 3 warehouses); rate limits raised "
                                    "to 1e8/min so no 429; auth, validation, rate limiting and journal ON",
                   "fake_response_bytes": {"single": product_len, "availability200": avail_len},
                   "cpu_ratio": "bare server CPU-us per request / fake's, from /proc/<pid>/stat over the same "
                                "slices: what the req/s ratio would be with the core to itself"},
        "figures_median": figures,
        "ratios_median": ratios,
        "cpu_ratios_median": cpu_ratios,
        "targets": {"single_get_vs_bare": {"target": f">= {TARGET_SINGLE}", "measured": strict,
                                           "measured_cpu_ratio": min(cpu_strict) if cpu_strict else None,
                                           "met": strict >= TARGET_SINGLE}},
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
    parser.add_argument("--experiments", action="store_true",
                        help="also load bench/experiment_app.py (a proposed fast path, applied from outside)")
    args = parser.parse_args()
    result = run(args.seconds, args.reps, args.connections, args.slice_seconds, args.experiments)
    path = h.write_result("api", result)
    print(json.dumps({k: result[k] for k in ("figures_median", "ratios_median", "cpu_ratios_median", "targets")},
                     indent=2))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
