"""Shared plumbing for the benchmarks: subprocesses pinned to cores, readiness, wrk (or a labelled fallback),
medians, and the JSON results that docs/benchmarks.md cites.

Benchmarks are not tests: they print figures and write bench/results/*.json. Everything binds 127.0.0.1 only, and
every load is bounded in count and in time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
PYTHON = sys.executable
VENV_BIN = Path(PYTHON).parent
MOCK_XTND = str(VENV_BIN / "mock-xtnd") if (VENV_BIN / "mock-xtnd").exists() else "mock-xtnd"

# the fake's API base path and its default user (docs/wire.md): every call carries ExtendBasicAuthorization
API = "/RESTAPI/v1_0/demo"
AUTH_HEADER = "ExtendBasicAuthorization"
USERNAME, PASSWORD = "demo", "demo-secret"

# one core for the server under test, the other for whatever loads or receives (2-core machine)
SERVER_CORE = 0
LOAD_CORE = 1

WRK_INSTALL_HINT = "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) gives the preferred load generator"


# ---------------------------------------------------------------------------------------------- processes
def have_taskset() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pinned(cmd: Sequence[str], core: int) -> list[str]:
    """``cmd`` pinned to one core when taskset exists (and there are two cores to split)."""
    return ["taskset", "-c", str(core), *cmd] if have_taskset() else list(cmd)


def pin_self(core: int) -> None:
    if have_taskset():
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {core})


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Proc:
    """A child process with its output in a temp file; stopped with SIGINT, then SIGKILL, by its own pid only."""

    def __init__(self, cmd: Sequence[str], name: str, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.cmd = list(cmd)
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            self.cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, **(env or {})},
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def http(port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
         timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on a fresh connection (stdlib only, so the harness needs nothing else)."""
    import http.client

    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def wait_ready(port: int, proc: Proc | None = None, path: str = "/", timeout: float = 60.0,
               interval: float = 0.005) -> float:
    """Poll until ``GET path`` answers (any status); returns seconds since the process was launched."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.output()[-3000:]}")
        try:
            http(port, "GET", path, timeout=2.0)
            return time.perf_counter() - (proc.started if proc is not None else deadline - timeout)
        except OSError:
            time.sleep(interval)
    raise RuntimeError(f"nothing answered on port {port} within {timeout} s"
                       + (f":\n{proc.output()[-3000:]}" if proc else ""))


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) from /proc/<pid>/status, in KiB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(rest.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (/proc/<pid>/stat). Unlike wall-clock figures this does not
    grow when other tenants take the core away, so CPU time per request is the noise-robust cost measure."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------- the fake
def write_config(data: dict[str, Any]) -> str:
    import yaml

    f = tempfile.NamedTemporaryFile("w", prefix="bench-config-", suffix=".yaml", delete=False)  # noqa: SIM115
    yaml.safe_dump(data, f)
    f.close()
    return f.name


# Rate limits raised so the fake never answers 429 under a benchmark's load: a million calls per family per
# second. Rate limiting itself stays on (every call is still counted and answered with its x-ratelimit-* headers),
# as do auth, validation and the journal.
NO_429_LIMITS: dict[str, Any] = {"default": 1_000_000, "window_seconds": 1}
# The production quirk of transient 400s (1% of calls by default) would count as errors in a load run: off. The
# other quirks do not touch the calls the benchmarks make.
NO_TRANSIENT_400S = {"transient_errors": 0}
BENCH_CONFIG: dict[str, Any] = {"rate_limits": NO_429_LIMITS, "quirks": NO_TRANSIENT_400S}


def auth(username: str = USERNAME, password: str = PASSWORD) -> dict[str, str]:
    """The header every API call carries: ``ExtendBasicAuthorization: Basic base64(username:password)``."""
    import base64

    return {AUTH_HEADER: "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def start_fake(port: int, config: dict[str, Any] | None = None, extra: Sequence[str] = (),
               core: int = SERVER_CORE) -> tuple[Proc, str]:
    cfg = write_config({**BENCH_CONFIG, **(config or {})})
    proc = Proc(pinned([MOCK_XTND, "serve", "--port", str(port), "--config", cfg, *extra], core), "fake")
    return proc, cfg


def start_experiment(port: int, config: dict[str, Any] | None = None, flags: Sequence[str] = (),
                     core: int = SERVER_CORE) -> tuple[Proc, str]:
    """bench/experiment_app.py (the fake with a proposed change applied from outside), same config handling."""
    cfg = write_config({**BENCH_CONFIG, **(config or {})})
    proc = Proc(pinned([PYTHON, str(BENCH_DIR / "experiment_app.py"), "--port", str(port), "--config", cfg, *flags],
                       core), "experiment")
    return proc, cfg


# ---------------------------------------------------------------------------------------------- load
WRK_LUA = r"""
local name, value = os.getenv("BENCH_HEADER_NAME"), os.getenv("BENCH_HEADER_VALUE")
if name and #name > 0 then wrk.headers[name] = value end
done = function(summary, latency, requests)
  local e = summary.errors
  local pcts = {}
  for i = 1, 1000 do pcts[i] = latency:percentile(i / 10) end
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_status":%d,"err_timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"pcts_us":[%s]}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    table.concat(pcts, ",")))
end
"""


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def _one_header(headers: dict[str, str] | None) -> tuple[str, str]:
    """The one header a load run sends (the auth header, or none); wrk and the fallback take exactly one."""
    if not headers:
        return "", ""
    if len(headers) != 1:
        raise ValueError(f"a load run sends one header, not {sorted(headers)}")
    ((name, value),) = headers.items()
    return name, value


def wrk(url: str, headers: dict[str, str] | None, seconds: float, connections: int = 64,
        core: int = LOAD_CORE) -> dict[str, Any]:
    """``wrk -t1 -cN -dS`` with the auth header (``auth()``) or none; figures from its Lua ``done`` hook."""
    name, value = _one_header(headers)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_LUA)
        script = f.name
    try:
        cmd = pinned(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
                      "-s", script, url], core)
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60,
                             env={**os.environ, "BENCH_HEADER_NAME": name, "BENCH_HEADER_VALUE": value})
    finally:
        os.unlink(script)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no figures: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    raw = json.loads(line[len("BENCHJSON "):])
    secs = raw["duration_us"] / 1e6
    errors = raw["err_connect"] + raw["err_read"] + raw["err_write"] + raw["err_timeout"]
    return {
        "tool": "wrk",
        "connections": connections,
        "requests": raw["requests"],
        "seconds": round(secs, 3),
        "rps": round(raw["requests"] / secs, 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "non_2xx_3xx": raw["err_status"],
        "socket_errors": errors,
        "bytes_per_response": round(raw["bytes"] / raw["requests"]) if raw["requests"] else 0,
        "pcts_ms": [p / 1000 for p in raw["pcts_us"]],
    }


FALLBACK_SCRIPT = r"""
import asyncio, json, sys, time
import aiohttp
url, name, value, seconds, conns = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
async def main():
    lat, non2xx, errors, nbytes = [], 0, 0, 0
    headers = {name: value} if name else {}
    conn = aiohttp.TCPConnector(limit=conns)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=5)) as s:
        end = time.perf_counter() + seconds
        async def worker():
            nonlocal non2xx, errors, nbytes
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                try:
                    async with s.get(url, headers=headers) as r:
                        b = await r.read()
                        nbytes += len(b)
                        if r.status >= 400: non2xx += 1
                except Exception:
                    errors += 1
                    continue
                lat.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conns)))
        secs = time.perf_counter() - t0
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else None
    print(json.dumps({"requests": len(lat), "seconds": secs, "p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99),
                      "pcts_ms": [q(i / 1000) for i in range(1, 1001)],
                      "max_ms": lat[-1] * 1000 if lat else None, "non_2xx_3xx": non2xx, "socket_errors": errors,
                      "bytes_per_response": round(nbytes / len(lat)) if lat else 0}))
try:
    import uvloop; uvloop.install()
except ImportError:
    pass
asyncio.run(main())
"""


def fallback_load(url: str, headers: dict[str, str] | None, seconds: float, connections: int = 64,
                  core: int = LOAD_CORE) -> dict[str, Any]:
    """A bounded aiohttp load loop, used only when wrk is missing. It is client-bound (Python on one core), so its
    figures are lower than wrk's and only the ratios between targets measured the same way mean anything."""
    name, value = _one_header(headers)
    out = subprocess.run(pinned([PYTHON, "-c", FALLBACK_SCRIPT, url, name, value, str(seconds),
                                 str(connections)], core), capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"fallback load failed: {out.stderr[-2000:]}")
    raw = json.loads(out.stdout.strip().splitlines()[-1])
    raw.update(tool="aiohttp-fallback (client-bound; NOT comparable with wrk figures)", connections=connections,
               rps=round(raw["requests"] / raw["seconds"], 1), seconds=round(raw["seconds"], 3))
    return raw


def load(url: str, headers: dict[str, str] | None, seconds: float, connections: int = 64,
         server_pid: int | None = None) -> dict[str, Any]:
    """One bounded load run sending ``headers`` (``auth()`` for the fake's API, None for the bare floor); with
    ``server_pid`` it also records the server's CPU seconds spent meanwhile."""
    before = cpu_seconds(server_pid) if server_pid else 0.0
    if have_wrk():
        res = wrk(url, headers, seconds, connections)
    else:
        res = fallback_load(url, headers, seconds, connections)
    if server_pid:
        res["server_cpu_s"] = round(cpu_seconds(server_pid) - before, 3)
    return res


def load_tool_note() -> str:
    if have_wrk():
        return "wrk -t1 (HTTP/1.1 keep-alive), Lua script for the ExtendBasicAuthorization header"
    print(f"NOTE: {WRK_INSTALL_HINT}. Falling back to a bounded aiohttp load loop (client-bound: its req/s are a "
          "floor set by the client; compare only the ratios).", file=sys.stderr)
    return "aiohttp fallback loop (wrk missing: client-bound, compare ratios only)"


# ---------------------------------------------------------------------------------------------- figures
def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def combine(slices: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Merge load slices of one target: req/s over the summed time; percentiles from the slices' 1000-point
    quantile sketches weighted by their request counts (exact enough for p50/p99)."""
    requests = sum(r["requests"] for r in slices)
    seconds = sum(r["seconds"] for r in slices)
    points: list[tuple[float, float]] = []
    for r in slices:
        pcts = [p for p in r.get("pcts_ms", []) if p is not None]
        points += [(p, r["requests"] / len(pcts)) for p in pcts] if pcts else []
    points.sort()
    total = sum(w for _, w in points)

    def q(frac: float) -> float | None:
        acc = 0.0
        for value, weight in points:
            acc += weight
            if acc >= frac * total - 1e-9:
                return round(value, 3)
        return round(points[-1][0], 3) if points else None

    return {
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": q(0.50),
        "p99_ms": q(0.99),
        "max_ms": max((r.get("max_ms") or 0.0) for r in slices),
        "non_2xx_3xx": sum(r.get("non_2xx_3xx", 0) for r in slices),
        "socket_errors": sum(r.get("socket_errors", 0) for r in slices),
        "server_cpu_us_per_request": (round(sum(r["server_cpu_s"] for r in slices) / requests * 1e6, 1)
                                      if requests and all("server_cpu_s" in r for r in slices) else None),
        "slices": len(slices),
        "slice_rps": [round(r["requests"] / r["seconds"], 1) for r in slices],
    }


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str] = {}
    for mod in ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "aiohttp", "orjson", "pydantic"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[mod] = version(mod)
    wrk_version = ""
    if have_wrk():
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
        wrk_version = (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else ""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pinning": "taskset: server core 0, load/receiver core 1" if have_taskset() else "none (taskset missing)",
        "load_average_at_start": os.getloadavg(),
        "wrk": wrk_version,
        "packages": versions,
    }


def check_server_stack() -> None:
    """uvicorn's 'auto' picks httptools + uvloop only when installed; without them figures drop ~6x."""
    missing = [m for m in ("uvloop", "httptools") if not _importable(m)]
    if missing:
        print(f"WARNING: {', '.join(missing)} missing: uvicorn falls back to asyncio/h11 "
              "(`pip install 'uvicorn[standard]'`)", file=sys.stderr)


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


@contextlib.contextmanager
def cleanup(*paths: str) -> Iterator[None]:
    try:
        yield
    finally:
        for p in paths:
            with contextlib.suppress(OSError):
                os.unlink(p)
