"""History and reference data: BalanceAdjustments (the ledger's history), Countries, Currencies, GenericReports
(docs/wire.md, "History and reference data")."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from ..domain.errors import not_found, refused
from ..domain.reference import CURRENCIES, REPORTS, cost_of
from . import render
from .call import Call
from .paging import page_b

CURRENCY_BY_CODE = {code.lower(): (code, name) for code, name in CURRENCIES}


def list_adjustments(call: Call) -> Any:
    """The warehouse's balance adjustments from eventDateFrom (to eventDateTo), oldest first, one page (scheme B).
    The Swagger types the answer as one BalanceAdjustmentListItem: it is the page's first adjustment (or, on an
    empty page, a zero change at eventDateFrom with the balance now), and carries the page itself as
    ``balanceAdjustmentList`` with ``paginationInfo`` (chosen: models only gain fields)."""
    b = call.rt.backend
    q = call.query
    warehouse = q["warehouse"]
    b.warehouse(warehouse)
    product = q.get("productNumber")
    if product is not None and product not in b.state.products:
        raise refused(f"Product '{product}' does not exist.", "productNumber")
    since, until = q["eventDateFrom"], q.get("eventDateTo")
    adjustments = b.state.adjustments
    dates = call.rt.dates.text

    def select() -> list[str]:
        return [key for key, a in adjustments.items()
                if a.warehouse_number == warehouse and a.at >= since and (until is None or a.at <= until)
                and (product is None or a.product_number == product)]

    page = page_b(call, "balanceAdjustmentList", select,
                  lambda key: render.balance_adjustment(adjustments[key], dates) if key in adjustments else None)
    items = page["balanceAdjustmentList"]
    dropped = b.ids.counters.get("adjustment-dropped", 0)
    oldest = next(iter(adjustments.values()), None)
    if dropped and (oldest is None or since < oldest.at):
        page["paginationInfo"]["message"] = (
            f"{dropped} older adjustments are no longer kept (retention.balance_adjustments); this history starts "
            f"at {dates(oldest.at) if oldest is not None else 'now'}.")
    if items:
        first = dict(items[0])
    else:
        on_hand = b.stock_item(product, warehouse).on_hand if product is not None else 0
        first = {"productNumber": product or "", "warehouse": warehouse, "eventDate": dates(since),
                 "eventType": "BalanceAdjustment", "balanceChange": 0, "newBalance": on_hand,
                 "blockedBalanceChange": None, "unitDetails": None,
                 "Notes": "No balance adjustments in this period."}
    return {**first, **page}


def list_countries(call: Call) -> Any:
    return render.countries()


def list_currencies(call: Call) -> Any:
    return [render.currency(code, name) for code, name in CURRENCIES]


def get_currency(call: Call) -> Any:
    key = call.path["id"]
    found = CURRENCY_BY_CODE.get(key.lower())
    if found is None:
        raise not_found("Currency", key, "id")
    return render.currency(*found)


# ---------------------------------------------------------------------------------------------- GenericReports
def get_report(call: Call) -> Any:
    """A seeded report by its id (docs/wire.md lists them), computed from the truth now. The Swagger gives no
    answer type: ``{reportId, reportName, createDate, columns: [{name, type}], rows: [{column: value}]}`` (chosen)."""
    report_id = call.query["reportId"]
    name = REPORTS.get(report_id)
    if name is None:
        raise refused(f"There is no report '{report_id}' (the reports: {', '.join(sorted(REPORTS))}).", "reportId")
    b = call.rt.backend
    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]]
    if name == "Lagervärde per lager":
        columns = [("warehouse", "string"), ("warehouseName", "string"), ("products", "int"),
                   ("physicalBalance", "int"), ("stockValue", "double")]
        # sums of doubles by math.fsum: exact, so the same whatever order the records are held in (a --db reload)
        totals: dict[str, list[Any]] = defaultdict(lambda: [0, 0, []])
        for item in b.balances():
            if item.on_hand > 0:
                t = totals[item.warehouse_number]
                t[0] += 1
                t[1] += item.on_hand
                t[2].append(item.on_hand * cost_of(b.state.products[item.product_number]))
        rows = [{"warehouse": wh, "warehouseName": w.name, "products": int(totals[wh][0]),
                 "physicalBalance": int(totals[wh][1]), "stockValue": round(math.fsum(totals[wh][2]), 2)}
                for wh, w in sorted(b.state.warehouses.items())]
    elif name == "Order per status":
        columns = [("orderStatus", "string"), ("orders", "int"), ("rows", "int"), ("totalPrice", "double")]
        counts: dict[str, list[Any]] = defaultdict(lambda: [0, 0, []])
        for order in b.state.orders.values():
            c = counts[order.status]
            c[0] += 1
            c[1] += len(order.rows)
            c[2].append(render.order_total(order))
        rows = [{"orderStatus": status, "orders": int(c[0]), "rows": int(c[1]),
                 "totalPrice": round(math.fsum(c[2]), 2)}
                for status, c in sorted(counts.items())]
    else:
        columns = [("productGroup", "string"), ("invoices", "int"), ("quantity", "int"), ("amount", "double")]
        groups: dict[str, list[Any]] = defaultdict(lambda: [set(), 0, []])
        for invoice in b.state.invoices.values():
            for r in invoice.rows:
                product = b.state.products.get(r.product_number)
                g = groups[product.group if product is not None else ""]
                g[0].add(invoice.number)
                g[1] += r.quantity
                g[2].append(r.quantity * r.unit_price)
        rows = [{"productGroup": group, "invoices": len(g[0]), "quantity": g[1], "amount": round(math.fsum(g[2]), 2)}
                for group, g in sorted(groups.items())]
    return {"reportId": report_id, "reportName": name, "createDate": call.rt.dates.text(call.now),
            "columns": [{"name": n, "type": t} for n, t in columns], "rows": rows}
