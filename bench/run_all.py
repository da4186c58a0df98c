"""Run every benchmark in turn and write bench/results/summary.json (the figures docs/benchmarks.md cites).

    python bench/run_all.py [--quick] [--experiments]

--quick: one repetition and shorter loads (a smoke run; its figures are not for the docs).
--experiments: also measure the proposed changes applied from outside (bench/experiment_app.py).
The benchmarks run one after another, never together: they share the machine's two cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import _harness as h
import bench_api
import bench_startup
import bench_webhooks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--experiments", action="store_true")
    args = parser.parse_args()
    reps = 1 if args.quick else 3
    started = time.monotonic()
    results: dict[str, Any] = {}

    print("== startup ==", flush=True)
    results["startup"] = bench_startup.run(reps)
    h.write_result("startup", results["startup"])
    print("== api ==", flush=True)
    results["api"] = bench_api.run(4 if args.quick else 10, reps, 64, 2.0)
    h.write_result("api", results["api"])
    print("== webhooks ==", flush=True)
    results["webhooks"] = bench_webhooks.run(5000 if args.quick else 20000, reps, 4 if args.quick else 10, 2000.0,
                                             args.experiments)
    h.write_result("webhooks", results["webhooks"])

    targets = {f"{bench}.{name}": t for bench, r in results.items() for name, t in r["targets"].items()}
    summary = {
        "machine": h.machine(),
        "quick": args.quick,
        "experiments": args.experiments,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "targets": targets,
        "api": {"figures_median": results["api"]["figures_median"], "ratios_median": results["api"]["ratios_median"],
                "cpu_ratios_median": results["api"]["cpu_ratios_median"]},
        "startup": {"figures_median": results["startup"]["figures_median"],
                    "breakdown_in_process_s": results["startup"]["breakdown_in_process_s"]},
        "webhooks": {k: results["webhooks"][k] for k in ("figures_median", "ratios_median", "cpu_ratios_median")},
        "api_latency_under_storm": {k: v for k, v in results["webhooks"]["api_latency_under_storm"].items()
                                    if k != "runs"},
        "api_latency_under_storm_unpaced": {k: v for k, v in results["webhooks"]["api_latency_under_storm_unpaced"]
                                            .items() if k != "runs"},
        "experiment_raw_sender_api_latency_under_storm": (
            {k: v for k, v in results["webhooks"]["experiment_raw_sender_api_latency_under_storm"].items()
             if k != "runs"} if results["webhooks"]["experiment_raw_sender_api_latency_under_storm"] else None),
    }
    path = h.write_result("summary", summary)
    print(json.dumps(summary["targets"], indent=2))
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
