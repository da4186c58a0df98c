"""CustomerOrders: list (scheme A), create, read, change, cancel (docs/wire.md, "CustomerOrders")."""

from __future__ import annotations

from typing import Any

from ..domain.backend import INT32_MAX, INT32_MIN, OrderInput, RowInput, sorted_by_number
from ..domain.models import Order
from . import render
from .call import Call
from .errors import TIMEOUT, ApiError, invalid
from .paging import page_a

# Header fields the server owns: a value sent for them is ignored
SERVER_HEADER = frozenset({"orderNumber", "orderStatus", "orderDate", "shipments", "customerInvoices"})
INTERPRETED_HEADER = frozenset({"orderNumberExternal", "customerNumber", "askedDeliveryDate"})
# Row fields the fake interprets or fills itself; the rest of a row is kept and answered back
ROW_OWNED = frozenset({"product", "salesData", "warehouse", "rowOperation", "position", "orderRowStatus",
                       "allocationStatus", "orderRowId", "shipmentNumber", "shipDate", "deliveryData",
                       "availableBalance", "expectedDeliveryDate"})


def order_input(call: Call, body: dict[str, Any]) -> OrderInput:
    """The validated CustomerOrder body as the domain's input; whole-unit quantities checked here."""
    prefix = call.body_name
    header = body.get("orderHeader") or {}
    rows_in = body.get("orderRows")
    problems: list[tuple[str, str]] = []
    rows: list[RowInput] | None = None
    if rows_in is not None:
        rows = []
        for i, row in enumerate(rows_in):
            path = f"{prefix}.orderRows[{i}]"
            sales = row["salesData"]
            quantity = sales["quantity"]
            if quantity != int(quantity):
                problems.append((f"{path}.salesData.quantity", "The quantity must be a whole number of units."))
                continue
            if not INT32_MIN <= quantity <= INT32_MAX:
                problems.append((f"{path}.salesData.quantity", "The quantity must fit a 32-bit integer."))
                continue
            extra = {k: v for k, v in row.items() if k not in ROW_OWNED and v is not None}
            rows.append(RowInput(
                product_number=row["product"]["productNumber"], quantity=int(quantity), unit=sales["unit"],
                path=path, unit_price=sales.get("unitPrice"), vat_percent=sales.get("vatPercent"),
                currency=sales.get("currency"), warehouse=row.get("warehouse"),
                active=row.get("rowOperation") != "Inactive", extra=extra or None))
    if problems:
        raise invalid(problems)
    kept = {k: v for k, v in header.items()
            if k not in SERVER_HEADER and k not in INTERPRETED_HEADER and v is not None}
    external = header.get("orderNumberExternal")
    return OrderInput(path=prefix, customer_number=header.get("customerNumber"),
                      # a blank orderNumberExternal means none: it cannot identify the webshop's order (chosen)
                      external_number=external if external is not None and external.strip() else None,
                      asked_delivery_date=header.get("askedDeliveryDate"), rows=rows, header=kept,
                      given=frozenset(k for k, v in header.items() if v is not None))


def _dates(call: Call) -> Any:
    return call.rt.dates.text


def post_order(call: Call) -> Any:
    order = call.rt.backend.create_order(order_input(call, call.body))
    call.record["resultKey"] = order.number
    return render.order_full(call.rt.backend, order, _dates(call))


def get_order(call: Call) -> Any:
    b = call.rt.backend
    return render.order_full(b, b.order(call.path["id"]), _dates(call))


def put_order(call: Call) -> Any:
    number = call.path["id"]
    call.rt.backend.update_order(number, order_input(call, call.body))
    call.record["resultKey"] = number
    return render.custom_success(f"Order {number} was updated.", number)


def delete_order(call: Call) -> Any:
    number = call.path["id"]
    call.rt.backend.cancel_order(number, "webshop")
    call.record["resultKey"] = number
    return render.custom_success(f"Order {number} was cancelled.", number)


def _matches(order: Order, q: dict[str, Any], b: Any) -> bool:
    if q.get("orderNumber") is not None and order.number != q["orderNumber"]:
        return False
    if q.get("orderNumberExternal") is not None and order.external_number != q["orderNumberExternal"]:
        return False
    if q.get("orderStatus") is not None and order.status != q["orderStatus"]:
        return False
    if q.get("supplyMode") not in (None, "Warehouse"):
        return False  # every row of the fake's orders is supplied from a warehouse
    if q.get("orderDateFrom") is not None and order.created_at < q["orderDateFrom"]:
        return False
    for to in ("orderDateTo", "endDate"):
        if q.get(to) is not None and order.created_at > q[to]:
            return False
    if q.get("askedDeliveryDate") is not None and order.asked_delivery_date != q["askedDeliveryDate"]:
        return False
    if q.get("customerNumber") is not None and order.customer_number != q["customerNumber"]:
        return False
    if q.get("modifiedDateFrom") is not None and order.changed_at < q["modifiedDateFrom"]:
        return False
    customer = b.state.customers.get(order.customer_number)
    if q.get("customerName") is not None and (
            customer is None or q["customerName"].lower() not in customer.name.lower()):
        return False
    if q.get("companyGroup") is not None and (customer is None or customer.customer_group != q["companyGroup"]):
        return False
    if q.get("deliveryCountryCode") is not None:
        country = (order.header.get("deliveryAddress") or {}).get("countryCode") or (
            render.country_code(customer.delivery_address.country_code) if customer else None)
        if country != q["deliveryCountryCode"]:
            return False
    if q.get("productNumber") is not None and all(r.product_number != q["productNumber"] for r in order.rows):
        return False
    if q.get("productName") is not None and all(q["productName"].lower() not in r.product_name.lower()
                                                for r in order.rows):
        return False
    if q.get("warehouse") is not None and all(r.warehouse != q["warehouse"] for r in order.rows):
        return False
    if q.get("invoiceNumber") is not None and q["invoiceNumber"] not in order.invoice_numbers:
        return False
    shipping = q.get("shippingNumber")
    return shipping is None or any(shipping == s.number or shipping in s.packages for s in order.shipments)


def list_orders(call: Call) -> Any:
    b = call.rt.backend
    q = call.query
    if call.rt.settings.quirks.orders_list_needs_modified_date and q.get("modifiedDateFrom") is None \
            and q.get("orderNumber") is None and q.get("orderNumberExternal") is None:
        # a real tenant's order table is too large to list without a change date: the query times out
        call.record["quirk"] = "orders-list-timeout"
        raise ApiError(400, TIMEOUT, kind="Transient")

    def select() -> list[str]:
        return sorted_by_number([n for n, o in b.state.orders.items() if _matches(o, q, b)])

    dates = _dates(call)
    return [render.order_list_item(b, b.state.orders[n], dates) for n in page_a(call, select)]
