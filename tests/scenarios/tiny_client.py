#!/usr/bin/env python3
"""A deliberately tiny "integration" for fast harness tests (stdlib + httpx, starts in a fraction of a second).

    --mode ack     acknowledge every hook with 204 and never fetch anything (hooks-are-triggers fails)
    --mode exit    exit at once with code 4, before listening (a harness error)
    --mode shop    like ack, and take shop orders: POST CustomerOrders at a fixed UnitPrice of 1.00 (a client
                   that ignores the customer's prices: orders_at_current_price fails)

It serves no probe, so converges is NOT CHECKED unless a scenario says ``converges: false``.
"""

from __future__ import annotations

import argparse
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
        api = os.environ["XTND_API_URL"]
        token = httpx.post(f"{api}/token", data={"grant_type": "client_credentials",
                                                 "client_id": os.environ["XTND_CLIENT_ID"],
                                                 "client_secret": os.environ["XTND_CLIENT_SECRET"]}).json()
        lines = [{**line, "UnitPrice": 1.0, "Currency": "SEK"} for line in shop_order["Lines"]]  # type: ignore[union-attr]
        httpx.post(f"{api}/CustomerOrders", headers={"Authorization": f"Bearer {token['access_token']}"},
                   json={"ExternalOrderNumber": external, "CustomerNumber": os.environ.get("XTND_SHOP_CUSTOMER", "10001"),
                         "WarehouseNumber": shop_order["WarehouseNumber"], "Lines": lines})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("ack", "exit", "shop"), default="ack")
    args = parser.parse_args()
    if args.mode == "exit":
        print("tiny client: exiting on purpose", flush=True)
        sys.exit(4)
    Handler.mode = args.mode
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["XTND_WEBHOOK_PORT"])), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
