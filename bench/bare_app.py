"""The floor to compare the fake with: a bare FastAPI app whose ``async def`` endpoints return constant dicts of the
same size as the fake's answers, run by uvicorn with exactly the settings ``mock-xtnd serve`` uses.

    python bench/bare_app.py --port 8099 --bodies bodies.json

``bodies.json`` holds ``{"product": <the fake's single-product answer>, "availability": <its 200-product
ProductAvailability answer>}``, captured by bench_api.py, so the bytes on the wire match in size.

Endpoints:
- ``GET /api/Products/{productNumber}``: constant product dict, behind a path parameter like the fake's route.
- ``GET /bare/product``: the same dict without a path parameter (path parameters cost ~15% in FastAPI).
- ``GET /api/ProductAvailability``: constant 200-product availability dict (FastAPI's jsonable_encoder + json).
- ``GET /bare/availability-bytes``: the same answer as prebuilt orjson bytes in a Response (a ceiling, not a floor).
- ``GET /``: readiness.
"""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI
from starlette.responses import Response


def create_bare_app(bodies: dict[str, Any]) -> FastAPI:
    product: dict[str, Any] = bodies["product"]
    availability: dict[str, Any] = bodies["availability"]
    availability_bytes = orjson.dumps(availability)
    app = FastAPI(title="bare floor")

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"Name": "bare"}

    @app.get("/api/Products/{productNumber}")
    async def get_product(productNumber: str) -> dict[str, Any]:
        return product

    @app.get("/bare/product")
    async def get_product_no_param() -> dict[str, Any]:
        return product

    @app.get("/api/ProductAvailability")
    async def list_availability() -> dict[str, Any]:
        return availability

    @app.get("/bare/availability-bytes")
    async def availability_prebuilt() -> Response:
        return Response(availability_bytes, media_type="application/json; charset=utf-8")

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bodies", required=True)
    args = parser.parse_args()
    app = create_bare_app(json.loads(Path(args.bodies).read_text()))
    # the same socket handling and uvicorn.Config as mock_xtnd.cli.serve: one worker, uvloop + httptools via "auto"
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
