"""The changedSince cursor: inclusive, the server's own timestamps, and safe under stable paging."""

from __future__ import annotations

from reference_sync.cursor import ChangedSincePass
from reference_sync.timestamps import BEGINNING, to_ms


def rows(*changed_at: str) -> list[dict[str, str]]:
    return [{"ChangedAt": c, "Key": str(i)} for i, c in enumerate(changed_at)]


def test_a_first_pass_starts_at_the_beginning() -> None:
    assert ChangedSincePass(None).since == BEGINNING


def test_one_page_moves_the_cursor_to_the_newest_change_seen() -> None:
    p = ChangedSincePass("2026-01-05T08:00:00.000Z")
    p.observe_page(
        1, rows("2026-01-05T08:00:00.000Z", "2026-01-05T08:00:03.250Z", "2026-01-05T08:00:02.000Z")
    )
    assert p.next_cursor == "2026-01-05T08:00:03.250Z"


def test_an_empty_pass_keeps_the_cursor() -> None:
    p = ChangedSincePass("2026-01-05T08:00:00.000Z")
    p.observe_page(1, [])
    assert p.next_cursor == "2026-01-05T08:00:00.000Z"


def test_the_cursor_never_moves_past_a_change_made_while_later_pages_were_read() -> None:
    """Stable paging shows later pages with *current* values. A record on page 1 changed at :10 while we read
    page 2, and a page-2 record changed again at :20. "Max seen" (:20) would skip the :10 change forever; the
    first page's max (:02) is safe, and the next pass (inclusive) sees both changes."""
    p = ChangedSincePass("2026-01-05T08:00:00.000Z")
    p.observe_page(1, rows("2026-01-05T08:00:01.000Z", "2026-01-05T08:00:02.000Z"))
    p.observe_page(2, rows("2026-01-05T08:00:20.000Z"))
    assert p.next_cursor == "2026-01-05T08:00:02.000Z"
    assert p.pages_seen == 2


def test_timestamps_compare_by_instant_not_by_text() -> None:
    p = ChangedSincePass("2026-01-05T08:00:00.500Z")
    p.observe_page(1, rows("2026-01-05T09:00:00+01:00", "2026-01-05T08:00:00.400Z"))
    assert p.next_cursor == "2026-01-05T08:00:00.500Z"  # both are at or before the cursor
    assert to_ms("2026-01-05T08:00:00Z") == to_ms("2026-01-05T09:00:00.000+01:00")
