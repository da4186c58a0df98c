"""Local state in SQLite: everything the sync must not lose lives here, nothing important lives only in memory.

* The shop's copy of XTND data: balances (each row with the ``changeDate`` it came with, applied by it: an older
  answer never overwrites a newer one) and the shop's own orders.
* What is still to be read (``pending_balances``, ``pending_orders``): a webhook is acknowledged only after its
  "what to read" is committed here, so a crash after the 2xx loses nothing. Each pending row carries a *mark*, a
  counter that rises with every accepted hook: a read clears only the marks that existed when it started, because
  its answer may predate anything later.
* ``modifiedDateFrom`` cursors, the outgoing orders (the outbox), webhook Ids already seen, parked items.

WAL with ``synchronous=NORMAL``: a commit survives ``kill -9`` (not a power cut) and costs tens of microseconds.
One connection, used only from the event loop's thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .timestamps import to_ms

ALL_WAREHOUSES = ""  # a pending balance for every warehouse of the product (a hook that named none)
Pair = tuple[str, str]  # (productNumber, warehouse or ALL_WAREHOUSES)

SCHEMA_VERSION = 2  # 1: the sync of mock-xtnd 0.1's own dialect
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, received_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_by_time ON deliveries (received_at);

CREATE TABLE IF NOT EXISTS pending_balances (
  product_number TEXT NOT NULL, warehouse TEXT NOT NULL, mark INTEGER NOT NULL,
  PRIMARY KEY (product_number, warehouse)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_orders (
  order_number TEXT PRIMARY KEY, mark INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, not_before REAL NOT NULL DEFAULT 0) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS balances (
  product_number TEXT NOT NULL, warehouse TEXT NOT NULL, available_balance INTEGER NOT NULL,
  change_date TEXT, change_ms INTEGER,
  PRIMARY KEY (product_number, warehouse)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS orders (
  order_number TEXT PRIMARY KEY, order_number_external TEXT NOT NULL, order_status TEXT NOT NULL,
  listed_change_ms INTEGER, document TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS cursors (stream TEXT PRIMARY KEY, ms INTEGER NOT NULL);

CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  order_number_external TEXT NOT NULL UNIQUE,
  request TEXT NOT NULL,
  body BLOB,
  state TEXT NOT NULL,
  in_doubt INTEGER NOT NULL DEFAULT 0,
  order_number TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  not_before REAL NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_by_state ON outbox (state, not_before);

CREATE TABLE IF NOT EXISTS parked (
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL, error_kind TEXT NOT NULL,
  status INTEGER, message TEXT NOT NULL, parked_at REAL NOT NULL);
"""

# Apply by changeDate, and skip what we already have: a row listed again (overlapping cursors, live paging) with
# the same changeDate and value changes nothing. ">=" rather than ">": two changes inside one millisecond share a
# changeDate, and the answer read later is the one that saw both. A row without changeDate: the latest read wins.
_UPSERT_BALANCE = """
INSERT INTO balances VALUES (?, ?, ?, ?, ?)
ON CONFLICT (product_number, warehouse) DO UPDATE SET
  available_balance = excluded.available_balance, change_date = excluded.change_date,
  change_ms = excluded.change_ms
WHERE excluded.change_ms IS NULL OR balances.change_ms IS NULL OR excluded.change_ms > balances.change_ms
   OR (excluded.change_ms = balances.change_ms AND excluded.available_balance != balances.available_balance)
"""


@dataclass(frozen=True, slots=True)
class PendingOrder:
    order_number: str
    mark: int
    attempts: int


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: int
    order_number_external: str
    request: dict[str, Any]
    body: bytes | None  # the exact bytes every attempt sends, fixed before the first one
    state: str  # "received" | "ready" | "sent" | "parked"
    in_doubt: bool  # a POST went out and no answer said whether it was committed: look it up before resending
    order_number: str | None
    attempts: int


class MalformedRecord(ValueError):
    """A record without the fields every such XTND record has."""


class IncompatibleDatabase(RuntimeError):
    pass


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None)  # autocommit; transactions are explicit
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=5000")
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        tables = self.db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if tables and version != SCHEMA_VERSION:
            self.db.close()
            raise IncompatibleDatabase(f"{self.path} was made by another version of the sync: use a new file")
        self.db.executescript(SCHEMA)
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self._depth = 0
        row = self.db.execute(
            "SELECT max(m) FROM (SELECT max(mark) AS m FROM pending_balances UNION ALL "
            "SELECT max(mark) FROM pending_orders)"
        ).fetchone()
        self._mark = int(row[0] or 0)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit; nested uses join the outer one."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.db.execute("ROLLBACK")
            raise
        self._depth = 0
        self.db.execute("COMMIT")

    # ------------------------------------------------------------------ meta
    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # ------------------------------------------------------------------ webhooks and pending reads
    def accept_delivery(
        self, delivery_id: str, now: float, balances: Iterable[Pair], orders: Iterable[str]
    ) -> int | None:
        """Record a webhook delivery and what it asks us to read, in one transaction. Returns the mark given to
        its reads, or None for a duplicate Id (already accepted: a retry or a duplicate send; nothing recorded)."""
        with self.transaction():
            cursor = self.db.execute("INSERT OR IGNORE INTO deliveries VALUES (?, ?)", (delivery_id, now))
            if cursor.rowcount == 0:
                return None
            self._mark += 1
            self.db.executemany(
                "INSERT INTO pending_balances VALUES (?, ?, ?) "
                "ON CONFLICT (product_number, warehouse) DO UPDATE SET mark = excluded.mark",
                [(p, w, self._mark) for p, w in balances],
            )
            self._mark_orders(orders)
        return self._mark

    def current_mark(self) -> int:
        """Marks up to this value are answered by any read that starts now."""
        return self._mark

    def mark_orders(self, order_numbers: Iterable[str]) -> None:
        self._mark += 1
        self._mark_orders(order_numbers)

    def _mark_orders(self, order_numbers: Iterable[str]) -> None:
        self.db.executemany(
            "INSERT INTO pending_orders (order_number, mark) VALUES (?, ?) "
            "ON CONFLICT (order_number) DO UPDATE SET mark = excluded.mark, attempts = 0, not_before = 0",
            [(n, self._mark) for n in order_numbers],
        )

    def pending_balances(self) -> list[tuple[Pair, int]]:
        return [
            ((str(p), str(w)), int(m))
            for p, w, m in self.db.execute("SELECT product_number, warehouse, mark FROM pending_balances")
        ]

    def clear_balances(self, pairs: Iterable[Pair], upto_mark: int) -> None:
        """The pairs were read by a call that started when the mark was ``upto_mark``."""
        self.db.executemany(
            "DELETE FROM pending_balances WHERE product_number = ? AND warehouse = ? AND mark <= ?",
            [(p, w, upto_mark) for p, w in pairs],
        )

    def clear_all_balances(self, upto_mark: int) -> None:
        """A modifiedDateFrom pass that started at ``upto_mark`` answered every hook accepted before it."""
        self.db.execute("DELETE FROM pending_balances WHERE mark <= ?", (upto_mark,))

    def due_orders(self, now: float, limit: int) -> list[PendingOrder]:
        rows = self.db.execute(
            "SELECT order_number, mark, attempts FROM pending_orders WHERE not_before <= ? ORDER BY mark LIMIT ?",
            (now, limit),
        ).fetchall()
        return [PendingOrder(str(n), int(m), int(a)) for n, m, a in rows]

    def next_order_due(self) -> float | None:
        row = self.db.execute("SELECT min(not_before) FROM pending_orders").fetchone()
        return None if row[0] is None else float(row[0])

    def clear_order(self, order_number: str, upto_mark: int) -> None:
        self.db.execute(
            "DELETE FROM pending_orders WHERE order_number = ? AND mark <= ?", (order_number, upto_mark)
        )

    def defer_order(self, order_number: str, not_before: float) -> None:
        self.db.execute(
            "UPDATE pending_orders SET attempts = attempts + 1, not_before = ? WHERE order_number = ?",
            (not_before, order_number),
        )

    def prune_deliveries(self, received_before: float) -> int:
        return self.db.execute("DELETE FROM deliveries WHERE received_at < ?", (received_before,)).rowcount

    # ------------------------------------------------------------------ balances
    def apply_balances(self, rows: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
        """Apply ProductAvailability rows by changeDate. Returns (rows offered, rows that changed our copy)."""
        values = []
        for row in rows:
            try:
                change_date = row.get("changeDate")
                values.append(
                    (
                        str(row["productNumber"]),
                        str(row["warehouse"]),
                        int(row["availableBalanceNow"]),
                        change_date,
                        None if change_date is None else to_ms(str(change_date)),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise MalformedRecord(f"ProductAvailability row {row!r}: {exc}") from exc
        before = self.db.total_changes
        self.db.executemany(_UPSERT_BALANCE, values)
        return len(values), self.db.total_changes - before

    def balances(self) -> list[tuple[str, str, int, str | None]]:
        return self.db.execute(
            "SELECT product_number, warehouse, available_balance, change_date FROM balances "
            "ORDER BY product_number, warehouse"
        ).fetchall()

    # ------------------------------------------------------------------ our orders
    def apply_order(self, order: Mapping[str, Any]) -> str:
        """Keep a ``CustomerOrder`` (``{orderHeader, orderRows}``) as read by ``GET CustomerOrders/{id}``: the
        order has no change date, and reads of one order are made one after another, so the latest read wins.
        Returns its orderNumber."""
        try:
            header = order["orderHeader"]
            number = str(header["orderNumber"])
            self.db.execute(
                "INSERT INTO orders VALUES (?, ?, ?, NULL, ?) ON CONFLICT (order_number) DO UPDATE SET "
                "order_number_external = excluded.order_number_external, order_status = excluded.order_status, "
                "document = excluded.document",
                (number, str(header["orderNumberExternal"]), str(header["orderStatus"]), _dumps(order)),
            )
        except (KeyError, TypeError) as exc:
            raise MalformedRecord(f"CustomerOrder {order!r:.200}: {exc}") from exc
        return number

    def add_order_if_absent(
        self, number: str, external: str, status: str, document: Mapping[str, Any]
    ) -> None:
        """Keep a first copy of an order (a POST's answer, a list row); a copy read later always wins over it."""
        self.db.execute(
            "INSERT OR IGNORE INTO orders VALUES (?, ?, ?, NULL, ?)",
            (number, external, status, _dumps(document)),
        )

    def order_version(self, order_number: str) -> tuple[str, int | None] | None:
        """(orderStatus, the changeDate a list last showed, in ms) of our copy, or None if we have none."""
        row = self.db.execute(
            "SELECT order_status, listed_change_ms FROM orders WHERE order_number = ?", (order_number,)
        ).fetchone()
        return None if row is None else (str(row[0]), None if row[1] is None else int(row[1]))

    def set_listed_change(self, order_number: str, change_ms: int) -> None:
        self.db.execute(
            "UPDATE orders SET listed_change_ms = ? WHERE order_number = ?", (change_ms, order_number)
        )

    def has_order(self, order_number: str) -> bool:
        return self.order_version(order_number) is not None

    def orders(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(orderNumber, orderNumberExternal, orderStatus, document) of every order of ours."""
        rows = self.db.execute(
            "SELECT order_number, order_number_external, order_status, document FROM orders ORDER BY order_number"
        ).fetchall()
        return [(n, e, s, orjson.loads(d)) for n, e, s, d in rows]

    # ------------------------------------------------------------------ cursors (server time, epoch ms)
    def cursor(self, stream: str) -> int | None:
        row = self.db.execute("SELECT ms FROM cursors WHERE stream = ?", (stream,)).fetchone()
        return None if row is None else int(row[0])

    def save_cursor(self, stream: str, ms: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?)", (stream, ms))

    def start_cursor(self, stream: str, ms: int) -> None:
        """Set the cursor if the stream has none yet."""
        self.db.execute("INSERT OR IGNORE INTO cursors VALUES (?, ?)", (stream, ms))

    # ------------------------------------------------------------------ outbox
    _OUTGOING = "SELECT id, order_number_external, request, body, state, in_doubt, order_number, attempts FROM outbox "

    def add_outgoing(self, external: str, request: Mapping[str, Any], now: float) -> int:
        cursor = self.db.execute(
            "INSERT INTO outbox (order_number_external, request, state, created_at, updated_at) "
            "VALUES (?, ?, 'received', ?, ?)",
            (external, _dumps(request), now, now),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def due_outgoing(self, now: float, limit: int = 20) -> list[Outgoing]:
        rows = self.db.execute(
            self._OUTGOING + "WHERE state IN ('received', 'ready') AND not_before <= ? ORDER BY id LIMIT ?",
            (now, limit),
        ).fetchall()
        return [self._outgoing(r) for r in rows]

    def outgoing(self, external: str) -> Outgoing | None:
        row = self.db.execute(self._OUTGOING + "WHERE order_number_external = ?", (external,)).fetchone()
        return None if row is None else self._outgoing(row)

    @staticmethod
    def _outgoing(row: tuple[Any, ...]) -> Outgoing:
        i, external, request, body, state, in_doubt, number, attempts = row
        return Outgoing(
            int(i), external, orjson.loads(request), body, state, bool(in_doubt), number, int(attempts)
        )

    def next_outgoing_due(self) -> float | None:
        row = self.db.execute(
            "SELECT min(not_before) FROM outbox WHERE state IN ('received', 'ready')"
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def set_body(self, outgoing_id: int, body: bytes, now: float) -> None:
        """Fix the exact bytes of the request. From here on every attempt sends these bytes."""
        self.db.execute(
            "UPDATE outbox SET body = ?, state = 'ready', updated_at = ? WHERE id = ? AND body IS NULL",
            (body, now, outgoing_id),
        )

    def begin_post(self, outgoing_id: int, now: float) -> None:
        """Committed before the POST is sent: from now until an answer says otherwise, the order may exist."""
        self.db.execute(
            "UPDATE outbox SET in_doubt = 1, attempts = attempts + 1, updated_at = ? WHERE id = ?",
            (now, outgoing_id),
        )

    def mark_sent(self, external: str, order_number: str, now: float) -> None:
        self.db.execute(
            "UPDATE outbox SET state = 'sent', in_doubt = 0, order_number = ?, last_error = NULL, updated_at = ? "
            "WHERE order_number_external = ? AND state != 'parked'",
            (order_number, now, external),
        )

    def defer_outgoing(
        self, outgoing_id: int, not_before: float, error: str, now: float, *, in_doubt: bool
    ) -> None:
        self.db.execute(
            "UPDATE outbox SET not_before = ?, last_error = ?, in_doubt = ?, updated_at = ? WHERE id = ?",
            (not_before, error, int(in_doubt), now, outgoing_id),
        )

    def park_outgoing(self, outgoing_id: int, error: str, now: float) -> None:
        self.db.execute(
            "UPDATE outbox SET state = 'parked', in_doubt = 0, last_error = ?, updated_at = ? WHERE id = ?",
            (error, now, outgoing_id),
        )

    def outbox_counts(self) -> dict[str, int]:
        return {
            str(s): int(n) for s, n in self.db.execute("SELECT state, count(*) FROM outbox GROUP BY state")
        }

    # ------------------------------------------------------------------ parked items
    def park(
        self, kind: str, key: str, error_kind: str, status: int | None, message: str, now: float
    ) -> None:
        self.db.execute(
            "INSERT INTO parked (kind, key, error_kind, status, message, parked_at) VALUES (?, ?, ?, ?, ?, ?)",
            (kind, key, error_kind, status, message, now),
        )

    def parked(self) -> list[tuple[str, str, str, int | None, str]]:
        return self.db.execute(
            "SELECT kind, key, error_kind, status, message FROM parked ORDER BY id"
        ).fetchall()


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()
