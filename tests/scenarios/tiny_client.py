#!/usr/bin/env python3
"""A deliberately tiny "integration" for fast harness tests (stdlib + httpx, starts in a fraction of a second).

    --mode ack     acknowledge every hook with 204 and never read anything (hooks-are-triggers fails); it serves
                   no POST /xtnd/shop/orders (404)
    --mode exit    exit at once with code 4, before listening (a harness error)
    --mode env     like ack, and first write the XTND_* environment it was given, as JSON, to $TINY_ENV_FILE
    --mode shop    like ack, and take shop orders: POST CustomerOrders with a fixed unitPrice of 1.00 (a client
                   that ignores the customer's prices: orders_at_current_price fails)

It serves no probe, so converges is NOT CHECKED unless a scenario says ``converges: false``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class Handler(BaseHTTPRequestHandler):
    mode = "ack"
    orders = 0

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path == "/xtnd/webhooks":
            self.send_response(204)
            self.end_headers()
        elif self.path == "/xtnd/shop/orders" and self.mode == "shop":
            Handler.orders += 1
            self.place(json.loads(body), f"TINY-{os.getpid()}-{Handler.orders}")
            self.send_response(202)
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def place(self, shop_order: dict[str, object], external: str) -> None:
        pair = f"{os.environ['XTND_USERNAME']}:{os.environ['XTND_PASSWORD']}".encode()
        rows = [{"product": {"productNumber": row["productNumber"]},  # type: ignore[index]
                 "salesData": {"quantity": row["quantity"], "unit": "st", "unitPrice": 1.0},  # type: ignore[index]
                 "warehouse": shop_order["warehouse"]}
                for row in shop_order["rows"]]  # type: ignore[attr-defined]
        httpx.post(f"{os.environ['XTND_API_URL']}/CustomerOrders",
                   headers={"ExtendBasicAuthorization": "Basic " + base64.b64encode(pair).decode()},
                   json={"orderHeader": {"orderNumberExternal": external,
                                         "customerNumber": os.environ.get("XTND_SHOP_CUSTOMER", "10001")},
                         "orderRows": rows})


class Server(ThreadingHTTPServer):
    request_queue_size = 64  # XTND's senders connect in parallel: keep their connection requests waiting


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("ack", "exit", "shop", "env"), default="ack")
    args = parser.parse_args()
    if args.mode == "exit":
        print("tiny client: exiting on purpose", flush=True)
        sys.exit(4)
    if args.mode == "env":
        seen = {k: v for k, v in os.environ.items() if k.startswith("XTND_")}
        with open(os.environ["TINY_ENV_FILE"], "w", encoding="utf-8") as f:
            json.dump(seen, f)
    print(f"tiny client: listening ({args.mode})", flush=True)
    Handler.mode = args.mode
    server = Server(("127.0.0.1", int(os.environ["XTND_WEBHOOK_PORT"])), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
