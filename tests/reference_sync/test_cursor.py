"""The modifiedDateFrom cursor: the server's own time, sent with an overlap in UTC seconds, and safe under live paging."""

from __future__ import annotations

from reference_sync.cursor import ModifiedSincePass
from reference_sync.timestamps import to_filter, to_ms


def rows(*change_dates: str | None) -> list[dict[str, object]]:
    return [{"changeDate": c, "productNumber": str(i)} for i, c in enumerate(change_dates)]


def listing(cursor: str | None, overlap: float = 2.0, started_at: float = 100.0) -> ModifiedSincePass:
    return ModifiedSincePass(None if cursor is None else to_ms(cursor), overlap, started_at, "changeDate")


def test_a_first_pass_is_a_full_read() -> None:
    assert listing(None).since is None


def test_the_filter_is_the_cursor_minus_the_overlap_in_utc_whole_seconds() -> None:
    assert listing("2026-01-05T09:00:10.750+01:00").since == "2026-01-05T08:00:08"
    assert listing("2026-01-05T09:00:10.750+01:00", overlap=0).since == "2026-01-05T08:00:10"
    assert to_filter(to_ms("2026-01-05T00:00:00.999Z")) == "2026-01-05T00:00:00"


def test_one_page_moves_the_cursor_to_the_newest_change_seen() -> None:
    p = listing("2026-01-05T09:00:00.000+01:00")
    p.observe(rows("2026-01-05T09:00:01.000+01:00", "2026-01-05T09:00:03.250+01:00", None))
    assert p.next_cursor(finished_at=100.0) == to_ms("2026-01-05T08:00:03.250Z")


def test_an_empty_pass_keeps_the_cursor_and_a_cursor_never_goes_back() -> None:
    p = listing("2026-01-05T08:00:05Z")
    p.observe([])
    assert p.next_cursor(100.0) == to_ms("2026-01-05T08:00:05Z")
    p = listing("2026-01-05T08:00:05Z")
    p.observe(rows("2026-01-05T08:00:04Z"))  # listed again through the overlap
    assert p.next_cursor(100.0) == to_ms("2026-01-05T08:00:05Z")


def test_the_cursor_stays_behind_a_change_made_while_later_pages_were_read() -> None:
    """A row on page 1 changed at :11 while page 3 was read (not listed again in this pass); a page-3 row shows a
    change at :12. "Newest seen" (:12) would skip the :11 change; the pass took 2 s, so :10 is as far as it
    vouches for, and the first page's :10 agrees."""
    p = listing("2026-01-05T08:00:00Z", overlap=0, started_at=100.0)
    p.observe(rows("2026-01-05T08:00:09Z", "2026-01-05T08:00:10Z"))
    p.observe(rows("2026-01-05T08:00:10Z"))
    p.observe(rows("2026-01-05T08:00:12Z"))
    assert p.next_cursor(finished_at=102.0) == to_ms("2026-01-05T08:00:10Z")
    assert p.pages == 3


def test_a_quick_pass_vouches_for_more_than_its_first_page() -> None:
    """A full read whose first page holds only old rows: the newest row seen, less the pass's duration, is still
    before the moment page 1 was read, so the next pass need not list the whole catalogue again."""
    p = listing(None, started_at=100.0)
    p.observe(rows("2026-01-01T00:00:00Z"))
    p.observe(rows("2026-01-05T08:00:30Z"))
    assert p.next_cursor(finished_at=100.25) == to_ms("2026-01-05T08:00:29.750Z")


def test_timestamps_compare_by_instant_not_by_text() -> None:
    assert (
        to_ms("2026-01-05T08:00:00Z")
        == to_ms("2026-01-05T09:00:00.000+01:00")
        == to_ms("2026-01-05T08:00:00")
    )
