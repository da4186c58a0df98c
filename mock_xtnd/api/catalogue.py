"""Products (scheme A, one row per product per warehouse), ProductAvailability (scheme B and one item), ProductPrices
(scheme B) and WarehouseStockLevels (scheme B, adjust, set): docs/wire.md."""

from __future__ import annotations

from typing import Any

from ..domain.errors import not_found, refused
from ..domain.models import Product
from . import render
from .call import Call, RawJson
from .errors import invalid
from .paging import page_a, page_b, page_b_json


# ---------------------------------------------------------------------------------------------- Products
def _product_matches(p: Product, q: dict[str, Any], misses_new: bool) -> bool:
    if q.get("productNumber") is not None and p.number != q["productNumber"]:
        return False
    if q.get("productName") is not None and q["productName"].lower() not in p.name.lower():
        return False
    if q.get("supplyMode") not in (None, "Warehouse"):
        return False  # the seeded catalogue is all warehouse stock
    if q.get("supplierNumber") is not None and q["supplierNumber"] != f"SA-{p.group}":
        return False
    if q.get("supplierProductNumber") is not None and q["supplierProductNumber"] != f"S-{p.number}":
        return False
    since = q.get("modifiedDateFrom")
    if since is not None:
        if p.changed_at < since:
            return False
        if misses_new and p.changed_at == p.created_at:
            return False  # the observed quirk: never changed since it was created, so not "modified"
    return not (q.get("modifiedDateTo") is not None and p.changed_at > q["modifiedDateTo"])


def list_products(call: Call) -> Any:
    b = call.rt.backend
    q = call.query
    warehouse = q.get("warehouse")
    if warehouse is not None:
        b.warehouse(warehouse)
    quirk = call.rt.settings.quirks.products_modified_misses_new and q.get("modifiedDateFrom") is not None
    warehouses = [warehouse] if warehouse is not None else sorted(b.state.warehouses)
    missed = []

    def select() -> list[tuple[str, str]]:
        if q.get("productNumber") is not None:
            numbers = [q["productNumber"]] if q["productNumber"] in b.state.products else []
        else:
            numbers = b.sorted_product_numbers()
        if not any(q.get(k) is not None for k in ("productNumber", "productName", "supplyMode", "supplierNumber",
                                                    "supplierProductNumber", "modifiedDateFrom", "modifiedDateTo")):
            kept = numbers
        else:
            kept = []
            for n in numbers:
                p = b.state.products[n]
                if _product_matches(p, q, quirk):
                    kept.append(n)
                elif quirk and _product_matches(p, q, False):
                    missed.append(n)
        return [(n, wh) for n in kept for wh in warehouses if (n, wh) in b.state.stock]

    page = page_a(call, select)
    if missed:
        call.record["quirk"] = "products-missing-new"
    dates = call.rt.dates.text
    return [render.product_list_item(b.state.products[n], b.state.stock[(n, wh)], dates) for n, wh in page]


def get_product(call: Call) -> Any:
    b = call.rt.backend
    return render.product_full(b, b.product(call.path["id"]), call.rt.dates.text)


# ---------------------------------------------------------------------------------------------- ProductAvailability
def list_availability(call: Call) -> Any:
    b = call.rt.backend
    q = call.query
    warehouse = q.get("warehouse")
    product = q.get("productNumber")
    since = q.get("modifiedDateFrom")
    if warehouse is not None:
        b.warehouse(warehouse)
    stock = b.state.stock

    def select() -> list[tuple[str, str]]:
        if product is not None:
            keys = [(product, wh) for wh in sorted(b.state.warehouses) if (product, wh) in stock]
        elif since is not None:
            keys = sorted(k for k in b.stock_changes.since(since) if stock[k].changed_at >= since)
        else:
            keys = b.sorted_stock_keys()
        if warehouse is not None:
            keys = [k for k in keys if k[1] == warehouse]
        if since is not None and product is not None:
            keys = [k for k in keys if stock[k].changed_at >= since]
        return keys

    row = render.availability_rows(b, call.rt.dates.text)
    return page_b_json(call, "productAvailabilityList", select,
                       lambda keys: [row(stock[k]) for k in keys if k in stock])


def get_availability(call: Call) -> Any:
    """``GET ProductAvailability/{productNumber}/{warehouse}`` (observed in a production client, not in the Swagger)."""
    b = call.rt.backend
    pn, wh = call.path["productNumber"], call.path["warehouse"]
    b.product(pn)
    if wh not in b.state.warehouses:
        raise not_found("Warehouse", wh, "warehouse")
    return RawJson(render.availability_json(b, b.stock_item(pn, wh), call.rt.dates.text).encode())


# ---------------------------------------------------------------------------------------------- ProductPrices
def list_prices(call: Call) -> Any:
    b = call.rt.backend
    q = call.query
    number = q.get("customerNumber")
    if not number:
        raise invalid([("customerNumber", "The customerNumber field is required.")])
    customer = b.state.customers.get(number)
    if customer is None:
        raise refused(f"Customer '{number}' does not exist.", "customerNumber")
    wanted = list(dict.fromkeys(q.get("productNumberList") or ()))
    limit = call.rt.settings.max_price_products
    if len(wanted) > limit:
        raise invalid([("productNumberList", f"At most {limit} product numbers per call; got {len(wanted)}.")])
    currency = q.get("currency")

    def select() -> list[str]:
        if currency is not None and currency.upper() != customer.currency:
            return []
        if wanted:
            return [pn for pn in wanted if pn in b.state.products]
        return b.sorted_product_numbers()

    now = call.now

    def one(pn: str) -> dict[str, Any]:
        p = b.state.products[pn]
        return render.price_item(p, b.best_price(customer, p, now))

    return page_b(call, "productPriceItemList", select, one)


# ---------------------------------------------------------------------------------------------- WarehouseStockLevels
def list_stock_levels(call: Call) -> Any:
    b = call.rt.backend
    warehouse = call.query.get("warehouse")
    if not warehouse:
        raise invalid([("warehouse", "The warehouse field is required.")])
    b.warehouse(warehouse)
    product = call.query.get("productNumber")
    stock = b.state.stock

    def select() -> list[tuple[str, str]]:
        if product is not None:
            return [(product, warehouse)] if (product, warehouse) in stock else []
        return [k for k in b.sorted_stock_keys() if k[1] == warehouse]

    return page_b(call, "stockLevelItemList", select, lambda k: render.stock_level(b, stock[k]) if k in stock else None)


def _stock_target(call: Call, body: dict[str, Any], amount_field: str) -> tuple[str, str, int]:
    prefix = call.body_name
    problems = [(f"{prefix}.{name}", f"The {name} field is required.")
                for name in ("warehouse", "productNumber", amount_field) if body.get(name) is None]
    if problems:
        raise invalid(problems)
    return body["productNumber"], body["warehouse"], body[amount_field]


def adjust_stock_level(call: Call) -> Any:
    pn, wh, difference = _stock_target(call, call.body, "balanceDifference")
    item = call.rt.backend.set_stock(pn, wh, delta=difference)
    call.record["resultKey"] = pn
    return render.custom_success(f"The balance of {pn} in warehouse {wh} was adjusted by {difference}.",
                                 str(item.on_hand))


def set_stock_level(call: Call) -> Any:
    pn, wh, balance = _stock_target(call, call.body, "balance")
    item = call.rt.backend.set_stock(pn, wh, on_hand=balance)
    call.record["resultKey"] = pn
    return render.custom_success(f"The balance of {pn} in warehouse {wh} was set to {balance}.", str(item.on_hand))
