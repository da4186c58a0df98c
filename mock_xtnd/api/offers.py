"""Offers: list (scheme B), read, change (docs/wire.md, "Offers")."""

from __future__ import annotations

from typing import Any

from ..domain import backoffice as ops
from ..domain.backend import sorted_by_number
from ..domain.errors import refused
from ..domain.models import Offer
from . import render
from .call import Call
from .errors import invalid
from .paging import page_b
from .purchasing import whole

HEADER_OWNED = frozenset({"offerNumber", "offerDate", "changeDate", "customerNumber", "offerStatus", "validToDate"})
ROW_OWNED = frozenset({"position", "product", "salesData", "warehouse", "supplyMode"})


def _matches(b: Any, offer: Offer, q: dict[str, Any]) -> bool:
    if q.get("offerNumber") is not None and offer.number != q["offerNumber"]:
        return False
    if q.get("offerStatus") is not None and offer.status != q["offerStatus"]:
        return False
    if q.get("offerDateFrom") is not None and offer.created_at < q["offerDateFrom"]:
        return False
    if q.get("offerDateTo") is not None and offer.created_at > q["offerDateTo"]:
        return False
    if q.get("customerNumber") is not None and offer.customer_number != q["customerNumber"]:
        return False
    if q.get("orderNumber") is not None and offer.header.get("orderNumber") != q["orderNumber"]:
        return False
    if q.get("customerName") is not None:
        customer = b.state.customers.get(offer.customer_number)
        if customer is None or q["customerName"].lower() not in customer.name.lower():
            return False
    return True


def list_offers(call: Call) -> Any:
    b = call.rt.backend
    q = call.query
    offers = b.state.offers
    dates = call.rt.dates.text
    return page_b(call, "offerItemList",
                  lambda: sorted_by_number([n for n, o in offers.items() if _matches(b, o, q)]),
                  lambda n: render.offer_list_item(b, offers[n], dates) if n in offers else None)


def get_offer(call: Call) -> Any:
    b = call.rt.backend
    return render.offer_full(b, ops.get_offer(b, call.path["id"]), call.rt.dates.text, call.now)


def put_offer(call: Call) -> Any:
    """CustomSuccess; the offer reads back with its changes: rows replace the rows (their unitPrice becomes the offer's price),
    offerStatus moves it (Accepted, Rejected and Cancelled are final), validToDate and the kept header fields are
    replaced; OfferChanged. Only an open offer (Created, Sent, Resting) changes."""
    b = call.rt.backend
    number = call.path["id"]
    prefix = call.body_name
    header = call.body["offerHeader"]
    given = header.get("offerNumber")
    if given is not None and given != number:
        raise refused(f"The offerNumber in the body ({given}) differs from the path ({number}).",
                      f"{prefix}.offerHeader.offerNumber")
    problems: list[tuple[str, str]] = []
    lines: dict[str, int] = {}
    prices: dict[str, float] = {}
    row_extra: dict[str, dict[str, Any]] = {}
    rows = call.body["offerRows"]
    if not rows:
        problems.append((f"{prefix}.offerRows", "At least one row is required."))
    for i, row in enumerate(rows):
        path = f"{prefix}.offerRows[{i}]"
        pn = (row.get("product") or {}).get("productNumber")
        if pn is None:
            problems.append((f"{path}.product.productNumber", "The productNumber field is required."))
            continue
        if row.get("warehouse") is not None:  # an unknown warehouse is refused, as on an order row
            b.warehouse(row["warehouse"], f"{path}.warehouse")
        sales = row.get("salesData")
        if sales is None:
            problems.append((f"{path}.salesData", "The salesData field is required."))
            continue
        quantity = whole(sales["quantity"], f"{path}.salesData.quantity", problems)
        if quantity is None:
            continue
        lines[pn] = lines.get(pn, 0) + quantity
        if sales.get("unitPrice") is not None:
            if sales["unitPrice"] < 0:
                problems.append((f"{path}.salesData.unitPrice", "Must be 0 or more."))
            prices[pn] = sales["unitPrice"]
        kept = {k: v for k, v in row.items() if k not in ROW_OWNED and v is not None}
        if kept:
            row_extra[pn] = kept
    if problems:
        raise invalid(problems)
    offer = b.state.offers.get(number)
    status = header.get("offerStatus")
    ops.change_offer(b, number, lines=lines, prices=prices, row_extra=row_extra,
                     status=status if offer is None or status != offer.status else None,
                     valid_to=header["validToDate"], customer_number=header["customerNumber"],
                     header={k: v for k, v in header.items() if k not in HEADER_OWNED and v is not None},
                     field=f"{prefix}.offerRows", status_field=f"{prefix}.offerHeader.offerStatus")
    call.record["resultKey"] = number
    return render.custom_success(f"Offer {number} was updated.", number)
