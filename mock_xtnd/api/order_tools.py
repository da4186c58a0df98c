"""The order helpers: CustomerOrderATP (what can be promised per row), CustomerOrderCampaignProcessor (the prices an
order would get), AgreedOrderAvailability (what is left on agreed orders), CustomerOrderProjects and
CustomerOrderReasonCodes (reference lists). None of them changes anything: docs/wire.md, "Order helpers"."""

from __future__ import annotations

from typing import Any

from ..domain.backend import DAY_MS, INT32_MAX, INT32_MIN, RowInput, sorted_by_number
from ..domain.errors import refused
from ..domain.models import Product
from . import render
from .call import Call
from .errors import invalid
from .orders import order_input
from .paging import page_b

OPEN = ("Created", "Reserved", "PartiallyDelivered")


def _rows(call: Call) -> tuple[dict[str, Any], list[tuple[int, RowInput, dict[str, Any], Product, str]]]:
    """The header as sent and the active rows: (position, input, the row as sent, product, warehouse); every
    product and warehouse checked."""
    b = call.rt.backend
    data = order_input(call, call.body)
    header = call.body["orderHeader"]
    out = []
    for i, (given, sent) in enumerate(zip(data.rows or [], call.body["orderRows"], strict=True)):
        if not given.active:
            continue
        product = b.state.products.get(given.product_number)
        if product is None:
            raise refused(f"Product '{given.product_number}' does not exist.", f"{given.path}.product.productNumber")
        if given.quantity <= 0:
            raise invalid([(f"{given.path}.salesData.quantity", "Must be greater than 0.")])
        warehouse = given.warehouse or b.default_warehouse
        b.warehouse(warehouse, f"{given.path}.warehouse")
        out.append((i + 1, given, sent, product, warehouse))
    if not out:
        raise invalid([(f"{call.body_name}.orderRows", "At least one active order row is required.")])
    return header, out


def _customer(call: Call, header: dict[str, Any], required: bool) -> Any:
    number = header.get("customerNumber")
    if number is None:
        if required:
            raise invalid([(f"{call.body_name}.orderHeader.customerNumber", "The customerNumber field is required.")])
        return None
    return call.rt.backend.order_customer(number, call.body_name)


def _sales(sent: dict[str, Any]) -> dict[str, Any]:
    return render.fill("QuantityAndUnitWithPrice", sent["salesData"])


def post_atp(call: Call) -> Any:
    """Per row: the available balance left for it (after the rows before it in the same order), and when it can be
    delivered: Physical (from stock, on the asked date or in two days), Purchase (when enough of the open
    purchases has arrived: the first receiving date that covers it), or NotAllocated (no date)."""
    b = call.rt.backend
    header, rows = _rows(call)
    _customer(call, header, required=False)
    dates = call.rt.dates.text
    asked = header.get("askedDeliveryDate")
    default_date = asked if asked is not None else call.now + 2 * DAY_MS
    taken: dict[tuple[str, str], int] = {}
    out = []
    for position, given, sent, product, warehouse in rows:
        key = (product.number, warehouse)
        available = b.stock_item(*key).available - taken.get(key, 0)
        taken[key] = taken.get(key, 0) + given.quantity
        status, when = "NotAllocated", None
        if given.quantity <= available:
            status, when = "Physical", default_date
        else:
            arrivals = sorted((po.expected_at if po.expected_at is not None else po.created_at,
                               po.lines.get(product.number, 0))
                              for po in (b.state.purchases[n] for n in b.incoming.get(key, ())))
            covered = available
            for at, quantity in arrivals:
                covered += quantity
                if covered >= given.quantity:
                    status, when = "Purchase", max(at, default_date)
                    break
        out.append(render.preview_row(b, position, product, sent, dates, {
            "rowOperation": "Active", "salesData": _sales(sent), "warehouse": warehouse,
            "availableBalance": max(INT32_MIN, min(INT32_MAX, available)), "allocationStatus": status,
            "expectedDeliveryDate": dates(when) if when is not None else None}))
    return render.order_preview(header, out, dates)


def post_campaign(call: Call) -> Any:
    """The prices the order would get now: per row the customer's net best price, from the same price book as
    ProductPrices (price list, group discounts, campaigns running now); a row priced by a discount list or a campaign
    says so in rowPromotion."""
    b = call.rt.backend
    header, rows = _rows(call)
    customer = _customer(call, header, required=True)
    dates = call.rt.dates.text
    out = []
    for position, given, sent, product, warehouse in rows:
        if product.status != "Active":
            raise refused(f"Product '{product.number}' cannot be sold ({product.status}).",
                          f"{given.path}.product.productNumber")
        best = b.best_price(customer, product, call.now)
        promoted = best.source != "PriceList"
        out.append(render.preview_row(b, position, product, sent, dates, {
            "rowOperation": "Active", "warehouse": warehouse,
            "salesData": render.fill("QuantityAndUnitWithPrice", {
                "quantity": float(given.quantity), "unit": given.unit, "unitPrice": best.price,
                "vatPercent": float(product.vat_rate), "currency": best.currency}),
            "rowPromotion": render.fill("CustomerOrderRowPromotion", {
                "isResultOfPromotion": promoted, "promotionName": best.code if promoted else None})}))
    answer = render.order_preview(header, out, dates)
    answer["orderHeader"]["promotion"] = render.fill("CustomerOrderHeaderPromotion", {
        "usePromotions": True, "promotionCode": (header.get("promotion") or {}).get("promotionCode")})
    answer["orderHeader"]["customerNumber"] = customer.number
    return answer


def list_agreed(call: Call) -> Any:
    """One item per customer with open agreed orders (orderType AgreedOrder): per row what was agreed (salesData)
    and what has been delivered so far (deliveryData)."""
    b = call.rt.backend
    wanted = call.query.get("customerNumber")
    dates = call.rt.dates.text
    by_customer: dict[str, list[str]] = {}
    for number, order in b.state.orders.items():
        if order.header.get("orderType") == "AgreedOrder" and order.status in OPEN \
                and (wanted is None or order.customer_number == wanted):
            by_customer.setdefault(order.customer_number, []).append(number)

    def one(customer: str) -> dict[str, Any] | None:
        numbers = [n for n in sorted_by_number(by_customer.get(customer, [])) if n in b.state.orders]
        return render.agreed_availability(b, customer, [b.state.orders[n] for n in numbers], dates)

    return page_b(call, "agreedOrderAvailabilityList", lambda: sorted_by_number(list(by_customer)), one)


def list_projects(call: Call) -> Any:
    return render.order_projects()


def list_reason_codes(call: Call) -> Any:
    return render.order_reason_codes()
