"""PurchaseOrders (list, create, read, change) and ReturnOrders (list, create, read), ReturnOrderRowCodes:
docs/wire.md, "PurchaseOrders" and "ReturnOrders"."""

from __future__ import annotations

from typing import Any

from ..domain import backoffice as ops
from ..domain import returns
from ..domain.backend import INT32_MAX, sorted_by_number
from ..domain.errors import refused
from ..domain.models import PurchaseOrder, ReturnOrder
from ..domain.reference import SUPPLIER_NAMES
from . import render
from .call import Call
from .errors import invalid
from .facts import primitive
from .paging import page_b

# PurchaseOrderHeader fields the server owns or interprets; the rest is kept and answered back
PURCHASE_HEADER_OWNED = frozenset({"purchaseNumber", "status", "createDate", "warehouse"})
PURCHASE_ROW_OWNED = frozenset({"position", "rowStatus", "statusChangeDate", "productNumber", "productName",
                                "purchaseDataProductUnit", "expectedDeliveryDate", "unitDetails"})
RETURN_HEADER_OWNED = frozenset({"returnNumber", "warehouse", "returnType", "referenceOrderNumber",
                                 "referenceExternalOrderNumber", "createDate", "status", "customerNumber",
                                 "customerName", "creditInvoiceAction"})
RETURN_ROW_OWNED = frozenset({"position", "subPosition", "rowStatus", "returnCode", "returnCodeName", "productNumber",
                              "productName", "salesData", "referenceOrderRowPosition",
                              "referenceOrderRowSubPosition", "returnOrderRowId"})


def whole(value: float, path: str, problems: list[tuple[str, str]]) -> int | None:
    """A quantity of whole units, 1 to 2,147,483,647 (the ledger counts units; chosen)."""
    if value != int(value):
        problems.append((path, "The quantity must be a whole number of units."))
        return None
    if not 0 < value <= INT32_MAX:
        problems.append((path, "The quantity must be greater than 0 and fit a 32-bit integer."))
        return None
    return int(value)


def extra_flags(call: Call, *names: str) -> dict[str, bool]:
    """Filters the Swagger declares in the body of a GET (``isOpen``, ``isReceived``). The body holds one value,
    the first of them (``true``, ``false`` or ``null``, as ASP.NET binds one [FromBody] parameter; the pipeline has
    checked it); both are also read from the query string, where a client can send them, and one given there wins
    (chosen)."""
    out: dict[str, bool] = {}
    problems: list[tuple[str, str]] = []
    raw = {k.lower(): v for k, v in call.record["query"].items()}
    for name in names:
        values = raw.get(name.lower())
        if values and values[0] != "":
            value = primitive("bool", values[0], name, problems)
            if value is not None:
                out[name] = value
    if problems:
        raise invalid(problems)
    if isinstance(call.body, bool) and names and names[0] not in out:
        out[names[0]] = call.body
    return out


def _kept(values: dict[str, Any] | None, owned: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in (values or {}).items() if k not in owned and v is not None}


# ---------------------------------------------------------------------------------------------- PurchaseOrders
def _purchase_body(call: Call) -> tuple[dict[str, Any], dict[str, int], dict[str, dict[str, Any]], int | None]:
    """(header, product -> quantity, product -> kept row fields, earliest expected date) of a PurchaseOrder body."""
    prefix = call.body_name
    body = call.body
    header = body["header"]
    problems: list[tuple[str, str]] = []
    lines: dict[str, int] = {}
    row_extra: dict[str, dict[str, Any]] = {}
    expected: int | None = None
    if not body["rows"]:
        problems.append((f"{prefix}.rows", "At least one row is required."))
    for i, row in enumerate(body["rows"]):
        path = f"{prefix}.rows[{i}]"
        pn = row.get("productNumber")
        if pn is None or not pn.strip():
            problems.append((f"{path}.productNumber", "The productNumber field is required."))
            continue
        quantity = whole(row["purchaseDataProductUnit"]["quantity"], f"{path}.purchaseDataProductUnit.quantity",
                         problems)
        if quantity is None:
            continue
        lines[pn] = lines.get(pn, 0) + quantity
        if lines[pn] > INT32_MAX:
            problems.append((f"{path}.purchaseDataProductUnit.quantity", "The quantities of one product must fit a "
                                                                          "32-bit integer together."))
        kept = _kept(row, PURCHASE_ROW_OWNED)
        if kept:
            row_extra[pn] = kept
        at = row.get("expectedDeliveryDate")
        if at is not None and (expected is None or at < expected):
            expected = at
    supplier = (header.get("supplier") or {}).get("supplierNumber")
    if supplier is not None and supplier not in SUPPLIER_NAMES:
        problems.append((f"{prefix}.header.supplier.supplierNumber",
                         f"Unknown supplier; one of {', '.join(sorted(SUPPLIER_NAMES))}."))
    if problems:
        raise invalid(problems)
    return header, lines, row_extra, expected


def post_purchase(call: Call) -> Any:
    b = call.rt.backend
    header, lines, row_extra, expected = _purchase_body(call)
    prefix = call.body_name
    po = ops.create_purchase_order(
        b, header.get("warehouse") or b.default_warehouse, lines, expected_at=expected,
        supplier_number=(header.get("supplier") or {}).get("supplierNumber"),
        header=_kept(header, PURCHASE_HEADER_OWNED), row_extra=row_extra, field=f"{prefix}.rows",
        warehouse_field=f"{prefix}.header.warehouse")
    call.record["resultKey"] = po.number
    return render.purchase_full(b, po, call.rt.dates.text)


def get_purchase(call: Call) -> Any:
    b = call.rt.backend
    return render.purchase_full(b, ops.purchase(b, call.path["id"]), call.rt.dates.text)


def put_purchase(call: Call) -> Any:
    b = call.rt.backend
    number = call.path["id"]
    po = ops.purchase(b, number)
    header, lines, row_extra, expected = _purchase_body(call)
    prefix = call.body_name
    given = header.get("purchaseNumber")
    if given is not None and given != number:
        raise refused(f"The purchaseNumber in the body ({given}) differs from the path ({number}).",
                      f"{prefix}.header.purchaseNumber")
    warehouse = header.get("warehouse")
    if warehouse is not None and warehouse != po.warehouse_number:
        raise refused(f"The warehouse of purchase order {number} cannot change.", f"{prefix}.header.warehouse")
    ops.update_purchase(b, number, lines=lines, expected_at=expected, header=_kept(header, PURCHASE_HEADER_OWNED),
                        row_extra=row_extra, supplier_number=(header.get("supplier") or {}).get("supplierNumber"),
                        cancel=header.get("status") == "Cancelled", field=f"{prefix}.rows")
    call.record["resultKey"] = number
    return render.custom_success(f"Purchase order {number} was updated.", number)


def _purchase_matches(po: PurchaseOrder, q: dict[str, Any], flags: dict[str, bool]) -> bool:
    if q.get("purchaseNumber") is not None and po.number != q["purchaseNumber"]:
        return False
    if q.get("createDateFrom") is not None and po.created_at < q["createDateFrom"]:
        return False
    if q.get("createDateTo") is not None and po.created_at > q["createDateTo"]:
        return False
    if q.get("warehouse") is not None and po.warehouse_number != q["warehouse"]:
        return False
    for name in ("externalOrderNumber", "supplierOrderNumber"):
        if q.get(name) is not None and po.header.get(name) != q[name]:
            return False
    if q.get("supplierNumber") is not None and po.supplier_number != q["supplierNumber"]:
        return False
    if "isOpen" in flags and (po.status in ops.PURCHASE_OPEN) != flags["isOpen"]:
        return False
    return not ("isReceived" in flags and (po.status == "Delivered") != flags["isReceived"])


def list_purchases(call: Call) -> Any:
    b = call.rt.backend
    q = call.query
    flags = extra_flags(call, "isOpen", "isReceived")
    purchases = b.state.purchases
    dates = call.rt.dates.text
    return page_b(call, "purchaseOrderList",
                  lambda: sorted_by_number([n for n, po in purchases.items() if _purchase_matches(po, q, flags)]),
                  lambda n: render.purchase_list_item(purchases[n], dates) if n in purchases else None)


# ---------------------------------------------------------------------------------------------- ReturnOrders
def _return_input(call: Call) -> returns.ReturnInput:
    prefix = call.body_name
    body = call.body
    action_in = body.get("createAction") or {}
    header = body.get("header") or {}
    rows_in = body.get("rows") or []
    problems: list[tuple[str, str]] = []
    action = action_in.get("action") or "ReturnProducts"
    lines: list[returns.ReturnLineInput] = []
    if action == "ReturnRowsFromCustomerOrder":
        order_rows = action_in.get("orderRows") or []
        if not order_rows:
            problems.append((f"{prefix}.createAction.orderRows", "Name the rows of the order to return."))
        for i, r in enumerate(order_rows):
            path = f"{prefix}.createAction.orderRows[{i}]"
            quantity = whole(r["quantity"], f"{path}.quantity", problems) if r.get("quantity") is not None else None
            lines.append(returns.ReturnLineInput(path, quantity=quantity, order_position=r["position"],
                                                 return_code=r.get("returnCode")))
    elif action == "ReturnProducts":
        for i, r in enumerate(rows_in):
            path = f"{prefix}.rows[{i}]"
            sales = r["salesData"]
            quantity = whole(sales["quantity"], f"{path}.salesData.quantity", problems)
            if quantity is None:
                continue
            lines.append(returns.ReturnLineInput(
                path, product_number=r["productNumber"], quantity=quantity, unit=sales["unit"],
                unit_price=sales.get("unitPrice"), vat_percent=sales.get("vatPercent"), currency=sales.get("currency"),
                return_code=r.get("returnCode"), extra=_kept(r, RETURN_ROW_OWNED) or None))
    if problems:
        raise invalid(problems)
    return returns.ReturnInput(
        path=prefix, action=action, order_number=action_in.get("orderNumber"),
        order_path=f"{prefix}.createAction.orderNumber", return_code=action_in.get("returnCode"),
        warehouse=header.get("warehouse"), customer_number=header.get("customerNumber"),
        kind=header.get("returnType"), credit_action=header.get("creditInvoiceAction"), lines=lines,
        header=_kept(header, RETURN_HEADER_OWNED))


def post_return(call: Call) -> Any:
    b = call.rt.backend
    ret = returns.create_return(b, _return_input(call))
    call.record["resultKey"] = ret.number
    return render.return_full(b, ret, call.rt.dates.text)


def get_return(call: Call) -> Any:
    b = call.rt.backend
    return render.return_full(b, returns.get_return(b, call.path["id"]), call.rt.dates.text)


def _return_matches(ret: ReturnOrder, q: dict[str, Any], flags: dict[str, bool]) -> bool:
    if q.get("returnNumber") is not None and ret.number != q["returnNumber"]:
        return False
    if q.get("createDateFrom") is not None and ret.created_at < q["createDateFrom"]:
        return False
    if q.get("createDateTo") is not None and ret.created_at > q["createDateTo"]:
        return False
    if q.get("referenceOrderNumber") is not None and ret.reference_order != q["referenceOrderNumber"]:
        return False
    if q.get("warehouse") is not None and ret.warehouse_number != q["warehouse"]:
        return False
    if q.get("customerNumber") is not None and ret.customer_number != q["customerNumber"]:
        return False
    if "isOpen" in flags and (ret.status in returns.RETURN_OPEN) != flags["isOpen"]:
        return False
    return not ("isReceived" in flags and (ret.status == "Received") != flags["isReceived"])


def list_returns(call: Call) -> Any:
    b = call.rt.backend
    q = call.query
    flags = extra_flags(call, "isOpen", "isReceived")
    stored = b.state.returns
    dates = call.rt.dates.text
    return page_b(call, "returnOrderList",
                  lambda: sorted_by_number([n for n, r in stored.items() if _return_matches(r, q, flags)]),
                  lambda n: render.return_list_item(b, stored[n], dates) if n in stored else None)


def list_return_codes(call: Call) -> Any:
    return render.return_row_codes()
