"""SQLite persistence for ``--db PATH``: all state, the webhook outbox and the id counters, one table of records.

Each unit of work is one transaction (WAL, synchronous=NORMAL: survives ``kill -9`` of the process, not a power
loss), committed before the HTTP answer is sent, so nothing acknowledged is ever lost. The in-memory state is the
read model; SQLite is the durable copy it is rebuilt from at start.

Commits run on the event loop's thread (the unit of work is synchronous: nothing else may see or change memory
while it commits). So a lock held by another process must not make them wait long: a commit waits at most
``busy_timeout_ms`` (100 ms) for it, and once one has been refused, later ones do not wait at all until one
succeeds - a database locked for a minute costs the loop one 100 ms pause, not a pause per write. A refused commit
raises ``StoreUnavailable`` and the backend rolls the change back in memory.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any

import orjson

from .domain.backend import State
from .domain.errors import StoreUnavailable
from .domain.models import (
    Address,
    BalanceAdjustment,
    Customer,
    CustomerInvoice,
    DiscountList,
    InvoiceRow,
    Offer,
    Order,
    OrderRow,
    PriceList,
    Product,
    ProductProperties,
    ProductText,
    ProductTexts,
    PurchaseArrival,
    PurchaseOrder,
    ReturnOrder,
    ReturnRow,
    Shipment,
    StockItem,
    SupplierAgreement,
    Warehouse,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, key TEXT NOT NULL, body BLOB NOT NULL,
                                    PRIMARY KEY (kind, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
"""


def _encode(obj: Any) -> bytes:
    if is_dataclass(obj) or isinstance(obj, dict | list | int | float | str):
        return orjson.dumps(obj)
    to_json = getattr(obj, "to_record", None)
    if to_json is None:
        raise TypeError(f"cannot persist {type(obj).__name__}")
    return orjson.dumps(to_json())


def _customer(d: dict[str, Any]) -> Customer:
    d = dict(d)
    d["invoice_address"] = Address(**d["invoice_address"])
    d["delivery_address"] = Address(**d["delivery_address"])
    return Customer(**d)


def _order(d: dict[str, Any]) -> Order:
    d = dict(d)
    d["rows"] = [OrderRow(**r) for r in d["rows"]]
    d["shipments"] = [Shipment(**s) for s in d["shipments"]]
    return Order(**d)


def _purchase(d: dict[str, Any]) -> PurchaseOrder:
    d = dict(d)
    d["arrivals"] = [PurchaseArrival(**a) for a in d.get("arrivals", [])]
    return PurchaseOrder(**d)


# offer statuses of mock-xtnd before 0.3, in XTND's words
_OFFER_STATUS = {"Open": "Created", "Declined": "Rejected", "Expired": "Cancelled"}


def _offer(d: dict[str, Any]) -> Offer:
    d = dict(d)
    d["status"] = _OFFER_STATUS.get(d["status"], d["status"])
    return Offer(**d)


def _invoice(d: dict[str, Any]) -> CustomerInvoice:
    d = dict(d)
    d["rows"] = [InvoiceRow(**r) for r in d["rows"]]
    return CustomerInvoice(**d)


def _return(d: dict[str, Any]) -> ReturnOrder:
    d = dict(d)
    d["rows"] = [ReturnRow(**r) for r in d["rows"]]
    return ReturnOrder(**d)


def _texts(d: dict[str, Any]) -> ProductTexts:
    d = dict(d)
    d["items"] = [ProductText(**t) for t in d["items"]]
    return ProductTexts(**d)


DECODERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "warehouse": lambda d: Warehouse(**d),
    "product": lambda d: Product(**d),
    "stock": lambda d: StockItem(**d),
    "customer": _customer,
    "price_list": lambda d: PriceList(**d),
    "discount_list": lambda d: DiscountList(**d),
    "order": _order,
    "purchase": _purchase,
    "offer": _offer,
    "invoice": _invoice,
    "return": _return,
    "adjustment": lambda d: BalanceAdjustment(**d),
    "supplier_agreement": lambda d: SupplierAgreement(**d),
    "product_texts": _texts,
    "product_properties": lambda d: ProductProperties(**d),
}
# the state dict each decoded kind goes to (stock is keyed by (product, warehouse))
_STATE_OF = {"warehouse": "warehouses", "product": "products", "customer": "customers", "price_list": "price_lists",
             "discount_list": "discount_lists", "order": "orders", "purchase": "purchases", "offer": "offers",
             "invoice": "invoices", "return": "returns", "adjustment": "adjustments",
             "supplier_agreement": "supplier_agreements", "product_texts": "product_texts",
             "product_properties": "product_properties"}


def state_records(state: State) -> Iterable[tuple[str, str, Any]]:
    """Every record of a state, for a full write (first start, reset)."""
    for number, w in state.warehouses.items():
        yield "warehouse", number, w
    for number, p in state.products.items():
        yield "product", number, p
    for (pn, wh), s in state.stock.items():
        yield "stock", f"{pn}\x1f{wh}", s
    for number, c in state.customers.items():
        yield "customer", number, c
    for code, pl in state.price_lists.items():
        yield "price_list", code, pl
    for code, dl in state.discount_lists.items():
        yield "discount_list", code, dl
    for number, o in state.orders.items():
        yield "order", number, o
    for number, po in state.purchases.items():
        yield "purchase", number, po
    for number, of in state.offers.items():
        yield "offer", number, of
    for pn, ms in state.price_changed_at.items():
        yield "price_changed", pn, ms
    for number, inv in state.invoices.items():
        yield "invoice", number, inv
    for number, ret in state.returns.items():
        yield "return", number, ret
    for key, adj in state.adjustments.items():
        yield "adjustment", key, adj
    for key, sa in state.supplier_agreements.items():
        yield "supplier_agreement", key, sa
    for pn, texts in state.product_texts.items():
        yield "product_texts", pn, texts
    for pn, props in state.product_properties.items():
        yield "product_properties", pn, props


class DatabaseError(Exception):
    """The ``--db`` file cannot be used (not SQLite, damaged, a directory, read-only, its directory missing). The
    message is one line naming the file and the cause."""


def _why(path: Path, e: BaseException) -> str:
    """A cause a person can act on, from what the path is and what SQLite said."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return "it is a directory"
    if not parent.exists():
        return f"its directory {parent} does not exist"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only"
    if not os.access(parent, os.W_OK):
        return f"the directory {parent} is read-only (SQLite writes the database and its -wal file there)"
    text = str(e) or type(e).__name__
    if "another program" in text:
        return text
    if "not a database" in text or "malformed" in text:
        return f"it is not a mock-xtnd SQLite database, or it is damaged ({text})"
    return text


def _transient(e: sqlite3.Error) -> bool:
    name = getattr(e, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(e) or "busy" in str(e)


class SqliteStore:
    def __init__(self, path: str | Path, busy_timeout_ms: int = 100) -> None:
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._waiting = True  # False after a commit was refused for a lock: later ones fail at once until one works
        p = Path(self.path)
        try:
            if p.is_dir():
                raise IsADirectoryError(self.path)
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                        timeout=busy_timeout_ms / 1000)
        except (sqlite3.Error, OSError) as e:
            raise DatabaseError(f"cannot open database {self.path}: {_why(p, e)}") from e
        try:
            tables = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and not {"records", "meta"} <= tables:  # never write into another program's database
                raise sqlite3.DatabaseError(f"it is another program's SQLite database (tables: "
                                            f"{', '.join(sorted(tables)[:5])})")
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(SCHEMA)
            for table, columns in (("records", ["kind", "key", "body"]), ("meta", ["key", "value"])):
                found = [row[1] for row in self.conn.execute(f"PRAGMA table_info({table})")]
                if found != columns:
                    raise sqlite3.DatabaseError(f"its {table} table is not mock-xtnd's")
            # can it be written (a read-only file or mount), and is it free (another fake on the same file)?
            self.conn.execute("PRAGMA busy_timeout=5000")
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("ROLLBACK")
            self.conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        except (sqlite3.Error, OSError) as e:
            self.conn.close()
            raise DatabaseError(f"cannot use database {self.path}: {_why(p, e)}") from e

    def is_empty(self) -> bool:
        try:
            return self.conn.execute("SELECT 1 FROM meta LIMIT 1").fetchone() is None
        except sqlite3.Error as e:
            raise DatabaseError(f"cannot read database {self.path}: {_why(Path(self.path), e)}") from e

    def _refused(self, e: sqlite3.Error) -> StoreUnavailable:
        transient = _transient(e)
        if transient and self._waiting:
            self._waiting = False
            self.conn.execute("PRAGMA busy_timeout=0")
        return StoreUnavailable(f"{self.path}: {e}", transient)

    def _transaction(self, statements: Callable[[sqlite3.Cursor], None]) -> None:
        """One write transaction; a refusal raises ``StoreUnavailable`` with the database as it was."""
        cur = self.conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise self._refused(e) from e
        try:
            statements(cur)
            cur.execute("COMMIT")
        except BaseException as e:
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    cur.execute("ROLLBACK")
            if isinstance(e, sqlite3.Error):
                raise self._refused(e) from e
            raise
        if not self._waiting:  # the lock is gone: wait again, briefly, the next time one is met
            self._waiting = True
            self.conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")

    def write(self, records: list[tuple[str, str, Any]], meta: dict[str, Any]) -> None:
        upserts = [(k, key, _encode(obj)) for k, key, obj in records if obj is not None]
        deletes = [(k, key) for k, key, obj in records if obj is None]
        meta_rows = [(k, orjson.dumps(v)) for k, v in meta.items()]

        def statements(cur: sqlite3.Cursor) -> None:
            if upserts:
                cur.executemany("INSERT OR REPLACE INTO records(kind, key, body) VALUES (?, ?, ?)", upserts)
            if deletes:
                cur.executemany("DELETE FROM records WHERE kind = ? AND key = ?", deletes)
            cur.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", meta_rows)

        self._transaction(statements)

    def replace_all(self, records: Iterable[tuple[str, str, Any]], meta: dict[str, Any]) -> None:
        rows = [(k, key, _encode(obj)) for k, key, obj in records]
        meta_rows = [(k, orjson.dumps(v)) for k, v in meta.items()]

        def statements(cur: sqlite3.Cursor) -> None:
            cur.execute("DELETE FROM records")
            cur.execute("DELETE FROM meta")
            cur.executemany("INSERT INTO records(kind, key, body) VALUES (?, ?, ?)", rows)
            cur.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta_rows)

        self._transaction(statements)

    def load(self) -> tuple[State, dict[str, Any], dict[str, list[tuple[str, dict[str, Any]]]]]:
        """Rebuild the state. Returns (state, meta, other records by kind) - the others belong to the webhooks.
        A file whose records cannot be read raises ``DatabaseError``."""
        try:
            return self._load()
        except (sqlite3.Error, ValueError, TypeError, KeyError, AttributeError) as e:
            raise DatabaseError(f"cannot read database {self.path}: {_why(Path(self.path), e)}") from e

    def _load(self) -> tuple[State, dict[str, Any], dict[str, list[tuple[str, dict[str, Any]]]]]:
        state = State()
        others: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        for kind, key, body in self.conn.execute("SELECT kind, key, body FROM records ORDER BY kind, key"):
            value = orjson.loads(body)
            decoder = DECODERS.get(kind)
            if kind == "price_changed":
                state.price_changed_at[key] = value
            elif decoder is None:
                others[kind].append((key, value))
            else:
                obj = decoder(value)
                if kind == "stock":
                    state.stock[(obj.product_number, obj.warehouse_number)] = obj
                else:
                    getattr(state, _STATE_OF[kind])[key] = obj
        meta = {k: orjson.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}
        return state, meta, dict(others)

    def close(self) -> None:
        self.conn.close()
