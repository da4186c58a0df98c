"""Print the Markdown tables of docs/benchmarks.md from bench/results/*.json, so the docs cite the files as they are.

    python bench/report.py
"""

from __future__ import annotations

import json
from typing import Any

import _harness as h


def load(name: str) -> dict[str, Any] | None:
    path = h.RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def fmt(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def api(r: dict[str, Any]) -> None:
    f, ratios, cpu = r["figures_median"], r["ratios_median"], r["cpu_ratios_median"]
    print("| target (wrk -t1 -c64) | req/s | p50 ms | p99 ms | server CPU us/req | bytes |")
    print("|---|---|---|---|---|---|")
    for name, v in f.items():
        print(f"| {name} | {fmt(v['rps'])} | {fmt(v['p50_ms'])} | {fmt(v['p99_ms'])} | "
              f"{fmt(v['server_cpu_us_per_request'])} | {v['response_bytes']:,} |")
    print()
    print("| ratio | req/s ratio (median of 3) | CPU ratio (median of 3) |")
    print("|---|---|---|")
    for k in ratios:
        print(f"| {k} | {fmt(ratios[k], 3)} | {fmt(cpu.get(k), 3)} |")
    print()


def startup(r: dict[str, Any]) -> None:
    print("| process | ready s (wall) | CPU s at ready | RSS MB | peak RSS MB |")
    print("|---|---|---|---|---|")
    for name, v in r["figures_median"].items():
        print(f"| {name} | {fmt(v['ready_s'], 2)} | {fmt(v.get('cpu_s_at_ready'), 2)} | {fmt(v['rss_mb'])} | "
              f"{fmt(v['peak_rss_mb'])} |")
    print()
    print("| catalogue | imports s | generate s |")
    print("|---|---|---|")
    for n, v in r["breakdown_in_process_s"].items():
        print(f"| {int(n):,} | {fmt(v.get('import_s'), 2)} | {fmt(v.get('generate_s'), 2)} |")
    print()


def webhooks(r: dict[str, Any]) -> None:
    print("| sender | deliveries/s (wall, at receiver) | sender CPU us/delivery | body bytes |")
    print("|---|---|---|---|")
    for name, v in r["figures_median"].items():
        print(f"| {name} | {fmt(v['deliveries_per_s'])} | {fmt(v['sender_cpu_us_per_delivery'])} | "
              f"{fmt(v['body_bytes_mean'])} |")
    print()
    print("| ratio vs bare aiohttp loop | deliveries/s ratio | CPU ratio |")
    print("|---|---|---|")
    for k, v in r["ratios_median"].items():
        print(f"| {k} | {fmt(v, 3)} | {fmt(r['cpu_ratios_median'].get(k), 3)} |")
    print()
    print("| API single GET, paced 200 req/s | p50 ms idle | p99 ms idle | p50 ms storm | p99 ms storm | "
          "p99 storm / idle | deliveries/s during |")
    print("|---|---|---|---|---|---|---|")
    for label, key in (("fake", "api_latency_under_storm"),
                       ("fake, pacing off", "api_latency_under_storm_unpaced"),
                       ("experiment: raw sender", "experiment_raw_sender_api_latency_under_storm")):
        lat = r.get(key)
        if lat:
            print(f"| {label} | {fmt(lat['idle_p50_ms'], 2)} | {fmt(lat['idle_p99_ms'], 2)} | "
                  f"{fmt(lat['storm_p50_ms'], 2)} | {fmt(lat['storm_p99_ms'], 2)} | {fmt(lat['p99_factor'], 2)} | "
                  f"{fmt(lat['deliveries_per_s_during_probe'])} |")
    print()


def main() -> None:
    for name, render in (("api", api), ("startup", startup), ("webhooks", webhooks)):
        r = load(name)
        if r is None:
            print(f"(no bench/results/{name}.json yet)\n")
            continue
        print(f"### {name} ({r['machine']['date']}, load average at start {r['machine']['load_average_at_start']})\n")
        render(r)
    summary = load("summary")
    if summary:
        print("| target | measured | met |")
        print("|---|---|---|")
        for k, t in summary["targets"].items():
            print(f"| {k} {t['target']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |")


if __name__ == "__main__":
    main()
