"""Pace: background work (storm steps, delivery attempts) takes a bounded slice of each event-loop pass, so work
that became ready meanwhile (an API request) runs before the rest of the backlog, and background work still gets
at least one turn every pass."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mock_xtnd.pacing import Pace
from mock_xtnd.runtime import Runtime
from mock_xtnd.settings import ConfigError, Settings, load_settings


def run_order(pace: Pace | None, background: int) -> list[str]:
    """``background`` tasks each take a turn then record themselves; a stand-in for an API request is scheduled
    right after them, as a request read from a socket in the same pass would be."""
    order: list[str] = []

    async def work(i: int) -> None:
        if pace is not None:
            await pace.turn()
        order.append(f"bg{i}")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(work(i)) for i in range(background)]
        loop.call_soon(order.append, "api")
        await asyncio.gather(*tasks)

    asyncio.run(main())
    return order


def test_without_pacing_a_request_waits_behind_every_ready_background_step() -> None:
    assert run_order(None, 4) == ["bg0", "bg1", "bg2", "bg3", "api"]


def test_past_the_slice_background_work_waits_for_the_next_pass_and_the_request_goes_first() -> None:
    pace = Pace(slice_seconds=0.0)
    assert run_order(pace, 4) == ["bg0", "api", "bg1", "bg2", "bg3"]
    assert pace.deferred == 3 + 2 + 1  # bg1..bg3 put off in the first pass, bg2..bg3 in the second, bg3 in the third


def test_within_the_slice_turns_do_not_yield() -> None:
    pace = Pace(slice_seconds=60.0)
    assert run_order(pace, 4) == ["bg0", "bg1", "bg2", "bg3", "api"]
    assert pace.deferred == 0


def test_every_pass_gives_background_work_a_turn_however_small_the_slice() -> None:
    pace = Pace(slice_seconds=0.0)
    passes = 0
    done: list[int] = []

    async def work(i: int) -> None:
        await pace.turn()
        done.append(i)

    async def count_passes() -> None:
        nonlocal passes
        while len(done) < 5:
            passes += 1
            await asyncio.sleep(0)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        counter = loop.create_task(count_passes())
        await asyncio.gather(*(work(i) for i in range(5)))
        await counter

    asyncio.run(main())
    assert done == [0, 1, 2, 3, 4]
    assert passes == 5  # exactly one background turn per pass: never starved, never more than the slice allows


def test_no_slice_means_no_pacing() -> None:
    pace = Pace(slice_seconds=None)
    assert run_order(pace, 4) == ["bg0", "bg1", "bg2", "bg3", "api"]
    assert pace.deferred == 0


def test_the_runtime_paces_by_the_configured_slice(tmp_path: Path) -> None:
    assert Runtime(Settings()).pace.slice == 0.0003
    assert Runtime(Settings(background_slice_ms=1.5)).pace.slice == 0.0015
    off = tmp_path / "off.yaml"
    off.write_text("background_slice_ms: null\n")
    assert Runtime(load_settings(off)).pace.slice is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("background_slice_ms: -1\n")
    with pytest.raises(ConfigError, match="background_slice_ms"):
        load_settings(bad)
