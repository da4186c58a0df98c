"""SQLite persistence for ``--db PATH``: all state, the webhook outbox and the id counters, one table of records.

Each unit of work is one transaction (WAL, synchronous=NORMAL: survives ``kill -9`` of the process, not a power
loss), committed before the HTTP answer is sent, so nothing acknowledged is ever lost. The in-memory state is the
read model; SQLite is the durable copy it is rebuilt from at start.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import is_dataclass
from pathlib import Path
from typing import Any

import orjson

from .domain.backend import State
from .domain.models import (
    Address,
    Customer,
    DiscountList,
    Offer,
    Order,
    OrderRow,
    PriceList,
    Product,
    PurchaseOrder,
    Shipment,
    StockItem,
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


DECODERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "warehouse": lambda d: Warehouse(**d),
    "product": lambda d: Product(**d),
    "stock": lambda d: StockItem(**d),
    "customer": _customer,
    "price_list": lambda d: PriceList(**d),
    "discount_list": lambda d: DiscountList(**d),
    "order": _order,
    "purchase": lambda d: PurchaseOrder(**d),
    "offer": lambda d: Offer(**d),
}


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


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    def is_empty(self) -> bool:
        return self.conn.execute("SELECT 1 FROM meta LIMIT 1").fetchone() is None

    def write(self, records: list[tuple[str, str, Any]], meta: dict[str, Any]) -> None:
        upserts = [(k, key, _encode(obj)) for k, key, obj in records if obj is not None]
        deletes = [(k, key) for k, key, obj in records if obj is None]
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            if upserts:
                cur.executemany("INSERT OR REPLACE INTO records(kind, key, body) VALUES (?, ?, ?)", upserts)
            if deletes:
                cur.executemany("DELETE FROM records WHERE kind = ? AND key = ?", deletes)
            cur.executemany(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                [(k, orjson.dumps(v)) for k, v in meta.items()],
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def replace_all(self, records: Iterable[tuple[str, str, Any]], meta: dict[str, Any]) -> None:
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            cur.execute("DELETE FROM records")
            cur.execute("DELETE FROM meta")
            cur.executemany(
                "INSERT INTO records(kind, key, body) VALUES (?, ?, ?)",
                ((k, key, _encode(obj)) for k, key, obj in records),
            )
            cur.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)", [(k, orjson.dumps(v)) for k, v in meta.items()]
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def load(self) -> tuple[State, dict[str, Any], dict[str, list[tuple[str, dict[str, Any]]]]]:
        """Rebuild the state. Returns (state, meta, other records by kind) - the others belong to the webhooks."""
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
                if kind == "warehouse":
                    state.warehouses[key] = obj
                elif kind == "product":
                    state.products[key] = obj
                elif kind == "stock":
                    state.stock[(obj.product_number, obj.warehouse_number)] = obj
                elif kind == "customer":
                    state.customers[key] = obj
                elif kind == "price_list":
                    state.price_lists[key] = obj
                elif kind == "discount_list":
                    state.discount_lists[key] = obj
                elif kind == "order":
                    state.orders[key] = obj
                elif kind == "purchase":
                    state.purchases[key] = obj
                elif kind == "offer":
                    state.offers[key] = obj
        meta = {k: orjson.loads(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}
        return state, meta, dict(others)

    def close(self) -> None:
        self.conn.close()
