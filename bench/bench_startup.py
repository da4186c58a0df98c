"""How long ``mock-xtnd serve`` takes to answer, and how much memory it holds, by catalogue size.

    python bench/bench_startup.py [--reps 3]

Each repetition launches, side by side in one run (server on core 0, this poller on core 1):
- the bare FastAPI app of bench_api.py under the same uvicorn settings (the import + server floor);
- ``mock-xtnd serve`` with the default catalogue (500 products);
- ``mock-xtnd serve --products 10000`` (target: answers in < 3 s);
- ``mock-xtnd serve --products 100000`` (3 warehouses; target: < 300 MB RSS once started).

"Ready" is the first HTTP answer to ``GET /``, timed from the launch of the process. RSS is VmRSS from
/proc/<pid>/status one second after ready (VmHWM, the peak, is recorded too). An in-process breakdown (imports,
catalogue generation, app wiring) runs once per catalogue size for the report. Writes bench/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _harness as h

TARGET_READY_S = 3.0
TARGET_RSS_MB = 300.0

BREAKDOWN = r"""
import json, sys, time
t0 = time.perf_counter()
from mock_xtnd.app import create_app
from mock_xtnd.settings import load_settings
import uvicorn
t1 = time.perf_counter()
from mock_xtnd.domain.seed import SeedSizes, generate
s = load_settings(None)
s.catalogue.products = int(sys.argv[1])
t2 = time.perf_counter()
state = generate(s.seed, SeedSizes(s.catalogue.products, s.catalogue.warehouses, s.catalogue.customers), 0)
t3 = time.perf_counter()
app = create_app(s)
t4 = time.perf_counter()
print(json.dumps({"import_s": round(t1 - t0, 3), "generate_s": round(t3 - t2, 3),
                  "create_app_s (generates again + wires)": round(t4 - t3, 3)}))
"""


def measure(cmd: list[str], port: int, name: str) -> dict[str, Any]:
    proc = h.Proc(h.pinned(cmd, h.SERVER_CORE), name)
    try:
        ready = h.wait_ready(port, proc, "/", timeout=120, interval=0.005)
        cpu = h.cpu_seconds(proc.pid)
        time.sleep(1.0)
        mem = h.rss_kib(proc.pid)
    finally:
        proc.stop()
    return {"ready_s": round(ready, 3), "cpu_s_at_ready": round(cpu, 2), "rss_mb": round(mem["VmRSS"] / 1024, 1),
            "peak_rss_mb": round(mem["VmHWM"] / 1024, 1)}


def breakdown(products: int) -> dict[str, Any]:
    out = subprocess.run(h.pinned([h.PYTHON, "-c", BREAKDOWN, str(products)], h.SERVER_CORE), capture_output=True,
                         text=True, timeout=300, cwd=h.ROOT)
    if out.returncode != 0:
        return {"error": out.stderr[-1000:]}
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run(reps: int) -> dict[str, Any]:
    h.pin_self(h.LOAD_CORE)
    h.check_server_stack()
    bodies = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)  # noqa: SIM115
    # bare_app.py only needs bodies to serve; their size does not matter to start-up
    json.dump({"product": {"productNumber": "1"}, "availability_one": {"productNumber": "1"},
               "availability_page": {"productAvailabilityList": [], "paginationInfo": {}}}, bodies)
    bodies.close()
    cases: dict[str, list[str]] = {
        "bare_fastapi": [h.PYTHON, str(h.BENCH_DIR / "bare_app.py"), "--bodies", bodies.name, "--port"],
        "fake_500": [h.MOCK_XTND, "serve", "--port"],
        "fake_10000": [h.MOCK_XTND, "serve", "--products", "10000", "--port"],
        "fake_100000": [h.MOCK_XTND, "serve", "--products", "100000", "--port"],
    }
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in cases}
    try:
        for rep in range(reps):
            names = list(cases)
            shift = rep % len(names)
            for name in names[shift:] + names[:shift]:
                port = h.free_port()
                res = measure([*cases[name], str(port)], port, name)
                runs[name].append(res)
                print(f"rep {rep + 1}/{reps} {name:14s} ready {res['ready_s']:6.2f} s  (CPU {res['cpu_s_at_ready']:5.2f} s)  RSS {res['rss_mb']:6.1f} MB  "
                      f"peak {res['peak_rss_mb']:6.1f} MB", flush=True)
    finally:
        Path(bodies.name).unlink(missing_ok=True)
    figures = {k: {m: h.median([r[m] for r in v]) for m in ("ready_s", "cpu_s_at_ready", "rss_mb", "peak_rss_mb")}
               for k, v in runs.items()}
    ready_ratio = round(h.median([f["ready_s"] / b["ready_s"] for f, b in
                                  zip(runs["fake_10000"], runs["bare_fastapi"], strict=True)]), 2)
    parts = {str(n): breakdown(n) for n in (500, 10_000, 100_000)}
    return {
        "benchmark": "startup",
        "machine": h.machine(),
        "method": {"ready": "first HTTP answer to GET / after launch (poll every 5 ms)",
                   "cpu_s_at_ready": "the server's own CPU seconds when it first answered (/proc): the start-up "
                                     "time with a core to itself, robust to the other tenants' load",
                   "rss": "VmRSS 1 s after ready", "repetitions": reps},
        "figures_median": figures,
        "ratios_median": {"fake_10000_ready_vs_bare_fastapi_ready": ready_ratio},
        "targets": {
            "ready_10000_products_s": {"target": f"< {TARGET_READY_S}", "measured": figures["fake_10000"]["ready_s"],
                                       "measured_cpu_s": figures["fake_10000"]["cpu_s_at_ready"],
                                       "met": figures["fake_10000"]["ready_s"] < TARGET_READY_S},
            "rss_100000_products_mb": {"target": f"< {TARGET_RSS_MB}", "measured": figures["fake_100000"]["rss_mb"],
                                       "met": figures["fake_100000"]["rss_mb"] < TARGET_RSS_MB},
        },
        "breakdown_in_process_s": parts,
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    result = run(args.reps)
    path = h.write_result("startup", result)
    print(json.dumps({k: result[k] for k in ("figures_median", "ratios_median", "targets",
                                             "breakdown_in_process_s")}, indent=2))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
