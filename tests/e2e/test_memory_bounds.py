"""Hostile uploads cost bounded memory, in a real process (issue 12, item 2): 150 POSTs of 1 MB without credentials
and 150 with them. The first are refused before their body is read; the second are journaled, but the journal is
bounded in bytes. Before the fix the 150 authenticated ones stayed in the journal (about 150 MB of RSS)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.xtnd_process import serve
from tests.support.xtnd import order_body, row

pytestmark = pytest.mark.e2e


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_150_uploads_of_1_mb_cost_bounded_memory(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("quirks: {transient_errors: 0}\njournal_max_bytes: 8388608\n"
                      "rate_limits: {default: 1000}\n")
    served = serve("--config", str(config), "--products", "50")
    try:
        body = order_body("BIG", [row("100003", 1)])
        body["orderHeader"]["notations"] = ["n" * 1_000_000]
        raw = json.dumps(body).encode()
        assert len(raw) < 1_048_576
        with served.api() as api, httpx.Client(base_url=served.api_url, timeout=30) as anonymous:
            api.get("/Products/100003")
            before = rss_mb(served.proc.pid)
            for _ in range(150):
                r = anonymous.post("/CustomerOrders", content=raw, headers={"Content-Type": "application/json"})
                assert r.status_code == 401
            for _ in range(150):
                r = api.post("/CustomerOrders", content=raw, headers={"Content-Type": "application/json"})
                assert r.status_code in (200, 400), r.text[:300]
            grown = rss_mb(served.proc.pid) - before
        page = httpx.get(f"{served.base_url}/_mock/journal", params={"limit": 1}, timeout=30).json()
        assert page["droppedBytes"] > 100_000_000, "the journal let go of most of the 150 MB"
        assert grown < 60, f"RSS grew by {grown:.0f} MB for 300 uploads of 1 MB (the journal keeps 8 MiB)"
    finally:
        served.stop()
