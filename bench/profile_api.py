"""Where a request's time goes, without a server or a socket: the fake's ASGI app and the bare floor called directly,
side by side in one process, in microseconds per request; ``--profile`` adds a cProfile of the fake's single GET.

    python bench/profile_api.py [--requests 20000] [--reps 3] [--profile]

Cases: a single-record read (``GET /RESTAPI/v1_0/demo/Products/{id}`` with ``ExtendBasicAuthorization``) and a full
scheme B page of ``GET ProductAvailability`` (100 items), each beside bench/bare_app.py's route returning the same
bytes. The server (uvicorn + httptools) adds roughly the same fixed cost to both, so this isolates what the fake's
own pipeline and handlers cost on top of FastAPI. A diagnostic for bench_api.py's figures, not a replacement.
Writes bench/results/asgi_cost.json.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import re
import time
from typing import Any
from urllib.parse import quote

import _harness as h

SORT = "tottime"


def scope_for(path_qs: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    path, _, qs = path_qs.partition("?")
    raw = [(b"host", b"127.0.0.1"), (b"user-agent", b"bench")]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": qs.encode(),
            "root_path": "", "headers": raw, "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 5555)}


def bare_route(app: Any, pattern: str, key: str = "") -> str:
    """The bare app's route whose path matches ``pattern`` (bench/bare_app.py keeps its own paths), key filled in."""
    for route in app.routes:
        path = getattr(route, "path", "")
        if re.search(pattern, path):
            return re.sub(r"\{[^}]+\}", key, path)
    raise LookupError(f"bench/bare_app.py has no route matching {pattern!r}")


async def call(app: Any, scope: dict[str, Any]) -> tuple[int, bytes]:
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            chunks.append(message.get("body", b""))

    await app(dict(scope), receive, send)
    return status, b"".join(chunks)


async def per_request_us(app: Any, scope: dict[str, Any], n: int) -> float:
    """CPU microseconds per request (process time: time other tenants take from the core is not counted)."""
    t0 = time.process_time()
    for _ in range(n):
        await call(app, scope)
    return (time.process_time() - t0) / n * 1e6


async def main_async(n: int, reps: int, profile: bool, profile_case: str = "fake_single") -> dict[str, Any]:
    from bare_app import create_bare_app

    from mock_xtnd.app import create_app
    from mock_xtnd.settings import load_settings

    settings = load_settings(None, **h.BENCH_CONFIG)
    fake = create_app(settings)
    rt = fake.state.runtime
    auth = h.auth()
    single = next(p for p in sorted(rt.backend.state.products) if p.isdigit())
    single_path = f"{h.API}/Products/{quote(single, safe='')}"
    avail_path = f"{h.API}/ProductAvailability?pageNumber=1"  # a full scheme B page (paging.page_size: 100)
    st, product = await call(fake, scope_for(single_path, auth))
    assert st == 200, product
    st, avail = await call(fake, scope_for(avail_path, auth))
    assert st == 200, avail[:200]
    page = json.loads(avail)
    assert len(page["productAvailabilityList"]) == settings.paging.page_size, page["paginationInfo"]
    bare = create_bare_app({"product": json.loads(product), "availability": page})
    bare_single = bare_route(bare, r"/Products/\{[^}]+\}$", quote(single, safe=""))
    bare_avail = bare_route(bare, r"/ProductAvailability$")
    for path, expected in ((bare_single, product), (bare_avail, avail)):
        st, body = await call(bare, scope_for(path))
        assert st == 200 and len(json.loads(body)) == len(json.loads(expected)), (path, st, body[:200])
    items = len(page["productAvailabilityList"])
    cases = {
        "fake_single": (fake, scope_for(single_path, auth), n),
        "bare_single_param": (bare, scope_for(bare_single), n),
        "bare_single_noparam": (bare, scope_for("/bare/product"), n),
        f"fake_availability{items}": (fake, scope_for(avail_path, auth), max(1, n // 25)),
        f"bare_availability{items}": (bare, scope_for(bare_avail), max(1, n // 25)),
    }
    for app, scope, _ in cases.values():  # warm
        for _ in range(200):
            await call(app, scope)
    results: dict[str, list[float]] = {k: [] for k in cases}
    batches = 10  # each repetition's requests in interleaved batches, so drift falls on all cases alike
    for rep in range(reps):
        spent: dict[str, float] = {k: 0.0 for k in cases}
        for _ in range(batches):
            for name, (app, scope, count) in cases.items():
                spent[name] += await per_request_us(app, scope, max(1, count // batches)) / batches
        for name in cases:
            results[name].append(spent[name])
        print(f"rep {rep + 1}: " + "  ".join(f"{k} {v[-1]:.1f} us" for k, v in results.items()), flush=True)
    out: dict[str, Any] = {
        "benchmark": "asgi_cost",
        "machine": h.machine(),
        "method": "in-process ASGI calls, no server or socket; CPU time (process_time) per request; interleaved "
                  "batches; median of repetitions",
        "cpu_us_per_request_median": {k: round(h.median(v), 1) for k, v in results.items()},
        "journal_records": len(rt.journal),
    }
    if profile:
        prof = cProfile.Profile()
        app, scope, count = cases[profile_case]
        prof.enable()
        for _ in range(count):
            await call(app, scope)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(SORT).print_stats(30)
        out[f"profile_{profile_case}_tottime_top25"] = buf.getvalue()
        print(buf.getvalue())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--profile-case", default="fake_single", choices=["fake_single", "fake_availability100"])
    args = parser.parse_args()
    h.pin_self(h.SERVER_CORE)
    result = asyncio.run(main_async(args.requests, args.reps, args.profile, args.profile_case))
    print(json.dumps(result["cpu_us_per_request_median"], indent=2))
    print(f"wrote {h.write_result('asgi_cost', result)}")


if __name__ == "__main__":
    main()
