"""The floor for webhook sending: a bare aiohttp loop posting pre-built, pre-signed bodies to a receiver at a fixed
concurrency, with the fake's headers and the fake's client setup (one ClientSession, TCPConnector limited to the
concurrency, uvloop when installed: the fake runs on uvicorn's uvloop).

    python bench/bare_sender.py --url http://127.0.0.1:9000/hook --count 20000 --concurrency 64 [--body-bytes N]

The bodies are built and signed exactly as the fake builds them (``Delivery.body`` + ``signing.sign``: 2-space
indented JSON envelope, one AvailableBalanceChanged notification each), so they match the fake's in shape and size.
``--body-bytes`` pads each notification list with more notifications until a body reaches about N bytes (the
size sensitivity check). Prints one JSON line: count, seconds, rate, body size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import aiohttp

from mock_xtnd.domain.ids import Ids
from mock_xtnd.webhooks.outbox import Delivery
from mock_xtnd.webhooks.signing import SIGNATURE_HEADER, sign


def bodies(count: int, secret: str, body_bytes: int | None) -> list[tuple[bytes, str]]:
    ids = Ids(7)
    out: list[tuple[bytes, str]] = []
    for i in range(count):
        note = {"Action": "AvailableBalanceChanged",
                "Details": {"ProductNumber": str(100001 + i % 500), "Warehouse": str(1 + i % 3),
                            "AvailableBalance": i % 97}}
        notes = [note]
        d = Delivery(ids.hex32("delivery"), ids.guid("notification"), "bench", "", notes, 0, 0)
        body = d.body(1)
        while body_bytes is not None and len(body) < body_bytes:
            notes.append(note)
            body = d.body(1)
        out.append((body, sign(secret, body)))
    return out


async def send_all(url: str, prepared: list[tuple[bytes, str]], concurrency: int, timeout: float) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    ok = failed = 0
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
        for item in prepared:
            queue.put_nowait(item)

        async def worker() -> None:
            nonlocal ok, failed
            while not queue.empty():
                body, signature = queue.get_nowait()
                headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "mock-xtnd-webhooks",
                           SIGNATURE_HEADER: signature}
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        await resp.read()
                        if 200 <= resp.status < 300:
                            ok += 1
                        else:
                            failed += 1
                except (aiohttp.ClientError, TimeoutError):
                    failed += 1

        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"ok": ok, "failed": failed, "seconds": round(seconds, 3), "rate": round(ok / seconds, 1),
            "cpu_s": round(cpu, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--secret", default="bench-secret")
    parser.add_argument("--body-bytes", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    prepared = bodies(args.count, args.secret, args.body_bytes)
    result = asyncio.run(send_all(args.url, prepared, args.concurrency, args.timeout))
    sizes = [len(b) for b, _ in prepared]
    result.update(body_bytes_mean=round(sum(sizes) / len(sizes), 1), concurrency=args.concurrency,
                  count=args.count)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
