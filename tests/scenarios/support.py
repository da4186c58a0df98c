"""Shared bits for the scenario tests: where things are, and a tiny client command line."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
LIBRARY = sorted(SCENARIOS.glob("*.yaml"))
TINY = Path(__file__).resolve().parent / "tiny_client.py"
REFERENCE_SYNC = f"{sys.executable} -m reference_sync run"
MODELINE = "# yaml-language-server: $schema=./scenario.schema.json"


def tiny(mode: str = "ack") -> str:
    return f"{sys.executable} {TINY} --mode {mode}"


def quick(name: str = "quick", **extra: object) -> str:
    """A scenario that runs in a few seconds: a small catalogue, one stock move, a short settle."""
    lines = [MODELINE, f"name: {name}", "catalogue: {products: 20, warehouses: 1, customers: 3}",
             "delivery: {retry_delays_seconds: [1, 1], timeout_seconds: 2}",
             "timeline:", "  - {at: 0.3, stock: {count: 2, balanceDifference: 1}}",
             "settle: {quiet_seconds: 0.5, max_seconds: 4}"]
    expect = extra.pop("expect", "{converges: false}")
    lines.append(f"expect: {expect}")
    lines += [f"{k}: {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"
