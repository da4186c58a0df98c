"""A paced latency probe: GETs one path over a few keep-alive connections at a fixed total rate and reports
p50/p99/max of each request's time from send to the last byte of its answer.

    python bench/latency_probe.py --port 8080 --path /RESTAPI/v1_0/demo/Products/100003 \
        --header "ExtendBasicAuthorization: Basic ZGVtbzpkZW1vLXNlY3JldA==" --rate 200 --seconds 10

Paced, not saturating: a saturating load (wrk) measures queueing behind itself, whereas this asks "how long does
one call wait" while something else (a storm) runs in the server. Blocking sockets, one thread per connection,
each on its own fixed schedule; a request that falls behind schedule is sent at once (and counted as late).
Answers are read whole, framed by Content-Length or chunked (trailers are not expected).
Prints one JSON line (with ``--raw``, every latency too, so a caller can pool several slices).
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time


def one_connection(port: int, request: bytes, interval: float, until: float, out: list[float],
                   counters: dict[str, int], lock: threading.Lock) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(10)
    buf = b""
    next_at = time.perf_counter()
    local: list[float] = []
    late = bad = 0
    try:
        while True:
            now = time.perf_counter()
            if now >= until:
                break
            if now < next_at:
                time.sleep(next_at - now)
            elif now - next_at > interval:
                late += 1
            t0 = time.perf_counter()
            sock.sendall(request)
            while b"\r\n\r\n" not in buf:
                buf += sock.recv(65536)
            head, _, rest = buf.partition(b"\r\n\r\n")
            length, chunked = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:  # read chunk by chunk up to the last (0) chunk and its blank line
                while True:
                    while b"\r\n" not in rest:
                        rest += sock.recv(65536)
                    size_line, _, after = rest.partition(b"\r\n")
                    size = int(size_line.split(b";")[0], 16)
                    while len(after) < size + 2:
                        after += sock.recv(65536)
                    rest = after[size + 2:]
                    if size == 0:
                        break
                buf = rest
            else:
                while len(rest) < length:
                    rest += sock.recv(65536)
                buf = rest[length:]
            local.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 2"):
                bad += 1
            next_at += interval
    finally:
        sock.close()
    with lock:
        out.extend(local)
        counters["late"] += late
        counters["non_2xx"] += bad


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--header", action="append", default=[],
                        help="'Name: value', sent on every request (repeatable), e.g. the ExtendBasicAuthorization one")
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s over all connections")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--raw", action="store_true", help="also print every latency (ms), for pooling slices")
    args = parser.parse_args()
    extra = "".join(f"{line.strip()}\r\n" for line in args.header)
    request = f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()
    latencies: list[float] = []
    counters = {"late": 0, "non_2xx": 0}
    lock = threading.Lock()
    until = time.perf_counter() + args.seconds
    interval = args.connections / args.rate
    threads = [threading.Thread(target=one_connection, args=(args.port, request, interval, until, latencies,
                                                              counters, lock)) for _ in range(args.connections)]
    for i, t in enumerate(threads):
        time.sleep(interval / args.connections if i else 0)  # stagger the connections' schedules
        t.start()
    for t in threads:
        t.join()
    latencies.sort()

    def q(frac: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(frac * len(latencies)))] * 1000, 3)

    print(json.dumps({"requests": len(latencies), "rate": args.rate, "seconds": args.seconds,
                      "p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99), "max_ms": q(1.0),
                      "late": counters["late"], "non_2xx": counters["non_2xx"],
                      **({"latencies_ms": [round(x * 1000, 3) for x in latencies]} if args.raw else {})}), flush=True)


if __name__ == "__main__":
    main()
