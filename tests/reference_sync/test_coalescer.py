"""The coalescer turns a storm of AvailableBalanceChanged hooks into few, full ProductAvailability calls."""

from __future__ import annotations

import itertools
import random

import pytest

from reference_sync.clock import ManualClock
from reference_sync.coalescer import BalanceCoalescer
from reference_sync.store import ALL_WAREHOUSES


def test_window_opens_with_the_first_change_and_flushes_after_it(clock: ManualClock) -> None:
    c = BalanceCoalescer(clock, window=0.25)
    assert c.due_in() is None
    assert c.add("P1", "1") is True  # the window opened: wake the flusher
    clock.advance(0.1)
    assert c.add("P2", "1") is False
    assert c.due_in() == pytest.approx(0.15)
    clock.advance(0.15)
    assert c.due_in() == 0
    [query] = c.take()
    assert query.product_numbers == ("P1", "P2")
    assert query.warehouse_numbers == ("1",)
    assert c.due_in() is None  # the window closed with the take


def test_flushes_early_when_a_full_call_is_pending(clock: ManualClock) -> None:
    c = BalanceCoalescer(clock, window=10.0)
    woke = [c.add(f"P{i:03d}", "1") for i in range(200)]
    assert woke[0] and woke[-1] and not any(woke[1:-1])
    assert c.due_in() == 0  # 200 distinct products: waiting longer only adds lag
    c.add("P000", "2")  # the same product again does not wake anyone
    assert c.due_in() == 0


def test_batches_hold_at_most_200_products_and_cover_every_pair_once(clock: ManualClock) -> None:
    c = BalanceCoalescer(clock, window=0.25)
    pairs = {(f"P{i:03d}", w) for i in range(450) for w in ("1", "2") if (i + int(w)) % 3}
    for product, warehouse in sorted(pairs):
        c.add(product, warehouse)
    queries = c.take()  # early (the window is open, full calls are pending): full calls only
    assert [len(q.product_numbers) for q in queries] == [200, 200]
    clock.advance(0.25)
    queries += c.take()  # the rest, when its window is over
    assert [len(q.product_numbers) for q in queries] == [200, 200, 50]
    assert c.due_in() is None
    covered = [pair for q in queries for pair in q.pairs]
    assert sorted(covered) == sorted(pairs)
    for q in queries:
        assert {p for p, _ in q.pairs} == set(q.product_numbers)
        assert set(q.warehouse_numbers) == {w for _, w in q.pairs}


def test_a_change_without_warehouse_asks_for_every_warehouse(clock: ManualClock) -> None:
    c = BalanceCoalescer(clock, window=0.25)
    c.add("P1", "1")
    c.add("P2", ALL_WAREHOUSES)
    [query] = c.take()
    assert query.warehouse_numbers == ()  # no filter: all warehouses of these products


def test_hold_postpones_the_next_flush(clock: ManualClock) -> None:
    c = BalanceCoalescer(clock, window=0.25)
    c.add("P1", "1")
    c.hold(30.0)
    clock.advance(1.0)
    assert c.due_in() == pytest.approx(29.0)
    clock.advance(29.0)
    assert c.due_in() == 0


@pytest.mark.parametrize("rate", [1_000, 5_000])
def test_storm_of_20000_events_over_500_products_costs_at_most_0_02_calls_per_event(
    clock: ManualClock, rate: int
) -> None:
    """The issue's target, on the coalescer alone: 20,000 hooks, 500 products (skewed: some are hot), 3
    warehouses. A flush happens whenever one is due; every call is counted (each flush of <= 200 products
    is one call: 200 products x 3 warehouses fits one 1000-row page)."""
    rng = random.Random(20_000)
    products = [f"{100000 + i}" for i in range(500)]
    cumulative = list(itertools.accumulate(1 / (i + 1) ** 0.8 for i in range(500)))
    c = BalanceCoalescer(clock, window=0.3)
    calls = 0
    last_change: dict[tuple[str, str], int] = {}
    fetched_after: dict[tuple[str, str], int] = {}
    events = 20_000
    for n in range(events):
        clock.advance(1 / rate)
        pair = (rng.choices(products, cum_weights=cumulative)[0], rng.choice("123"))
        c.add(*pair)
        last_change[pair] = n
        if c.due_in() == 0:
            for query in c.take():
                calls += 1
                assert len(query.product_numbers) <= 200
                for p in query.pairs:
                    fetched_after[p] = n
    for query in c.take():  # the storm is over: the last window flushes
        calls += 1
        for p in query.pairs:
            fetched_after[p] = events
    assert calls / events <= 0.02, f"{calls} calls for {events} events"
    # No change is left unfetched: every pair's last change was followed by a fetch of it.
    assert all(fetched_after[p] >= n for p, n in last_change.items())


def test_an_early_flush_takes_only_full_calls_and_the_rest_waits_in_a_new_window(clock: ManualClock) -> None:
    """200 products made the flush due; 7 more arrived before it ran. Those 7 must not make a call of their own
    now: they wait for a window of their own (opened at the take), then go."""
    c = BalanceCoalescer(clock, window=0.3)
    for i in range(207):
        c.add(f"P{i:03d}", "1")
        clock.advance(0.0005)
    [full] = c.take()
    assert full.product_numbers == tuple(f"P{i:03d}" for i in range(200))  # the oldest 200
    assert c.pending_products == 7
    assert c.due_in() == pytest.approx(0.3)  # a new window, from the take
    clock.advance(0.3)
    [rest] = c.take()
    assert rest.product_numbers == tuple(f"P{i:03d}" for i in range(200, 207))
    assert c.due_in() is None


def test_a_flush_after_the_window_takes_everything_even_with_a_full_call_pending(clock: ManualClock) -> None:
    c = BalanceCoalescer(clock, window=0.3)
    for i in range(450):
        c.add(f"P{i:03d}", "1")
    clock.advance(0.3)
    assert [len(q.product_numbers) for q in c.take()] == [200, 200, 50]
    assert c.due_in() is None


def test_the_oldest_change_goes_first_whatever_its_product_number(clock: ManualClock) -> None:
    """Oldest first, not alphabetical: otherwise a product late in the alphabet could wait window after window
    in a long storm."""
    c = BalanceCoalescer(clock, window=10.0, max_products=2)
    for product in ("Z", "A", "M"):
        c.add(product, "1")
    [query] = c.take()
    assert query.product_numbers == ("A", "Z")  # Z and A came first (sorted within the call); M waits
    assert c.pending_products == 1


def test_a_flush_asked_for_before_the_window_is_over_takes_everything_below_a_full_call(clock: ManualClock) -> None:
    """Only a flush made early *because* a full call is pending keeps a remainder; any other (a drain on the way
    out, a test) fetches everything pending."""
    c = BalanceCoalescer(clock, window=10.0)
    for i in range(150):
        c.add(f"P{i:03d}", "1")
    [query] = c.take()
    assert len(query.product_numbers) == 150 and c.due_in() is None
