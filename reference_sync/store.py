"""Local state in SQLite: everything the sync must not lose lives here, nothing important lives only in memory.

* The shop's copy of XTND data (balances, our orders, products, customers, prices), each row with the
  ``ChangedAt`` it came with. Rows are applied by ``ChangedAt``: an older answer never overwrites a newer one.
* What is still to be fetched (``pending_balances``, ``pending_records``): a webhook is acknowledged only after
  its "what to fetch" is committed here, so a crash after the 2xx loses nothing.
* ``changedSince`` cursors, the outgoing orders and customers (the outbox), webhook Ids already seen, parked items.

WAL with ``synchronous=NORMAL``: a commit survives ``kill -9`` (not a power cut) and costs tens of microseconds,
so one small transaction per webhook is affordable. One connection, used only from the event loop's thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .timestamps import to_ms

ALL_WAREHOUSES = ""  # a pending balance pair for every warehouse of the product
Pair = tuple[str, str]  # (ProductNumber, WarehouseNumber or ALL_WAREHOUSES)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, received_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_by_time ON deliveries (received_at);

CREATE TABLE IF NOT EXISTS pending_balances (
  product_number TEXT NOT NULL, warehouse_number TEXT NOT NULL, mark INTEGER NOT NULL,
  PRIMARY KEY (product_number, warehouse_number)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_records (
  kind TEXT NOT NULL, key TEXT NOT NULL, mark INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, not_before REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, key)) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS balances (
  product_number TEXT NOT NULL, warehouse_number TEXT NOT NULL, available_balance NUMERIC NOT NULL,
  changed_at TEXT NOT NULL, changed_at_ms INTEGER NOT NULL,
  PRIMARY KEY (product_number, warehouse_number)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS orders (
  order_number TEXT PRIMARY KEY, external_order_number TEXT NOT NULL, status TEXT NOT NULL,
  changed_at TEXT NOT NULL, changed_at_ms INTEGER NOT NULL, expected_delivery_date TEXT,
  shipments TEXT NOT NULL, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  kind TEXT NOT NULL, key TEXT NOT NULL, changed_at TEXT NOT NULL, changed_at_ms INTEGER NOT NULL,
  document TEXT NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS prices (
  customer_number TEXT NOT NULL, product_number TEXT NOT NULL, price NUMERIC NOT NULL, currency TEXT,
  price_source TEXT, valid_to TEXT, changed_at TEXT NOT NULL, changed_at_ms INTEGER NOT NULL,
  PRIMARY KEY (customer_number, product_number)) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS cursors (stream TEXT PRIMARY KEY, since TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  external_number TEXT NOT NULL UNIQUE,
  request TEXT NOT NULL,
  body BLOB,
  state TEXT NOT NULL,
  result_key TEXT,
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

# Apply-by-ChangedAt. ">=" rather than ">": two changes inside one millisecond carry the same ChangedAt, and the
# answer fetched later is the one that saw both; ">" would keep the first answer forever.
_UPSERT_BALANCE = """
INSERT INTO balances VALUES (?, ?, ?, ?, ?)
ON CONFLICT (product_number, warehouse_number) DO UPDATE SET
  available_balance = excluded.available_balance, changed_at = excluded.changed_at,
  changed_at_ms = excluded.changed_at_ms
WHERE excluded.changed_at_ms >= balances.changed_at_ms
"""
_UPSERT_ORDER = """
INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (order_number) DO UPDATE SET
  external_order_number = excluded.external_order_number, status = excluded.status,
  changed_at = excluded.changed_at, changed_at_ms = excluded.changed_at_ms,
  expected_delivery_date = excluded.expected_delivery_date, shipments = excluded.shipments,
  document = excluded.document
WHERE excluded.changed_at_ms >= orders.changed_at_ms
"""
_UPSERT_RECORD = """
INSERT INTO records VALUES (?, ?, ?, ?, ?)
ON CONFLICT (kind, key) DO UPDATE SET
  changed_at = excluded.changed_at, changed_at_ms = excluded.changed_at_ms, document = excluded.document
WHERE excluded.changed_at_ms >= records.changed_at_ms
"""
_UPSERT_PRICE = """
INSERT INTO prices VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (customer_number, product_number) DO UPDATE SET
  price = excluded.price, currency = excluded.currency, price_source = excluded.price_source,
  valid_to = excluded.valid_to, changed_at = excluded.changed_at, changed_at_ms = excluded.changed_at_ms
WHERE excluded.changed_at_ms >= prices.changed_at_ms
"""


@dataclass(frozen=True, slots=True)
class PendingRecord:
    kind: str  # "order" | "product" | "customer"
    key: str
    mark: int
    attempts: int


@dataclass(frozen=True, slots=True)
class Outgoing:
    id: int
    kind: str  # "order" | "customer"
    external_number: str
    request: dict[str, Any]
    body: bytes | None
    state: str  # "received" | "ready" | "sent" | "parked"
    result_key: str | None
    attempts: int


class MalformedRecord(ValueError):
    """A record without the fields every XTND record has (key, ChangedAt)."""


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.db = sqlite3.connect(self.path, isolation_level=None)  # autocommit; transactions are explicit
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)
        self._depth = 0
        row = self.db.execute(
            "SELECT max(m) FROM (SELECT max(mark) AS m FROM pending_balances UNION ALL "
            "SELECT max(mark) FROM pending_records)"
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

    # ------------------------------------------------------------------ webhooks and pending fetches
    def accept_delivery(
        self, delivery_id: str, now: float, balances: Iterable[Pair], records: Iterable[tuple[str, str]]
    ) -> bool:
        """Record a webhook delivery and what it asks us to fetch, in one transaction. False: a duplicate Id,
        already accepted (a retry or a duplicate send), so nothing is recorded again."""
        with self.transaction():
            cursor = self.db.execute("INSERT OR IGNORE INTO deliveries VALUES (?, ?)", (delivery_id, now))
            if cursor.rowcount == 0:
                return False
            self.mark_balances(balances)
            self.mark_records(records)
        return True

    def current_mark(self) -> int:
        """Marks up to this value are answered by any fetch that starts now."""
        return self._mark

    def mark_balances(self, pairs: Iterable[Pair]) -> None:
        self._mark += 1
        self.db.executemany(
            "INSERT INTO pending_balances VALUES (?, ?, ?) "
            "ON CONFLICT (product_number, warehouse_number) DO UPDATE SET mark = excluded.mark",
            [(p, w, self._mark) for p, w in pairs],
        )

    def mark_records(self, targets: Iterable[tuple[str, str]]) -> None:
        self._mark += 1
        self.db.executemany(
            "INSERT INTO pending_records (kind, key, mark) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, key) DO UPDATE SET mark = excluded.mark, attempts = 0, not_before = 0",
            [(kind, key, self._mark) for kind, key in targets],
        )

    def pending_balances(self) -> list[Pair]:
        return [
            (str(p), str(w))
            for p, w in self.db.execute("SELECT product_number, warehouse_number FROM pending_balances")
        ]

    def clear_balances(self, pairs: Iterable[Pair], upto_mark: int) -> None:
        """The pairs were fetched by a call that started when the mark was ``upto_mark``."""
        self.db.executemany(
            "DELETE FROM pending_balances WHERE product_number = ? AND warehouse_number = ? AND mark <= ?",
            [(p, w, upto_mark) for p, w in pairs],
        )

    def due_records(self, now: float, limit: int) -> list[PendingRecord]:
        rows = self.db.execute(
            "SELECT kind, key, mark, attempts FROM pending_records WHERE not_before <= ? ORDER BY mark LIMIT ?",
            (now, limit),
        ).fetchall()
        return [PendingRecord(str(k), str(key), int(m), int(a)) for k, key, m, a in rows]

    def next_record_due(self) -> float | None:
        row = self.db.execute("SELECT min(not_before) FROM pending_records").fetchone()
        return None if row[0] is None else float(row[0])

    def clear_record(self, kind: str, key: str, upto_mark: int) -> None:
        self.db.execute(
            "DELETE FROM pending_records WHERE kind = ? AND key = ? AND mark <= ?", (kind, key, upto_mark)
        )

    def defer_record(self, kind: str, key: str, not_before: float) -> None:
        self.db.execute(
            "UPDATE pending_records SET attempts = attempts + 1, not_before = ? WHERE kind = ? AND key = ?",
            (not_before, kind, key),
        )

    def prune_deliveries(self, received_before: float) -> int:
        return self.db.execute("DELETE FROM deliveries WHERE received_at < ?", (received_before,)).rowcount

    # ------------------------------------------------------------------ the shop's copy of XTND data
    def apply_balances(self, rows: Iterable[dict[str, Any]]) -> int:
        """Apply ProductAvailability rows by ChangedAt. Returns how many rows were offered."""
        values = []
        for row in rows:
            try:
                values.append(
                    (
                        str(row["ProductNumber"]),
                        str(row["WarehouseNumber"]),
                        row["AvailableBalance"],
                        str(row["ChangedAt"]),
                        to_ms(str(row["ChangedAt"])),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise MalformedRecord(f"ProductAvailability row {row!r}: {exc}") from exc
        self.db.executemany(_UPSERT_BALANCE, values)
        return len(values)

    def balances(self) -> list[tuple[str, str, Any, str]]:
        return self.db.execute(
            "SELECT product_number, warehouse_number, available_balance, changed_at FROM balances "
            "ORDER BY product_number, warehouse_number"
        ).fetchall()

    def apply_order(self, order: dict[str, Any]) -> None:
        try:
            changed_at = str(order["ChangedAt"])
            shipments = [
                {k: s.get(k) for k in ("ShipmentNumber", "Carrier", "TrackingNumber", "ShippedAt")}
                for s in order.get("Shipments") or []
            ]
            self.db.execute(
                _UPSERT_ORDER,
                (
                    str(order["OrderNumber"]),
                    str(order["ExternalOrderNumber"]),
                    str(order["Status"]),
                    changed_at,
                    to_ms(changed_at),
                    order.get("ExpectedDeliveryDate"),
                    orjson.dumps(shipments).decode(),
                    orjson.dumps(order).decode(),
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedRecord(f"order {order.get('OrderNumber')!r}: {exc}") from exc

    def orders(self) -> list[tuple[str, str, str, str | None, list[dict[str, Any]]]]:
        rows = self.db.execute(
            "SELECT order_number, external_order_number, status, expected_delivery_date, shipments FROM orders "
            "ORDER BY order_number"
        ).fetchall()
        return [(n, e, s, d, orjson.loads(sh)) for n, e, s, d, sh in rows]

    def order_version(self, order_number: str) -> tuple[int, str] | None:
        """(ChangedAt in ms, Status) of our copy of the order, or None if we do not have it."""
        row = self.db.execute(
            "SELECT changed_at_ms, status FROM orders WHERE order_number = ?", (order_number,)
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def apply_record(self, kind: str, key: str, record: dict[str, Any]) -> None:
        try:
            changed_at = str(record["ChangedAt"])
            self.db.execute(
                _UPSERT_RECORD, (kind, key, changed_at, to_ms(changed_at), orjson.dumps(record).decode())
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedRecord(f"{kind} {key!r}: {exc}") from exc

    def record(self, kind: str, key: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT document FROM records WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return None if row is None else dict(orjson.loads(row[0]))

    def record_changed_at_ms(self, kind: str, key: str) -> int | None:
        row = self.db.execute(
            "SELECT changed_at_ms FROM records WHERE kind = ? AND key = ?", (kind, key)
        ).fetchone()
        return None if row is None else int(row[0])

    def apply_prices(self, rows: Iterable[dict[str, Any]], customer_number: str) -> None:
        values = []
        for row in rows:
            try:
                changed_at = str(row["ChangedAt"])
                values.append(
                    (
                        str(row.get("CustomerNumber") or customer_number),
                        str(row["ProductNumber"]),
                        row["Price"],
                        row.get("Currency"),
                        row.get("PriceSource"),
                        row.get("ValidTo"),
                        changed_at,
                        to_ms(changed_at),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise MalformedRecord(f"ProductPrices row {row!r}: {exc}") from exc
        self.db.executemany(_UPSERT_PRICE, values)

    def prices(self, customer_number: str) -> dict[str, tuple[Any, str | None]]:
        rows = self.db.execute(
            "SELECT product_number, price, currency FROM prices WHERE customer_number = ?", (customer_number,)
        )
        return {str(p): (price, currency) for p, price, currency in rows}

    # ------------------------------------------------------------------ cursors
    def cursor(self, stream: str) -> str | None:
        row = self.db.execute("SELECT since FROM cursors WHERE stream = ?", (stream,)).fetchone()
        return None if row is None else str(row[0])

    def save_cursor(self, stream: str, since: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?)", (stream, since))

    # ------------------------------------------------------------------ outbox
    def add_outgoing(self, kind: str, external_number: str, request: dict[str, Any], now: float) -> int:
        cursor = self.db.execute(
            "INSERT INTO outbox (kind, external_number, request, state, created_at, updated_at) "
            "VALUES (?, ?, ?, 'received', ?, ?)",
            (kind, external_number, orjson.dumps(request).decode(), now, now),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def next_outbox_id(self) -> int:
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return 1 + (int(row[0]) if row else 0)

    def due_outgoing(self, now: float, limit: int = 20) -> list[Outgoing]:
        rows = self.db.execute(
            "SELECT id, kind, external_number, request, body, state, result_key, attempts FROM outbox "
            "WHERE state IN ('received', 'ready') AND not_before <= ? ORDER BY id LIMIT ?",
            (now, limit),
        ).fetchall()
        return [self._outgoing(r) for r in rows]

    def outgoing(self, external_number: str) -> Outgoing | None:
        row = self.db.execute(
            "SELECT id, kind, external_number, request, body, state, result_key, attempts FROM outbox "
            "WHERE external_number = ?",
            (external_number,),
        ).fetchone()
        return None if row is None else self._outgoing(row)

    @staticmethod
    def _outgoing(row: tuple[Any, ...]) -> Outgoing:
        i, kind, ext, request, body, state, result_key, attempts = row
        return Outgoing(int(i), kind, ext, orjson.loads(request), body, state, result_key, int(attempts))

    def next_outgoing_due(self) -> float | None:
        row = self.db.execute(
            "SELECT min(not_before) FROM outbox WHERE state IN ('received', 'ready')"
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def outgoing_without_number(self, kind: str) -> bool:
        """True while some order/customer of ours may exist in XTND without us knowing its number yet."""
        row = self.db.execute(
            "SELECT 1 FROM outbox WHERE kind = ? AND state IN ('received', 'ready') LIMIT 1", (kind,)
        ).fetchone()
        return row is not None

    def is_ours(self, kind: str, result_key: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM outbox WHERE kind = ? AND result_key = ? LIMIT 1", (kind, result_key)
        ).fetchone()
        return row is not None

    def set_body(self, outgoing_id: int, body: bytes, now: float) -> None:
        """Fix the exact bytes of the request. From here on every attempt sends these bytes."""
        self.db.execute(
            "UPDATE outbox SET body = ?, state = 'ready', updated_at = ? WHERE id = ? AND body IS NULL",
            (body, now, outgoing_id),
        )

    def mark_sent(self, external_number: str, result_key: str, now: float) -> None:
        self.db.execute(
            "UPDATE outbox SET state = 'sent', result_key = ?, last_error = NULL, updated_at = ? "
            "WHERE external_number = ? AND state != 'parked'",
            (result_key, now, external_number),
        )

    def defer_outgoing(self, outgoing_id: int, not_before: float, error: str, now: float) -> None:
        self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, not_before = ?, last_error = ?, updated_at = ? WHERE id = ?",
            (not_before, error, now, outgoing_id),
        )

    def park_outgoing(self, outgoing_id: int, error: str, now: float) -> None:
        self.db.execute(
            "UPDATE outbox SET state = 'parked', attempts = attempts + 1, last_error = ?, updated_at = ? "
            "WHERE id = ?",
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
