"""The coalescer turns AvailableBalanceChanged hooks into few ProductAvailability reads: single items for a trickle,
one modifiedDateFrom pass for a storm, read as soon as a burst is over and at the latest after a bounded wait."""

from __future__ import annotations

import math
import random

import pytest

from reference_sync.clock import ManualClock
from reference_sync.coalescer import BalanceCoalescer
from reference_sync.store import ALL_WAREHOUSES


def coalescer(
    clock: ManualClock, *, quiet: float = 0.2, max_wait: float = 2.5, singles: int = 5
) -> BalanceCoalescer:
    return BalanceCoalescer(clock, quiet=quiet, max_wait=max_wait, single_reads_max=singles)


def test_a_lone_change_is_read_once_the_burst_is_over(clock: ManualClock) -> None:
    c = coalescer(clock)
    assert c.due_in() is None
    assert c.add(("P1", "1"), 1) is True  # the window opened: wake the flusher
    clock.advance(0.1)
    assert c.add(("P2", "1"), 2) is False
    assert c.due_in() == pytest.approx(0.2)  # quiet is measured from the newest hook
    clock.advance(0.2)
    assert c.due_in() == 0
    batch = c.take()
    assert batch.single_reads and list(batch.pairs) == [("P1", "1"), ("P2", "1")]
    assert c.due_in() is None  # the window closed with the take


def test_a_storm_is_read_at_the_latest_after_the_maximum_wait(clock: ManualClock) -> None:
    c = coalescer(clock)
    first = clock.now()
    for n in range(2400):  # a hook every millisecond: never quiet
        c.add((f"P{n % 40}", "1"), n + 1)
        assert c.due_in() == pytest.approx(min(0.2, 2.5 - (clock.now() - first)))
        clock.advance(0.001)
    clock.advance(c.due_in() or 0.0)
    assert clock.now() - first == pytest.approx(2.5)
    batch = c.take()
    assert not batch.single_reads and len(batch.pairs) == 40


def test_more_than_a_few_items_take_one_pass_and_an_item_without_warehouse_too(clock: ManualClock) -> None:
    c = coalescer(clock, singles=2)
    for i in range(3):
        c.add((f"P{i}", "1"), i + 1)
    assert not c.take().single_reads
    c.add(("P1", ALL_WAREHOUSES), 9)  # a hook that named no warehouse cannot be read item by item
    assert not c.take().single_reads


def test_an_item_keeps_the_mark_of_its_newest_hook(clock: ManualClock) -> None:
    c = coalescer(clock)
    c.add(("P1", "1"), 3)
    c.add(("P1", "1"), 7)
    assert c.take().pairs == {("P1", "1"): 7}


def test_a_pass_forgets_what_it_answered_and_keeps_later_hooks(clock: ManualClock) -> None:
    c = coalescer(clock)
    c.add(("P1", "1"), 3)
    c.add(("P2", "1"), 8)
    c.forget(upto_mark=5)
    assert c.pending_pairs == 1 and c.due_in() is not None
    c.forget(upto_mark=8)
    assert c.pending_pairs == 0 and c.due_in() is None


def test_hold_postpones_the_next_flush(clock: ManualClock) -> None:
    c = coalescer(clock)
    c.add(("P1", "1"), 1)
    c.hold(30.0)
    clock.advance(1.0)
    assert c.due_in() == pytest.approx(29.0)
    clock.advance(29.0)
    assert c.due_in() == 0


@pytest.mark.parametrize("rate", [1_000, 2_000, 5_000])
def test_a_20000_event_storm_costs_at_most_0_01_calls_per_event(clock: ManualClock, rate: int) -> None:
    """The issue's target on a model of the wire: 500 products x 3 warehouses, 20,000 hooks at ``rate`` per
    second. Each flush is one modifiedDateFrom pass whose cost is the pages (100 rows) of every item changed since
    the previous pass started minus the 2 s overlap, rounded down to the second; a pass takes 20 ms per page."""
    rng = random.Random(rate)
    items = [(f"{100000 + i}", w) for i in range(500) for w in "123"]
    c = coalescer(clock)
    changed_at: dict[tuple[str, str], float] = {}
    cursor = clock.now()
    calls = 0
    events = 20_000
    for n in range(events):
        clock.advance(1 / rate)
        item = rng.choice(items)
        changed_at[item] = clock.now()
        c.add(item, n + 1)
        if c.due_in() == 0:
            c.take()
            since = math.floor(cursor - 2.0)
            pages = max(1, math.ceil(sum(1 for t in changed_at.values() if t >= since) / 100))
            cursor = clock.now()
            calls += pages
            clock.advance(0.02 * pages)
    calls += max(1, math.ceil(sum(1 for t in changed_at.values() if t >= math.floor(cursor - 2.0)) / 100))
    assert calls / events <= 0.01, f"{calls} calls for {events} events"
