"""A trivial webhook receiver for the benchmarks: raw asyncio (uvloop when installed), HTTP/1.1 keep-alive,
answers every POST with 204 and counts it. It does not verify signatures: it stands for the cheapest possible
receiver, so the sender is what gets measured.

    python bench/receiver.py --port 9000

``GET /stats`` answers ``{"count", "first", "last", "bytes", "min_body", "max_body", "signed"}`` (times are
``time.time()`` of the first and last complete POST); ``POST /reset`` zeroes them. Stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from typing import Any

NO_CONTENT = b"HTTP/1.1 204 No Content\r\nServer: bench-receiver\r\n\r\n"


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.bytes = 0
        self.min_body = 0
        self.max_body = 0
        self.signed = 0

    def json(self) -> bytes:
        return json.dumps({"count": self.count, "first": self.first, "last": self.last, "bytes": self.bytes,
                           "min_body": self.min_body, "max_body": self.max_body, "signed": self.signed}).encode()


STATS = Stats()


class Receiver(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport  # uvloop's transports are not asyncio.Transport subclasses
        self.buf = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17: stop if stop >= 0 else None].strip())
            total = end + 4 + length
            if len(self.buf) < total:
                return
            del self.buf[:total]
            request_line = head.split(b"\r\n", 1)[0]
            if request_line.startswith(b"get "):  # GET /stats (any GET: also the readiness probe)
                body = STATS.json()
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                     + str(len(body)).encode() + b"\r\n\r\n" + body)
                continue
            if request_line.startswith(b"post /reset"):
                STATS.reset()
                self.transport.write(NO_CONTENT)
                continue
            now = time.time()
            if STATS.count == 0:
                STATS.first = now
                STATS.min_body = length
            STATS.count += 1
            STATS.last = now
            STATS.bytes += length
            STATS.min_body = min(STATS.min_body, length)
            STATS.max_body = max(STATS.max_body, length)
            if b"\r\nms-signature: sha256=" in head:
                STATS.signed += 1
            self.transport.write(NO_CONTENT)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Receiver, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"receiver on 127.0.0.1:{port}", flush=True)
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
