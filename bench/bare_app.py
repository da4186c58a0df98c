"""The floor to compare the fake with: a bare FastAPI app answering the same bytes as the fake, run by uvicorn with
exactly the settings ``mock-xtnd serve`` uses.

    python bench/bare_app.py --port 8099 --bodies bodies.json

``bodies.json`` holds the fake's answers captured by bench_api.py: ``{"product": <GET Products/{id}>,
"availability_one": <GET ProductAvailability/{pn}/{wh}>, "availability_page": <a full 100-item ProductAvailability
page>}``, so what goes on the wire matches in size and shape.

Endpoints (``async def``, as FastAPI recommends):
- ``GET /bare/Products/{id}``, ``GET /bare/ProductAvailability/{productNumber}/{warehouse}``: the captured answer as
  prebuilt bytes behind path parameters like the fake's routes (issue 11: "a bare FastAPI route returning the same
  bytes").
- ``GET /bare/ProductAvailability``: the same 100 dicts (and paginationInfo) serialised with orjson on every request
  (issue 11: "a bare FastAPI route serializing the same 100 dicts with orjson").
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

JSON = "application/json; charset=utf-8"


def create_bare_app(bodies: dict[str, Any]) -> FastAPI:
    product = orjson.dumps(bodies["product"])
    availability_one = orjson.dumps(bodies["availability_one"])
    page: dict[str, Any] = bodies["availability_page"]
    app = FastAPI(title="bare floor")

    @app.get("/")
    async def root() -> Response:
        return Response(b'{"name":"bare"}', media_type=JSON)

    @app.get("/bare/Products/{id}")
    async def get_product(id: str) -> Response:  # noqa: A002 - the fake's parameter name
        return Response(product, media_type=JSON)

    @app.get("/bare/ProductAvailability/{productNumber}/{warehouse}")
    async def get_availability(productNumber: str, warehouse: str) -> Response:
        return Response(availability_one, media_type=JSON)

    @app.get("/bare/ProductAvailability")
    async def list_availability() -> Response:
        return Response(orjson.dumps(page), media_type=JSON)

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
