"""CustomerInvoices (list, read) and CustomerOrderInvoices (an order delivered and invoiced at once): docs/wire.md,
"CustomerInvoices"."""

from __future__ import annotations

from typing import Any

from ..domain import backoffice as ops
from ..domain.backend import DAY_MS, sorted_by_number
from ..domain.models import CustomerInvoice
from . import render
from .call import Call
from .orders import order_input
from .paging import page_b

# filters that name one day (createDate, invoiceDate, dueDate): the same UTC calendar day (chosen)
DAY_FILTERS = (("createDate", "created_at"), ("invoiceDate", "created_at"), ("dueDate", "due_at"))


def _matches(b: Any, inv: CustomerInvoice, q: dict[str, Any]) -> bool:
    for name, value in (("invoiceNumber", inv.number), ("customerNumber", inv.customer_number),
                        ("ocrNumber", inv.ocr), ("orderNumber", inv.order_number),
                        ("invoiceStatus", inv.status), ("invoiceType", inv.kind)):
        if q.get(name) is not None and value != q[name]:
            return False
    for name, attr in DAY_FILTERS:
        if q.get(name) is not None and getattr(inv, attr) // DAY_MS != q[name] // DAY_MS:
            return False
    if q.get("changeDateFrom") is not None and inv.changed_at < q["changeDateFrom"]:
        return False
    if q.get("changeDateTo") is not None and inv.changed_at > q["changeDateTo"]:
        return False
    # what every invoice of the fake has in common (render.invoice_list_item)
    fixed: tuple[tuple[str, object], ...] = (("isAllowedToSend", True), ("sendSystem", render.INVOICE_SEND_SYSTEM),
                                             ("exported", False), ("isAggregated", False))
    for name, fixed_value in fixed:
        if q.get(name) is not None and q[name] != fixed_value:
            return False
    if q.get("buyerGLN") is not None:
        return False  # the seeded customers have no GLN
    if any(q.get(k) is not None for k in ("orderNumberExternal", "orderNumberEndCustomer")):
        order = b.state.orders.get(inv.order_number or "")
        if order is None:
            return False
        if q.get("orderNumberExternal") is not None and order.external_number != q["orderNumberExternal"]:
            return False
        if q.get("orderNumberEndCustomer") is not None and \
                order.header.get("orderNumberEndCustomer") != q["orderNumberEndCustomer"]:
            return False
    if q.get("buyerOrganizationNumber") is not None:
        customer = b.state.customers.get(inv.customer_number)
        if customer is None or customer.org_number != q["buyerOrganizationNumber"]:
            return False
    return True


def list_invoices(call: Call) -> Any:
    b = call.rt.backend
    q = call.query
    invoices = b.state.invoices
    dates = call.rt.dates.text

    def select() -> list[str]:
        if not any(v is not None for k, v in q.items() if k != "pageNumber"):
            return sorted_by_number(list(invoices))
        return sorted_by_number([n for n, inv in invoices.items() if _matches(b, inv, q)])

    return page_b(call, "customerInvoiceList", select,
                  lambda n: render.invoice_list_item(b, invoices[n], dates) if n in invoices else None)


def get_invoice(call: Call) -> Any:
    b = call.rt.backend
    invoice = ops.invoice(b, call.path["id"])
    return render.invoice_full(b, invoice, call.rt.dates.text, call.rt.settings.company)


def post_order_invoice(call: Call) -> Any:
    b = call.rt.backend
    invoice = b.deliver_and_invoice(order_input(call, call.body))
    call.record["resultKey"] = invoice.number
    return {"invoiceNumber": invoice.number}
