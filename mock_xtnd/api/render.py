"""Domain records -> XTND's camelCase shapes (the facts file's schemas, field for field). Plain dicts serialised with
orjson: the cheap path. Every schema field is present (``null`` where the fake has nothing to say, as .NET writes
them); every ``Always`` field is filled (tests/contract/test_conformance.py checks each shape against the facts).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import orjson

from ..domain.backend import Backend, BestPrice
from ..domain.models import Address, Customer, Order, OrderRow, Product, Shipment, StockItem
from .facts import facts

Dates = Callable[[int], str]


@cache
def blank(schema: str) -> dict[str, Any]:
    """Every field of a schema, null (copy before filling)."""
    return dict.fromkeys(f.name for f in facts().fields(schema))


def _fill(schema: str, values: Mapping[str, Any]) -> dict[str, Any]:
    out = blank(schema).copy()
    out.update(values)
    return out


def _over(base: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Fields a client sent that the fake does not interpret, under what the fake knows."""
    if not extra:
        return base
    merged = dict(extra)
    merged.update({k: v for k, v in base.items() if v is not None or k not in extra})
    return merged


def sent_back(schema: str, kept: Mapping[str, Any] | None, dates: Dates) -> dict[str, Any]:
    """Fields a client sent and the fake keeps, as they are answered back: dates are kept as epoch milliseconds (the
    validator parses them) and answered in the tenant's format, at any depth."""
    if not kept:
        return {}
    return {k: _sent_value(_field_types(schema).get(k), v, dates) for k, v in kept.items()}


def _sent_value(type_name: str | None, value: Any, dates: Dates) -> Any:
    if value is None or type_name is None:
        return value
    base = type_name.rstrip("?")
    if base.endswith("[]") or base.startswith(("List<", "IEnumerable<")):
        item = base[:-2] if base.endswith("[]") else base[base.index("<") + 1:-1]
        return [_sent_value(item, v, dates) for v in value] if isinstance(value, list) else value
    if base == "DateTimeOffset":
        return dates(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if isinstance(value, dict) and base in facts().schemas:
        return sent_back(base, value, dates)
    return value


@cache
def _field_types(schema: str) -> dict[str, str]:
    return {f.name: f.type for f in facts().fields(schema)}


def custom_success(message: str, information: str | None = None) -> dict[str, Any]:
    return {"Message": message, "Information": information}


# ---------------------------------------------------------------------------------------------- addresses
def order_address_full(a: Address) -> dict[str, Any]:
    return _fill("CustomerOrderAdressFull", {"name1": a.name, "address1": a.street, "postalCode": a.postal_code,
                                             "city": a.city, "countryCode": a.country_code})


def order_address_simple(a: Address) -> dict[str, Any]:
    return _fill("CustomerOrderAdressSimple", {"name": a.name, "address1": a.street, "postalCode": a.postal_code,
                                               "city": a.city, "countryCode": a.country_code})


def customer_address(a: Address) -> dict[str, Any]:
    return _fill("CustomerAddress", {"address1": a.street, "postalCode": a.postal_code, "city": a.city,
                                     "country": a.country_code})


# ---------------------------------------------------------------------------------------------- availability
_JS: dict[str, str] = {}


def js(text: str) -> str:
    """A JSON string literal, remembered (product numbers and warehouse names repeat). ASCII-only, with \\u escapes,
    so a page of them encodes to bytes as a plain copy (Göteborg, Malmö and Umeå would otherwise make the encoder
    walk every character of a 45 KB page)."""
    out = _JS.get(text)
    if out is None:
        out = json.dumps(text)
        if len(_JS) < 400_000:
            _JS[text] = out
    return out


def availability_rows(b: Backend, dates: Dates) -> Callable[[StockItem], str]:
    """A renderer of ProductAvailability rows as JSON text. The stock lists are the hottest answers a webshop reads
    (on every burst of balance hooks), so their rows go straight to text: no dict per row, no second serialiser
    pass over them, and what is the same for every row of a page looked up once."""
    incoming = b.incoming
    names = {number: js(w.name) for number, w in b.state.warehouses.items()}

    def row(item: StockItem) -> str:
        pn, wh = item.product_number, item.warehouse_number
        available = item.on_hand - item.allocated - item.blocked
        if incoming and (pn, wh) in incoming:
            expected, next_at, next_qty = b.expected_receiving(pn, wh)
            next_date = f'"{dates(next_at)}"' if next_at is not None else "null"
            on_next = str(available + next_qty) if next_qty is not None else "null"
            quantity_next = str(next_qty) if next_qty is not None else "null"
        else:
            expected, next_date, on_next, quantity_next = 0, "null", "null", "null"
        return (f'{{"warehouse":{js(wh)},"productNumber":{js(pn)},"physicalBalance":{item.on_hand},'
                f'"availableBalanceNow":{available},"nextReceivingDate":{next_date},'
                f'"avaiableOnNextReceiving":{on_next},"changeDate":"{dates(item.changed_at)}",'
                f'"availableBalanceNowB":{available},"availableBalanceNowC":{available},'
                f'"availableOnNextReceivingB":{on_next},"availableOnNextReceivingC":{on_next},'
                f'"warehouseName":{names.get(wh) or js(wh)},"quantityOnNextReceiving":{quantity_next},'
                f'"orderedQuantity":{item.allocated},"blockedBalance":{item.blocked},'
                f'"orderedQuantityMatchingReceiving":0,"totalExpectedReceivingFromPurchase":{expected},'
                f'"totalExpectedReceivingFromWarehouseTransfer":0,"totalExpectedReceivingFromReturn":0}}')

    return row


def availability_json(b: Backend, item: StockItem, dates: Dates) -> str:
    return availability_rows(b, dates)(item)


def availability(b: Backend, item: StockItem, dates: Dates) -> dict[str, Any]:
    """One ProductAvailability as a dict (the control surface; the API sends ``availability_json``)."""
    value: dict[str, Any] = orjson.loads(availability_json(b, item, dates))
    return value


def stock_level(b: Backend, item: StockItem) -> dict[str, Any]:
    warehouse = b.state.warehouses.get(item.warehouse_number)
    return {"warehouse": item.warehouse_number, "productNumber": item.product_number, "customerProductNumber": None,
            "notes": None, "balance": item.on_hand, "warehouseName": warehouse.name if warehouse else ""}


# ---------------------------------------------------------------------------------------------- orders
def _quantity(quantity: float, unit: str, price: float | None, vat: float | None, currency: str | None) \
        -> dict[str, Any]:
    return {"quantity": float(quantity), "unit": unit, "unitPrice": price, "vatPercent": vat, "currency": currency,
            "unitExplicitCost": None}


def order_row(b: Backend, order: Order, row: OrderRow, dates: Dates) -> dict[str, Any]:
    values = {
        "position": row.position,
        "rowOperation": "Active",
        "orderRowStatus": row.status,
        "product": _fill("CustomerOrderRowProduct", {"productNumber": row.product_number,
                                                     "productName": row.product_name}),
        "salesData": _quantity(row.quantity, row.unit, row.unit_price, row.vat_percent, row.currency),
        "supplyMode": "Warehouse",
        "warehouse": row.warehouse,
        "shipDate": dates(row.ship_date) if row.ship_date is not None else None,
        "expectedDeliveryDate": dates(order.asked_delivery_date) if order.asked_delivery_date is not None else None,
        "deliveryData": _quantity(row.picked, row.unit, row.unit_price, row.vat_percent, row.currency)
        if row.picked else None,
        "shipmentNumber": row.shipment_number,
        "availableBalance": b.stock_item(row.product_number, row.warehouse).available,
        "allocationStatus": row.allocation,
        "orderRowId": row.row_id,
    }
    return _over(_fill("CustomerOrderRow", values), sent_back("CustomerOrderRow", row.extra, dates))


def shipment(s: Shipment, dates: Dates) -> dict[str, Any]:
    return _fill("OrderHeaderShipment", {"shipmentNumber": s.number, "createDate": dates(s.pick_date),
                                         "packages": list(s.packages), "numberPackages": len(s.packages),
                                         "pickDate": dates(s.pick_date), "forwarder": s.forwarder,
                                         "deliveryMethod": s.delivery_method})


def order_full(b: Backend, order: Order, dates: Dates) -> dict[str, Any]:
    customer = b.state.customers.get(order.customer_number)
    header = sent_back("CustomerOrderHeader", order.header, dates)
    values: dict[str, Any] = {
        "orderNumber": order.number,
        "orderType": header.get("orderType") or "Normal",
        "orderNumberExternal": order.external_number,
        "orderDate": dates(order.created_at),
        "orderStatus": order.status,
        "customerNumber": order.customer_number,
        "askedDeliveryDate": dates(order.asked_delivery_date) if order.asked_delivery_date is not None else None,
        "deliveryMethod": header.get("deliveryMethod") or "Standard",
        "shipments": [shipment(s, dates) for s in order.shipments],
        "customerInvoices": [_fill("CustomerOrderInvoice", {"invoiceNumber": n}) for n in order.invoice_numbers],
    }
    if customer is not None:
        values["deliveryAddress"] = header.get("deliveryAddress") or order_address_full(customer.delivery_address)
        values["invoiceAddress"] = header.get("invoiceAddress") or order_address_simple(customer.invoice_address)
        values["delieryPhoneNumber"] = header.get("delieryPhoneNumber") or customer.phone or None
        values["deliveryEmail"] = header.get("deliveryEmail") or customer.email or None
        values["invoiceEmail"] = header.get("invoiceEmail") or customer.email or None
    head = blank("CustomerOrderHeader").copy()
    head.update(header)
    head.update(values)
    return {"orderHeader": head, "orderRows": [order_row(b, order, r, dates) for r in order.rows]}


def order_total(order: Order) -> float:
    return round(sum(r.quantity * r.unit_price for r in order.rows if r.status != "Annulled"), 2)


def order_list_item(b: Backend, order: Order, dates: Dates) -> dict[str, Any]:
    customer = b.state.customers.get(order.customer_number)
    asked = order.asked_delivery_date if order.asked_delivery_date is not None else order.created_at
    return {
        "orderNumber": order.number,
        "orderNumberExternal": order.external_number or "",
        "orderType": order.header.get("orderType") or "Normal",
        "orderStatus": order.status,
        "orderDate": dates(order.created_at),
        "askedDeliveryDate": dates(asked),
        "customerNumber": order.customer_number,
        "customerName": customer.name if customer else "",
        "totalPrice": order_total(order),
        "changeDate": dates(order.changed_at),
    }


# ---------------------------------------------------------------------------------------------- products
def cost_of(p: Product) -> float:
    """The purchase cost (chosen: about half the standard price, the seeded catalogue keeps no cost of its own)."""
    return round(p.base_price * 0.55, 2)


def _groups(p: Product) -> dict[str, Any]:
    return _fill("ProductGroupsAndCategories", {"productCategories": [p.group], "productFamily": p.group,
                                                "assortmentCategory": p.group, "statisticalCategory1": p.group,
                                                "alphaSearch": p.name[:100]})


def product_list_item(p: Product, item: StockItem, dates: Dates) -> dict[str, Any]:
    return {
        "productNumber": p.number,
        "productName": p.name,
        "createDate": dates(p.created_at),
        "productUnit": p.unit,
        "cost": cost_of(p),
        "currency": "SEK",
        "countryOfOrigin": "SE",
        "supplyMode": "Warehouse",
        "manufacturer": None,
        "manufacturerProductNumber": None,
        "gtinNumberList": p.ean,
        "warehouse": item.warehouse_number,
        "statisticalCategory1": p.group,
        "statisticalCategory2": None,
        "statisticalCategory3": None,
        # observed on a real tenant beyond the Swagger's ProductListItem
        "availableBalance": item.available,
        "enabled": p.status == "Active",
        "modifiedDate": dates(p.changed_at),
        "productGroupsAndCategories": _groups(p),
    }


def product_full(b: Backend, p: Product, dates: Dates) -> dict[str, Any]:
    unit = _fill("QuantityAndUnit", {"quantity": 1.0, "unit": p.unit, "gtiNumber": p.ean})
    price_rows = []
    for code in sorted(b.state.price_lists):
        pl = b.state.price_lists[code]
        if pl.kind == "PriceList" and p.number in pl.prices:
            price_rows.append({"priceList": code, "numberSalesUnits": 1, "price": float(pl.prices[p.number]),
                               "vatPercent": float(p.vat_rate), "currency": pl.currency})
    data = {
        "productName": p.name,
        "productDescription": p.description,
        "countryOfOrigin": "SE",
        "cost": cost_of(p),
        "currency": "SEK",
        "enabled": p.status == "Active",
        "annulled": p.status == "Discontinued",
        "productUnit": p.unit,
        "productGTINumber": p.ean,
        "productGroupsAndCategories": _groups(p),
        "productMeasurements": _fill("Measurements", {"weight": p.weight_kg}),
        "productDates": _fill("ProductDates", {"createdDate": dates(p.created_at), "changedDate": dates(p.changed_at)}),
    }
    return {
        "productNumber": p.number,
        "productData": _fill("ProductData", data),
        "productPrices": [_fill("ProductPrice", {"salesUnit": unit, "productPriceListRows": price_rows})],
        "productWarehouses": [_fill("ProductWarehouse", {"warehouse": wh, "inventoryManagementSource": "Manual"})
                              for wh in sorted(b.state.warehouses) if (p.number, wh) in b.state.stock],
        "productSuppliers": [_fill("ProductSupplier", {"supplierAgreement": f"SA-{p.group}",
                                                       "supplierProductNumber": f"S-{p.number}",
                                                       "price": cost_of(p), "vatPercent": p.vat_rate,
                                                       "country": "SE"})],
    }


def price_item(p: Product, bp: BestPrice) -> dict[str, Any]:
    return {"productNumber": p.number, "salesUnit": p.unit, "fromQuantity": 1, "price": float(bp.price),
            "listPrice": float(bp.list_price), "vatPercent": float(p.vat_rate), "currency": bp.currency}


# ---------------------------------------------------------------------------------------------- customers
def customer_list_item(c: Customer, dates: Dates) -> dict[str, Any]:
    return {
        "customerNumber": c.number,
        "name": c.name,
        "lastName": (c.extra or {}).get("lastName"),
        "organizationNumber": c.org_number or None,
        "email2": c.email or None,
        "phoneNumber2": c.phone or None,
        "deliveryAddress1": c.delivery_address.street,
        "deliveryPostalCode": c.delivery_address.postal_code,
        "deliveryCity": c.delivery_address.city,
        "creditLimit": None,
        "creditLimitCurrency": None,
        "changeDate": dates(c.changed_at),
        "invoiceEmail": c.email or None,
    }


def customer_full(c: Customer, dates: Dates) -> dict[str, Any]:
    extra = sent_back("Customer", c.extra, dates)

    def nested(name: str, values: dict[str, Any]) -> dict[str, Any]:
        given = extra.get(name) or {}
        return {**_fill(_schema_of("Customer", name), {}), **given, **values}

    values: dict[str, Any] = {
        "customerNumber": c.number,
        "name": c.name,
        "createDate": dates(c.created_at),
        "changeDate": dates(c.changed_at),
        "invoiceEmail": c.email or None,
        "organizationNumber": c.org_number or None,
        "phone": c.phone or None,
        "customerStatus": extra.get("customerStatus") or "Active",
        "customerLogisticsSettings": nested("customerLogisticsSettings", {}),
        "customerClassification": nested("customerClassification", {"salesman": c.salesperson or None}
                                         if c.salesperson else {}),
        "customerDeliveryAddress": nested("customerDeliveryAddress", {
            "address": _kept_address(extra.get("customerDeliveryAddress"), c.delivery_address)}),
        "customerInvoiceAddress": nested("customerInvoiceAddress", {
            "name": c.invoice_address.name,
            "address": _kept_address(extra.get("customerInvoiceAddress"), c.invoice_address)}),
        "customerGroups": [_fill("CustomerGroup", {"name": c.customer_group})],
    }
    out = blank("Customer").copy()
    out.update(extra)
    out.update(values)
    return out


def _kept_address(given_parent: Mapping[str, Any] | None, a: Address) -> dict[str, Any]:
    """A customer address: what the fake knows over what the client sent (address2, state, addressEAN... are kept,
    not blanked by the fake's nulls)."""
    known = customer_address(a)
    given = (given_parent or {}).get("address") or {}
    return {**known, **{k: v for k, v in given.items() if v is not None},
            **{k: v for k, v in known.items() if v is not None}}


@cache
def _schema_of(schema: str, field_name: str) -> str:
    f = next(f for f in facts().fields(schema) if f.name == field_name)
    return f.type.rstrip("?")
