"""Fixtures for the reference sync's tests: an injected clock, a store on a temp file, the wire double."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_sync.app import Service, build_service
from reference_sync.clock import ManualClock
from reference_sync.config import SyncConfig
from tests.reference_sync.rsync_doubles import (
    API,
    PASSWORD,
    SECRET,
    USERNAME,
    DroppingTransport,
    ServiceFactory,
    XtndDouble,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def config(tmp_path: Path) -> SyncConfig:
    return SyncConfig(
        api_url=API,
        username=USERNAME,
        password=PASSWORD,
        webhook_secret=SECRET,
        db_path=str(tmp_path / "sync.db"),
        order_prefix="WEB-T",
    )


@pytest.fixture
def xtnd_double(clock: ManualClock) -> XtndDouble:
    double = XtndDouble()
    double.epoch_now = clock.now  # the double's x-ratelimit-reset is an epoch on the sync's clock
    return double


@pytest.fixture
def transport(xtnd_double: XtndDouble) -> DroppingTransport:
    return DroppingTransport(httpx.ASGITransport(app=xtnd_double))


@pytest.fixture
async def make_service(
    config: SyncConfig, clock: ManualClock, transport: DroppingTransport
) -> AsyncIterator[ServiceFactory]:
    """Build a service against the double; call again (same db file) to model a restart."""
    services: list[Service] = []

    def make(**overrides: Any) -> Service:
        http = httpx.AsyncClient(transport=transport, base_url=API)
        service = build_service(replace(config, **overrides), http=http, clock=clock, rng=random.Random(7))
        services.append(service)
        return service

    yield make
    for service in services:
        await service.http.aclose()
        service.store.close()
