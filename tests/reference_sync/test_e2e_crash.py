"""Crash safety with real processes: the sync runs as ``python -m reference_sync run`` against the fake on a real
port (the pytest plugin's session fake, virtual clock, production quirks on), is killed with SIGKILL right after
taking orders, misses hooks while it is down, and is restarted on the same database. Nothing may be lost or
duplicated, and the judge must be satisfied with its conduct."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

SECRET = "e2e-secret"


class SyncProcess:
    def __init__(self, api_url: str, port: int, db: Path, log: Path) -> None:
        self.port = port
        self.argv = [
            sys.executable,
            "-m",
            "reference_sync",
            "run",
            "--db",
            str(db),
            "--balance-quiet",
            "0.05",
        ]
        self.env = {
            **os.environ,
            "XTND_API_URL": api_url,
            "XTND_USERNAME": "demo",
            "XTND_PASSWORD": "demo-secret",
            "XTND_WEBHOOK_SECRET": SECRET,
            "XTND_WEBHOOK_PORT": str(port),
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._listening, "the sync to listen", timeout=60)

    def _listening(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the sync exited with {self.process.returncode}:\n{self.log.read_text()}")
        try:
            return self.http.get("/xtnd/status").status_code == 200
        except httpx.TransportError:
            return False

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.http.close()

    def status(self) -> dict[str, Any]:
        return self.http.get("/xtnd/status").raise_for_status().json()

    def probe(self) -> dict[str, Any]:
        return self.http.get("/xtnd/probe").raise_for_status().json()

    def take_order(self, product: str, quantity: int) -> str:
        body = {"rows": [{"productNumber": product, "quantity": quantity}], "warehouse": "1"}
        response = self.http.post("/xtnd/shop/orders", json=body)
        assert response.status_code == 202, response.text
        return str(response.json()["orderNumberExternal"])


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def view(rows: list[dict[str, Any]]) -> dict[tuple[str, str], Any]:
    return {(r["productNumber"], r["warehouse"]): r["availableBalanceNow"] for r in rows}


@pytest.fixture
def sync_process(xtnd: Any, tmp_path: Path) -> Iterator[SyncProcess]:
    from mock_xtnd.server import free_port

    port = free_port()
    xtnd.subscribe(f"http://127.0.0.1:{port}/xtnd/webhooks", SECRET, name="shop")
    process = SyncProcess(xtnd.api_url, port, tmp_path / "shop.db", tmp_path / "sync.log")
    try:
        yield process
    finally:
        process.stop()


def test_kill_9_and_restart_loses_nothing_and_duplicates_nothing(
    xtnd: Any, sync_process: SyncProcess
) -> None:
    # Transient 400s are covered in-process, on the fake's clock (test_against_the_fake.py). Here the sync waits in
    # real time while the session fake's clock is virtual and stands still, so the judge would read every retry
    # of a transient 400 as "resent without a wait".
    quirks = xtnd.quirks(transientErrors=0)
    try:
        _kill_restart_and_judge(xtnd, sync_process)
    finally:
        xtnd.quirks(**quirks)  # POST /_mock/reset does not restore them


def _kill_restart_and_judge(xtnd: Any, sync_process: SyncProcess) -> None:
    truth = xtnd.state()
    in_stock = sorted(
        {
            b["productNumber"]
            for b in truth["balances"]
            if b["warehouse"] == "1" and b["availableBalanceNow"] >= 10 and b["physicalBalance"] >= 10
        }
    )
    sync_process.start()
    # The hooks the shop's own orders fire are held (on the virtual clock, until the next advance), so that none
    # is on the wire when the kill lands: an attempt cut off mid-request fails as "reset", not "refused", and the
    # accounting of refused attempts below would depend on the machine's speed. The kill still catches each
    # order sent, half-sent (POST out, answer lost) or not sent at all.
    xtnd.delivery_faults(delaySeconds=1)
    externals = [sync_process.take_order(product, 2) for product in in_stock[:3]]
    sync_process.kill9()  # right after the 202s
    xtnd.delivery_faults(delaySeconds=0)

    for i, product in enumerate(in_stock[3:13]):  # changes while the shop is down: their hooks are refused
        xtnd.stock(product, "2", balance_difference=7 + i)

    def converged() -> bool:
        status = sync_process.status()
        if status["outbox"].get("received") or status["outbox"].get("ready") or status["pendingBalances"]:
            return False
        return view(sync_process.probe()["balances"]) == view(xtnd.state()["balances"])

    sync_process.start()  # same database: it sends what it owes and reads what changed while it was down
    wait_until(converged, "the restarted sync to catch up")
    xtnd.advance(
        61
    )  # the held hooks go out, and XTND's first retry of the refused ones reaches the restarted shop
    wait_until(converged, "the restarted sync to converge")
    ours = [o for o in xtnd.state()["orders"] if o["orderNumberExternal"] in externals]
    assert sorted(o["orderNumberExternal"] for o in ours) == sorted(externals)  # each order exactly once
    created = [c for c in xtnd.journal(kind="api") if c["method"] == "POST" and c["resultKey"] is not None]
    assert len(created) == 3

    xtnd.pick(ours[0]["orderNumber"])  # the back office ships one: OrderReserved, OrderPicked
    wait_until(
        lambda: (
            {"orderNumber": ours[0]["orderNumber"], "orderStatus": "Terminated"}
            in sync_process.probe()["orders"]
        ),
        "the pick to reach the shop",
    )
    wait_until(lambda: sync_process.status()["pendingBalances"] == 0, "the pick's balance change")
    wait_until(
        lambda: view(sync_process.probe()["balances"]) == view(xtnd.state()["balances"]), "convergence"
    )
    # The only attempts the shop failed to answer are those made while it was dead (refused connections).
    refused = [d for d in xtnd.journal(kind="delivery") if d["status"] is None]
    assert refused and all(d["error"] == "refused" and d["attempt"] == 1 for d in refused), refused
    xtnd.assert_conduct(
        probe=sync_process.probe(),
        overrides={"ack-hooks-fast": {"tolerated": len(refused)}},
        require=["converges", "hooks-are-triggers", "no-duplicate-orders", "ack-hooks-fast"],
    )
