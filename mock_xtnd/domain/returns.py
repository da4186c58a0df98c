"""Return orders: goods a customer sends back (POST ReturnOrders), expected in ProductAvailability
(``totalExpectedReceivingFromReturn``) until the back office receives them, which puts them back on hand
(BalanceChanged, AvailableBalanceChanged, a CorrectionIntake in the ledger's history) and, when the return names an
order and its credit action says so, makes a credit invoice (CustomerInvoiceCreated). XTND has no hook for returns
themselves. Chosen by the mock where the vendor says nothing (docs/wire.md, "ReturnOrders").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .backend import INT32_MAX, Backend
from .errors import bad_request, not_found, refused, unprocessable
from .models import InvoiceRow, Order, ReturnOrder, ReturnRow
from .reference import RETURN_ROW_CODES

RETURN_OPEN = ("Ordered", "PartiallyReceived")
RETURN_CODES = {code for code, _ in RETURN_ROW_CODES}
CREDIT_ACTIONS = ("Immediate", "WhenReceived")


@dataclass(slots=True)
class ReturnLineInput:
    """One row of a return as the request gives it; ``path`` is where it sits in the body (for errors)."""

    path: str
    product_number: str | None = None
    quantity: int | None = None
    unit: str | None = None
    unit_price: float | None = None
    vat_percent: float | None = None
    currency: str | None = None
    return_code: str | None = None
    order_position: int | None = None  # a row of the referenced customer order
    extra: dict[str, Any] | None = None


@dataclass(slots=True)
class ReturnInput:
    path: str
    action: str  # ReturnCompleteCustomerOrder | ReturnRowsFromCustomerOrder | ReturnProducts
    order_number: str | None = None
    order_path: str = ""
    return_code: str | None = None
    warehouse: str | None = None
    customer_number: str | None = None
    kind: str | None = None
    credit_action: str | None = None
    lines: list[ReturnLineInput] = field(default_factory=list)
    header: dict[str, Any] = field(default_factory=dict)


def get_return(b: Backend, number: str) -> ReturnOrder:
    ret = b.state.returns.get(number)
    if ret is None:
        raise not_found("Return order", number, "returnNumber")
    return ret


def _returned_already(b: Backend, order_number: str) -> dict[int, int]:
    """Per position of the order: units on returns that are not cancelled."""
    out: dict[int, int] = {}
    for ret in b.state.returns.values():
        if ret.reference_order == order_number and ret.status != "Cancelled":
            for row in ret.rows:
                if row.reference_position is not None:
                    out[row.reference_position] = out.get(row.reference_position, 0) + row.quantity
    return out


def _check_code(code: str | None, where: str) -> None:
    if code is not None and code not in RETURN_CODES:
        raise bad_request(f"Unknown return code '{code}'.",
                          (where, f"One of {', '.join(sorted(RETURN_CODES))} (ReturnOrderRowCodes)."))


def create_return(b: Backend, data: ReturnInput) -> ReturnOrder:
    """Register a return: of a whole order, of some of its rows, or of products with no order. Only what was
    picked and not yet returned can come back from an order."""
    _check_code(data.return_code, f"{data.path}.createAction.returnCode")
    order: Order | None = None
    if data.action in ("ReturnCompleteCustomerOrder", "ReturnRowsFromCustomerOrder"):
        if not data.order_number:
            raise bad_request("Name the order to return.", (data.order_path, "The orderNumber field is required."))
        order = b.state.orders.get(data.order_number)
        if order is None:
            raise refused(f"Order '{data.order_number}' does not exist.", data.order_path)
    if data.customer_number is not None and order is not None and data.customer_number != order.customer_number:
        raise refused(f"Order {order.number} is customer {order.customer_number}'s, not {data.customer_number}'s.",
                      f"{data.path}.header.customerNumber")
    if data.customer_number is not None and data.customer_number not in b.state.customers:
        raise refused(f"Customer '{data.customer_number}' does not exist.", f"{data.path}.header.customerNumber")
    warehouse = data.warehouse or (order.warehouse if order is not None else b.default_warehouse)
    b.warehouse(warehouse, f"{data.path}.header.warehouse")
    rows: list[ReturnRow] = []
    if order is not None:
        done = _returned_already(b, order.number)
        by_position = {r.position: r for r in order.rows}
        if data.action == "ReturnCompleteCustomerOrder":
            # what was delivered and not yet returned: rows already returned in full are left out
            wanted = [ReturnLineInput(data.order_path, order_position=r.position) for r in order.rows
                      if r.picked - done.get(r.position, 0) > 0]
        else:
            wanted = data.lines
        if not wanted:
            raise refused(f"Nothing of order {order.number} is left to return: nothing was delivered, or all of it "
                          "was returned already.",
                          data.order_path)
        for line in wanted:
            _check_code(line.return_code, f"{line.path}.returnCode")
            row = by_position.get(line.order_position or 0)
            if row is None:
                raise refused(f"Order {order.number} has no row at position {line.order_position}.",
                              f"{line.path}.position")
            left = row.picked - done.get(row.position, 0)
            quantity = line.quantity if line.quantity is not None else left
            if quantity <= 0 or quantity > left:
                if left <= 0:
                    raise refused(f"Row {row.position} of order {order.number} has nothing left to return.",
                                  f"{line.path}.position")
                raise refused(f"Row {row.position} of order {order.number}: {quantity} cannot be returned; "
                              f"{left} delivered and not yet returned.", f"{line.path}.quantity")
            done[row.position] = done.get(row.position, 0) + quantity
            rows.append(ReturnRow(len(rows) + 1, "", row.product_number, row.product_name, quantity, row.unit,
                                  row.unit_price, row.vat_percent, row.currency,
                                  line.return_code or data.return_code, row.position, extra=line.extra))
    else:
        if not data.lines:
            raise bad_request("A return of products needs at least one row.",
                              (f"{data.path}.rows", "At least one row is required."))
        for line in data.lines:
            _check_code(line.return_code, f"{line.path}.returnCode")
            product = b.state.products.get(line.product_number or "")
            if product is None:
                raise refused(f"Product '{line.product_number}' does not exist.", f"{line.path}.productNumber")
            if line.quantity is None or line.quantity <= 0:
                raise bad_request("The quantity must be greater than 0.",
                                  (f"{line.path}.salesData.quantity", "Must be greater than 0."))
            rows.append(ReturnRow(len(rows) + 1, "", product.number, product.name, line.quantity,
                                  line.unit or product.unit, line.unit_price, line.vat_percent, line.currency,
                                  line.return_code or data.return_code, extra=line.extra))
    expected: dict[str, int] = {}
    for made in rows:
        expected[made.product_number] = expected.get(made.product_number, 0) + made.quantity
    for pn, qty in expected.items():
        if b.expected_return(pn, warehouse) + qty > INT32_MAX:
            raise bad_request(f"Product '{pn}' would be expected back past a 32-bit integer.",
                              (f"{data.path}.rows", f"At most {INT32_MAX} expected in all."))
    kind = data.kind or ("ReturnOrderKnown" if order is not None else "ReturnOrderUnknown")
    now = b.now()
    with b.unit_of_work():
        for made in rows:
            made.row_id = b.ids.guid("return-row")
        number = str(b.ids.next("return", start=300001))
        while number in b.state.returns:
            number = str(b.ids.next("return", start=300001))
        ret = ReturnOrder(number, warehouse, kind, "Ordered",
                          data.customer_number or (order.customer_number if order is not None else None),
                          order.number if order is not None else None, rows, now, now,
                          credit_action=data.credit_action or "WhenReceived", header=dict(data.header))
        b.touch("return", number, ret)
        b.state.returns[number] = ret
        b.return_changed(ret)
        if ret.credit_action == "Immediate":
            credit(b, ret)  # credited for all it returns, before anything arrives
    return ret


def receive_return(b: Backend, number: str, quantity: int | None = None) -> ReturnOrder:
    """The goods arrive: ``quantity`` units (all still expected when None), row by row. They go back on hand
    (BalanceChanged, AvailableBalanceChanged); once all has arrived the return is Received and, when it names an
    order and a customer and its credit action is WhenReceived, credited (CustomerInvoiceCreated; an Immediate
    return was credited when registered)."""
    ret = get_return(b, number)
    if ret.status not in RETURN_OPEN:
        raise unprocessable(f"Return order {number} is {ret.status}; nothing more can arrive.",
                            ("returnNumber", ret.status))
    if quantity is not None and quantity <= 0:
        raise bad_request("The quantity must be greater than 0.", ("quantity", "Must be > 0."))
    left = sum(r.expected for r in ret.rows) if quantity is None else quantity
    arriving: list[tuple[ReturnRow, int]] = []
    for row in ret.rows:
        take = min(row.expected, left)
        if take > 0:
            arriving.append((row, take))
            left -= take
    moves: dict[tuple[str, str], tuple[int, int]] = {}
    for row, take in arriving:
        key = (row.product_number, ret.warehouse_number)
        moves[key] = (moves.get(key, (0, 0))[0] + take, 0)
    b.check_stock(moves)
    with b.unit_of_work():
        b.touch("return", number, ret)
        for row, take in arriving:
            row.received += take
        ret.status = "Received" if all(r.expected == 0 for r in ret.rows) else "PartiallyReceived"
        ret.changed_at = b.now()
        b.return_changed(ret)
        b.move_stock(moves, "CorrectionIntake")
        if ret.status == "Received":
            credit(b, ret)
    return ret


def credit(b: Backend, ret: ReturnOrder) -> None:
    """The credit invoice of a return (inside its unit of work), when one is due and it has a customer: Immediate
    credits all the return holds when it is registered; WhenReceived what arrived, once all has arrived or the rest
    was cancelled; Manual and Never make none (chosen by the mock: XTND's credit actions, no vendor text on them)."""
    if ret.credit_invoice is not None or ret.credit_action not in CREDIT_ACTIONS or ret.customer_number is None:
        return
    order = b.state.orders.get(ret.reference_order or "")
    immediate = ret.credit_action == "Immediate"
    rows = [InvoiceRow(i + 1, r.product_number, r.product_name, -(r.quantity if immediate else r.received), r.unit,
                       r.unit_price or 0.0, r.vat_percent if r.vat_percent is not None else 25.0, r.currency or "SEK")
            for i, r in enumerate(ret.rows) if (r.quantity if immediate else r.received)]
    if not rows:
        return
    if order is not None:
        b.touch("order", order.number, order)
    invoice = b.create_invoice("ReturnOrderCredit", ret.customer_number, order, rows, return_number=ret.number)
    ret.credit_invoice = invoice.number
    if order is not None:
        order.invoice_numbers.append(invoice.number)


def cancel_return(b: Backend, number: str) -> ReturnOrder:
    """What has not arrived will not come (what arrived stays on hand)."""
    ret = get_return(b, number)
    if ret.status not in RETURN_OPEN:
        raise unprocessable(f"Return order {number} is {ret.status}; it cannot be cancelled.",
                            ("returnNumber", ret.status))
    with b.unit_of_work():
        b.touch("return", number, ret)
        ret.status = "Cancelled"
        ret.changed_at = b.now()
        b.return_changed(ret)
        credit(b, ret)  # what did arrive is credited
    return ret
