"""The outbox survives kill -9: a real `mock-xtnd serve --db` subprocess on a real port, a real receiver.

The receiver is down (503) while 30 stock moves are made over HTTP, so every hook is still pending in the outbox;
the fake is killed with SIGKILL, the receiver comes back (204), the fake restarts on the same database and every
event arrives at least once (at-least-once: a hook whose outcome was not yet flushed may arrive twice).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_xtnd.webhooks.signing import verify
from tests.support.receiver import Received, Receiver

pytestmark = pytest.mark.e2e

SECRET = "e2e-secret"
MOVES = 30
# Short retries so the test fits: attempts at t, t+5 s, t+10 s. Everything before the kill takes a few seconds,
# so nothing is dead-lettered before the fake dies, and after the restart each hook is due within 10 s.
RETRY_DELAYS = [5, 5]
START_TIMEOUT_S = 20.0
ARRIVAL_TIMEOUT_S = 15.0
ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, callback_url: str) -> None:
    path.write_text(f"""\
clock: real
seed: 1
catalogue: {{products: 60, warehouses: 3, customers: 10}}
quirks: {{transient_errors: 0}}
subscriptions:
  - name: shop
    callback_url: {callback_url}
    secret: {SECRET}
    triggers: [BalanceChanged, AvailableBalanceChanged]
delivery:
  retry_delays_seconds: {RETRY_DELAYS}
  timeout_seconds: 2
""", encoding="utf-8")


@contextmanager
def serve(tmp: Path, name: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Start `python -m mock_xtnd.cli serve` on a free port; yield (process, base URL) once it answers."""
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mock_xtnd.cli", "serve", "--port", "0", "--db", str(tmp / "x.db"),
             "--config", str(tmp / "c.yaml")],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        base = wait_until_serving(proc, log)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def wait_until_serving(proc: subprocess.Popen[bytes], log: Path) -> str:
    """The banner names the bound port (``--port 0`` lets the OS pick a free one); then wait for an answer."""
    deadline = time.monotonic() + START_TIMEOUT_S
    base = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mock-xtnd exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        text = log.read_text(errors="replace")
        if base is None and "serving a fake XTND at " in text:
            url = text.split("serving a fake XTND at ", 1)[1].split()[0]
            base = url.split("/RESTAPI/", 1)[0]
        if base is not None:
            try:
                if httpx.get(f"{base}/_mock/clock", timeout=2).status_code == 200:
                    return base
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"mock-xtnd did not start within {START_TIMEOUT_S} s:\n{log.read_text(errors='replace')}")


def poll(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_pending_hooks_survive_kill_9_and_are_delivered_after_restart(tmp_path: Path) -> None:
    lock = threading.Lock()
    state = {"up": False}
    answered: list[tuple[Received, int]] = []

    def policy(r: Received) -> int:
        with lock:
            status = 204 if state["up"] else 503
            answered.append((r, status))
        return status

    with Receiver(policy) as receiver:
        write_config(tmp_path / "c.yaml", receiver.url)

        # 1. the receiver is down; 30 acknowledged stock moves
        moves: list[dict[str, Any]] = []
        with serve(tmp_path, "first") as (proc, base), httpx.Client(base_url=base, timeout=10) as c:
            balances = c.get("/_mock/state").json()["balances"]
            products = sorted({b["productNumber"] for b in balances if b["warehouse"] == "1"})[:MOVES]
            assert len(products) == MOVES
            for i, product in enumerate(products):
                r = c.post("/_mock/stock", json={"productNumber": product, "warehouse": "1",
                                                 "balanceDifference": i + 1})
                assert r.status_code == 200, r.text
                moves.append(r.json())
            # 2. kill -9 while every hook is still pending (the receiver has only ever answered 503)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        with lock:
            assert all(status == 503 for _, status in answered)

        # 3. the receiver is back; restart on the same database
        with lock:
            state["up"] = True
        with serve(tmp_path, "second") as (_proc, base), httpx.Client(base_url=base, timeout=10) as c:
            created = c.get("/_mock/deliveries", params={"limit": 100000}).json()["items"]
            assert len(created) == MOVES * 2  # BalanceChanged + AvailableBalanceChanged per move
            ids = {d["deliveryId"] for d in created}
            assert len(ids) == len(created)
            assert not [d for d in created if d["status"] not in ("pending", "delivered")], "dead before restart"

            def delivered_ids() -> set[str]:
                with lock:
                    return {r.json["Id"] for r, status in answered if status == 204}

            assert poll(lambda: delivered_ids() >= ids, ARRIVAL_TIMEOUT_S), (
                f"{len(ids - delivered_ids())} of {len(ids)} hooks never arrived after the restart")
            assert delivered_ids() == ids
            # the fake agrees once its group-committed outcomes are in
            assert poll(lambda: all(d["status"] == "delivered" for d in
                                    c.get("/_mock/deliveries", params={"limit": 100000}).json()["items"]), 5)

    with lock:
        arrived = [r for r, status in answered if status == 204]
    assert all(verify(SECRET, r.body, r.headers.get("ms-signature")) for r in arrived)
    notes = {(n["Action"], n["Details"]["ProductNumber"], n["Details"]["Warehouse"],
              n["Details"].get("Balance", n["Details"].get("AvailableBalance")))
             for r in arrived for n in r.json["Notifications"]}
    for m in moves:
        assert ("BalanceChanged", m["productNumber"], "1", m["physicalBalance"]) in notes
        assert ("AvailableBalanceChanged", m["productNumber"], "1", m["availableBalanceNow"]) in notes
