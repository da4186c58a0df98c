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

from ..domain import masterdata
from ..domain.backend import Backend, BestPrice
from ..domain.backoffice import PURCHASE_OPEN, PURCHASE_STATUS_NAMES
from ..domain.models import (
    Address,
    BalanceAdjustment,
    Customer,
    CustomerInvoice,
    Offer,
    Order,
    OrderRow,
    Product,
    ProductText,
    PurchaseOrder,
    ReturnOrder,
    ReturnRow,
    Shipment,
    StockItem,
    SupplierAgreement,
)
from ..domain.reference import (
    COUNTRIES,
    ORDER_PROJECTS,
    ORDER_REASON_CODES,
    PRODUCT_UNITS,
    PROPERTY_BY_GUID,
    RETURN_ROW_CODES,
    SUPPLIER_AGREEMENTS,
    SUPPLIER_NAMES,
    cost_of,
)
from .facts import facts

Dates = Callable[[int], str]
# how the tenant's invoices go out (chosen): e-mailed by XTND itself
INVOICE_SEND_FORMAT = "Email"
INVOICE_SEND_SYSTEM = "Extend"
SELLER_ORG = "556677-8899"  # the tenant's own organisation number (chosen)


@cache
def blank(schema: str) -> dict[str, Any]:
    """Every field of a schema, null (copy before filling)."""
    return dict.fromkeys(f.name for f in facts().fields(schema))


def _fill(schema: str, values: Mapping[str, Any]) -> dict[str, Any]:
    out = blank(schema).copy()
    out.update(values)
    return out


def fill(schema: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of ``schema``: ``values`` over nulls."""
    return _fill(schema, values)


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
_COUNTRY_CODE = {**{name.lower(): code for code, name in COUNTRIES}, **{code.lower(): code for code, _ in COUNTRIES}}


def country_code(country: str) -> str:
    """A customer's country (CustomerAddress.country: a string of any length in the facts) as an order-style
    address's countryCode (at most 2 characters in the facts): a country of GET Countries, by id or name in any case,
    is its id; another value is cut to 2 characters, so an answer never breaks its schema (chosen)."""
    return _COUNTRY_CODE.get(country.strip().lower()) or country[:2]


def order_address_full(a: Address) -> dict[str, Any]:
    return _fill("CustomerOrderAdressFull", {"name1": a.name, "address1": a.street, "postalCode": a.postal_code,
                                             "city": a.city, "countryCode": country_code(a.country_code)})


def order_address_simple(a: Address) -> dict[str, Any]:
    return _fill("CustomerOrderAdressSimple", {"name": a.name, "address1": a.street, "postalCode": a.postal_code,
                                               "city": a.city, "countryCode": country_code(a.country_code)})


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
    returns = b.incoming_returns
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
        from_return = str(b.expected_return(pn, wh)) if returns and (pn, wh) in returns else "0"
        return (f'{{"warehouse":{js(wh)},"productNumber":{js(pn)},"physicalBalance":{item.on_hand},'
                f'"availableBalanceNow":{available},"nextReceivingDate":{next_date},'
                f'"avaiableOnNextReceiving":{on_next},"changeDate":"{dates(item.changed_at)}",'
                f'"availableBalanceNowB":{available},"availableBalanceNowC":{available},'
                f'"availableOnNextReceivingB":{on_next},"availableOnNextReceivingC":{on_next},'
                f'"warehouseName":{names.get(wh) or js(wh)},"quantityOnNextReceiving":{quantity_next},'
                f'"orderedQuantity":{item.allocated},"blockedBalance":{item.blocked},'
                f'"orderedQuantityMatchingReceiving":0,"totalExpectedReceivingFromPurchase":{expected},'
                f'"totalExpectedReceivingFromWarehouseTransfer":0,"totalExpectedReceivingFromReturn":{from_return}}}')

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
        "annulledDate": dates(p.changed_at) if p.status == "Discontinued" else None,
        "productUnit": p.unit,
        "productGTINumber": p.ean,
        "productGroupsAndCategories": _groups(p),
        "productMeasurements": _fill("Measurements", {"weight": p.weight_kg}),
        "productDates": _fill("ProductDates", {"createdDate": dates(p.created_at), "changedDate": dates(p.changed_at)}),
        "productProperties": [product_property(v) for v in masterdata.properties_of(b, p)],
    }
    return {
        "productNumber": p.number,
        "productData": _over(_fill("ProductData", data), sent_back("ProductData", p.extra, dates)),
        "productPrices": [_fill("ProductPrice", {"salesUnit": unit, "productPriceListRows": price_rows})],
        "productWarehouses": [_fill("ProductWarehouse", {"warehouse": wh, "inventoryManagementSource": "Manual"})
                              for wh in sorted(b.state.warehouses) if (p.number, wh) in b.state.stock],
        "productSuppliers": [_fill("ProductSupplier", {"supplierAgreement": a.name,
                                                       "supplierProductNumber": a.supplier_product_number,
                                                       "supplierProductName": a.supplier_product_name,
                                                       "price": a.price,
                                                       "vatPercent": float(a.vat_percent)
                                                       if a.vat_percent is not None else None,
                                                       "country": a.country})
                             for a in masterdata.agreements_of(b, p)],
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


# ---------------------------------------------------------------------------------------------- shared pieces
def _sales(quantity: float, unit: str, price: float | None, vat: float | None, currency: str | None) \
        -> dict[str, Any]:
    return _fill("QuantityAndUnitWithPrice", {"quantity": float(quantity), "unit": unit, "unitPrice": price,
                                              "vatPercent": vat, "currency": currency})


def _opt_date(ms: int | None, dates: Dates) -> str | None:
    return dates(ms) if ms is not None else None


def _product_name(b: Backend, number: str) -> str | None:
    p = b.state.products.get(number)
    return p.name if p is not None else None


# ---------------------------------------------------------------------------------------------- purchases
def _supplier(b: Backend, po: PurchaseOrder, dates: Dates) -> dict[str, Any]:
    number = po.supplier_number
    agreement = next((a for a in SUPPLIER_AGREEMENTS.values() if a[1] == number), None)
    kept = sent_back("PurchaseOrderSupplier", (po.header.get("supplier") or None), dates)
    values = {"supplierNumber": number, "supplierName": SUPPLIER_NAMES.get(number or ""),
              "supplierAgreementNumber": agreement[0] if agreement else None,
              "supplierAgreement": agreement[1] if agreement else None}
    return _over(_fill("PurchaseOrderSupplier", values), kept)


def purchase_list_item(po: PurchaseOrder, dates: Dates) -> dict[str, Any]:
    header = po.header
    return {
        "purchaseNumber": po.number,
        "status": PURCHASE_STATUS_NAMES[po.status],
        "createDate": dates(po.created_at),
        "warehouse": po.warehouse_number,
        "isOpen": po.status in PURCHASE_OPEN,
        "isReceived": po.status == "Delivered",
        "externalOrderNumber": header.get("externalOrderNumber"),
        "supplierNumber": po.supplier_number,
        "supplierName": SUPPLIER_NAMES.get(po.supplier_number or ""),
        "supplierOrderNumber": header.get("supplierOrderNumber"),
        "shippedDate": _opt_date(header.get("shippedDate"), dates),
    }


def _purchase_row_status(po: PurchaseOrder, pn: str) -> str:
    if po.lines.get(pn, 0) == 0:
        return "Received"
    return "Cancelled" if po.status == "Cancelled" else "Ordered"


def purchase_full(b: Backend, po: PurchaseOrder, dates: Dates) -> dict[str, Any]:
    header = sent_back("PurchaseOrderHeader", {k: v for k, v in po.header.items() if k != "supplier"}, dates)
    values = {"purchaseNumber": po.number, "status": PURCHASE_STATUS_NAMES[po.status],
              "createDate": dates(po.created_at), "warehouse": po.warehouse_number,
              "supplier": _supplier(b, po, dates)}
    rows = []
    for i, pn in enumerate(po.ordered or po.lines):
        product = b.state.products.get(pn)
        ordered = po.ordered_quantity(pn)
        received = ordered - po.lines.get(pn, 0)
        kept = sent_back("PurchaseOrderRow", po.row_extra.get(pn), dates)
        unit = product.unit if product is not None else "st"
        row = {
            "position": i + 1,
            "rowStatus": _purchase_row_status(po, pn),
            "statusChangeDate": dates(po.changed_at),
            "productNumber": pn,
            "productName": product.name if product is not None else None,
            "supplierProductNumber": f"S-{pn}",
            "purchaseDataProductUnit": _sales(ordered, unit, cost_of(product) if product is not None else None,
                                              product.vat_rate if product is not None else None, "SEK"),
            "expectedDeliveryDate": _opt_date(po.expected_at, dates),
            "unitDetails": [_fill("PurchaseOrderStockedUnit", {"quantity": received})] if received else None,
        }
        rows.append(_over(_fill("PurchaseOrderRow", row), kept))
    shipments = [_fill("PurchaseOrderShipment", {"shipmentNumber": a.number, "createDate": dates(a.at),
                                                 "shipmentStatus": "DeliveryConfirmed", "packages": [],
                                                 "notes": f"{a.quantity} units received"})
                 for a in po.arrivals]
    return {"header": _over(_fill("PurchaseOrderHeader", values), header), "rows": rows, "shipments": shipments}


# ---------------------------------------------------------------------------------------------- returns
def _return_row_status(ret: ReturnOrder, row: ReturnRow) -> str:
    if row.expected == 0:
        return "Received"
    return "Cancelled" if ret.status == "Cancelled" else "Ordered"


def return_list_item(b: Backend, ret: ReturnOrder, dates: Dates) -> dict[str, Any]:
    customer = b.state.customers.get(ret.customer_number or "")
    return {
        "returnNumber": ret.number,
        "returnType": ret.kind,
        "status": ret.status,
        "referenceOrderNumber": ret.reference_order,
        "customerNumber": ret.customer_number,
        "customerName": customer.name if customer is not None else None,
        "createDate": dates(ret.created_at),
        "invoiceNumber": ret.credit_invoice,
        "isOpen": ret.status in ("Ordered", "PartiallyReceived"),
        "isReceived": ret.status == "Received",
        "warehouse": ret.warehouse_number,
    }


def return_full(b: Backend, ret: ReturnOrder, dates: Dates) -> dict[str, Any]:
    customer = b.state.customers.get(ret.customer_number or "")
    order = b.state.orders.get(ret.reference_order or "")
    kept = sent_back("ReturnOrderHeader", ret.header, dates)
    values: dict[str, Any] = {
        "returnNumber": ret.number, "warehouse": ret.warehouse_number, "returnType": ret.kind,
        "referenceOrderNumber": ret.reference_order,
        "referenceExternalOrderNumber": order.external_number if order is not None else None,
        "createDate": dates(ret.created_at), "status": ret.status, "customerNumber": ret.customer_number,
        "customerName": customer.name if customer is not None else None, "creditInvoiceAction": ret.credit_action,
    }
    if customer is not None:
        values["senderAddress"] = order_address_full(customer.delivery_address)
        values["invoiceAddress"] = order_address_full(customer.invoice_address)
        values["senderEmail"] = customer.email or None
        values["senderPhoneNumber"] = customer.phone or None
    codes = dict(RETURN_ROW_CODES)
    rows = [_over(_fill("ReturnOrderRow", {
        "position": r.position, "subPosition": 0, "rowStatus": _return_row_status(ret, r),
        "returnCode": r.return_code, "returnCodeName": codes.get(r.return_code or ""),
        "productNumber": r.product_number, "productName": r.product_name,
        "salesData": _sales(r.quantity, r.unit, r.unit_price, r.vat_percent, r.currency),
        "referenceOrderRowPosition": r.reference_position,
        "referenceOrderRowSubPosition": 0 if r.reference_position is not None else None,
        "returnOrderRowId": r.row_id,
    }), sent_back("ReturnOrderRow", r.extra, dates)) for r in ret.rows]
    action = "ReturnCompleteCustomerOrder" if ret.reference_order is not None else "ReturnProducts"
    return {"createAction": _fill("ReturnOrderCreateAction", {"action": action, "orderNumber": ret.reference_order}),
            "header": _over(_fill("ReturnOrderHeader", values), kept), "rows": rows}


def return_row_codes() -> dict[str, Any]:
    return {"returnOrderRowCodeList": [{"returnCode": code, "name": name} for code, name in RETURN_ROW_CODES]}


# ---------------------------------------------------------------------------------------------- invoices
def _buyer_vat(org_number: str) -> str | None:
    digits = org_number.replace("-", "")
    return f"SE{digits}01" if digits else None


def invoice_list_item(b: Backend, inv: CustomerInvoice, dates: Dates) -> dict[str, Any]:
    customer = b.state.customers.get(inv.customer_number)
    order = b.state.orders.get(inv.order_number or "")
    return {
        "invoiceNumber": inv.number,
        "customerNumber": inv.customer_number,
        "ocrNumber": inv.ocr,
        "orderNumber": inv.order_number,
        "orderNumberExternal": order.external_number if order is not None else None,
        "orderNumberEndCustomer": order.header.get("orderNumberEndCustomer") if order is not None else None,
        "ourReference": order.header.get("ourReference") if order is not None else None,
        "orderDate": dates(order.created_at) if order is not None else None,
        "createDate": dates(inv.created_at),
        "invoiceDate": dates(inv.created_at),
        "changeDate": dates(inv.changed_at),
        "dueDate": dates(inv.due_at),
        "originalDueDate": dates(inv.due_at),
        "payDate": _opt_date(inv.paid_at, dates),
        "invoiceStatus": inv.status,
        "invoiceType": inv.kind,
        "invoiceEmail": (customer.email or None) if customer is not None else None,
        "sendFormat": INVOICE_SEND_FORMAT,
        "isAllowedToSend": True,
        "sendSystem": INVOICE_SEND_SYSTEM,
        "buyerOrganizationNumber": (customer.org_number or None) if customer is not None else None,
        "buyerVatNumber": _buyer_vat(customer.org_number) if customer is not None else None,
        "buyerGLN": None,
        "exported": False,
        "isAggregated": False,
    }


def invoice_full(b: Backend, inv: CustomerInvoice, dates: Dates, company: str) -> dict[str, Any]:
    item = invoice_list_item(b, inv, dates)
    customer = b.state.customers.get(inv.customer_number)
    order = b.state.orders.get(inv.order_number or "")
    buyer = None
    if customer is not None:
        buyer = _fill("CustomerInvoiceBuyerInfo", {
            "name": customer.name, "organizationsNumber": customer.org_number or None,
            "vatNumber": _buyer_vat(customer.org_number),
            "invoiceAdress": order_address_full(customer.invoice_address),
            "deliveryAddress": order_address_full(customer.delivery_address)})
    header = _fill("CustomerInvoiceHeader", {
        **{k: item[k] for k in ("invoiceNumber", "customerNumber", "ocrNumber", "orderNumberEndCustomer",
                                "ourReference", "createDate", "invoiceDate", "changeDate", "dueDate",
                                "originalDueDate", "payDate", "invoiceType", "sendFormat", "sendSystem",
                                "isAllowedToSend", "exported", "isAggregated")},
        "customerInvoiceStatus": inv.status,
        "orders": [_fill("CustomerInvoiceOrder", {"orderNumber": order.number,
                                                  "orderNumberExternal": order.external_number,
                                                  "orderDate": dates(order.created_at)})] if order is not None else [],
        "notes": f"Kredit för retur {inv.return_number}" if inv.return_number else None,
        "buyer": buyer,
        "seller": _fill("CustomerInvoiceSellerInfo", {"name": f"{company} AB", "organizationsNumber": SELLER_ORG,
                                                      "vatNumber": _buyer_vat(SELLER_ORG)}),
    })
    rows = []
    for r in inv.rows:
        row_sum = round(r.quantity * r.unit_price, 2)
        row_vat = round(row_sum * r.vat_percent / 100, 2)
        rows.append(_fill("CustomerInvoiceRow", {
            "position": r.position, "subPosition": 0, "supplyMode": "Warehouse", "hasChildren": False,
            "orderNumber": inv.order_number, "orderRowId": r.order_row_id,
            "product": _fill("ProductSimple", {"productNumber": r.product_number, "productName": r.product_name}),
            "salesData": _fill("CustomerInvoiceQuantityAndUnitWithPrice", {
                "quantity": float(r.quantity), "unit": r.unit, "unitPrice": r.unit_price,
                "vatPercent": r.vat_percent, "currency": r.currency, "rowSum": row_sum, "rowVat": row_vat,
                "rowTotal": round(row_sum + row_vat, 2)}),
        }))
    return {"invoiceHeader": header, "invoiceRows": rows}


# ---------------------------------------------------------------------------------------------- offers
def offer_list_item(b: Backend, offer: Offer, dates: Dates) -> dict[str, Any]:
    customer = b.state.customers.get(offer.customer_number)
    return {"offerNumber": offer.number, "orderNumber": offer.header.get("orderNumber"),
            "offerDate": dates(offer.created_at), "offerStatus": offer.status,
            "customerNumber": offer.customer_number, "customerName": customer.name if customer is not None else ""}


def offer_full(b: Backend, offer: Offer, dates: Dates, now: int) -> dict[str, Any]:
    customer = b.state.customers.get(offer.customer_number)
    kept = sent_back("OfferHeader", offer.header, dates)
    values: dict[str, Any] = {
        "offerNumber": offer.number, "offerDate": dates(offer.created_at), "changeDate": dates(offer.changed_at),
        "customerNumber": offer.customer_number, "offerStatus": offer.status,
        "partialDelivery": kept.get("partialDelivery", True),
        "validToDate": dates(offer.valid_to if offer.valid_to is not None else offer.created_at + 30 * 86_400_000),
    }
    if customer is not None:
        values["invoiceEmail"] = customer.email or None
        values["deliveryAddress"] = order_address_full(customer.delivery_address)
        values["invoiceAddress"] = order_address_simple(customer.invoice_address)
        if customer.salesperson:
            values["salesman"] = _fill("Contact", {"name": customer.salesperson})
    rows = []
    for i, (pn, quantity) in enumerate(offer.lines.items()):
        product = b.state.products.get(pn)
        price = offer.prices.get(pn)
        if price is None and product is not None and customer is not None:
            price = b.best_price(customer, product, now).price
        rows.append(_over(_fill("OfferRow", {
            "position": i + 1, "supplyMode": "Warehouse", "warehouse": b.default_warehouse,
            "product": _fill("ProductSimple", {"productNumber": pn, "productName": _product_name(b, pn)}),
            "salesData": _sales(quantity, product.unit if product is not None else "st", price,
                                product.vat_rate if product is not None else None,
                                customer.currency if customer is not None else "SEK"),
        }), sent_back("OfferRow", offer.row_extra.get(pn), dates)))
    return {"offerHeader": _over(_fill("OfferHeader", values), kept), "offerRows": rows}


# ---------------------------------------------------------------------------------------------- order helpers
def order_preview(header: dict[str, Any], rows: list[dict[str, Any]], dates: Dates) -> dict[str, Any]:
    """A CustomerOrder the fake worked out but did not store (ATP, campaign prices): the header as sent (its dates
    in the tenant's format), the rows as given."""
    head = blank("CustomerOrderHeader").copy()
    head.update(sent_back("CustomerOrderHeader", header, dates))
    return {"orderHeader": head, "orderRows": rows}


def preview_row(b: Backend, position: int, product: Product, sent: dict[str, Any], dates: Dates,
                values: dict[str, Any]) -> dict[str, Any]:
    base = {**sent_back("CustomerOrderRow", sent, dates), "position": position,
            "product": _fill("CustomerOrderRowProduct", {**sent_back("CustomerOrderRowProduct",
                                                                      sent.get("product"), dates),
                                                          "productNumber": product.number,
                                                          "productName": product.name})}
    out = blank("CustomerOrderRow").copy()
    out.update(base)
    out.update(values)
    return out


def agreed_availability(b: Backend, customer_number: str, orders: list[Order], dates: Dates) -> dict[str, Any]:
    customer = b.state.customers.get(customer_number)
    agreed = []
    for order in orders:
        flags = order.header.get("agreedOrder") or {}
        agreed.append(_fill("AgreedOrderAvailabilityOrder", {
            "orderNumber": order.number, "orderDate": dates(order.created_at),
            "isCustomerOwned": flags.get("isCustomerOwned"), "isFixedPriceAgreement": flags.get("isFixedPriceAgreement"),
            "isForCompanyGroup": flags.get("isForCompanyGroup"),
            "rows": [_fill("AgreedOrderAvailabilityOrderRow", {
                "position": r.position, "subPosition": 0, "productNumber": r.product_number,
                "productName": r.product_name, "warehouse": r.warehouse,
                "salesData": _sales(r.quantity, r.unit, r.unit_price, r.vat_percent, r.currency),
                "deliveryData": _sales(r.picked, r.unit, r.unit_price, r.vat_percent, r.currency)})
                for r in order.rows if r.status != "Annulled"]}))
    return _fill("AgreedOrderAvailability", {
        "customerNumber": customer_number, "customerName": customer.name if customer is not None else None,
        "corporateId": (customer.org_number or None) if customer is not None else None, "agreedOrders": agreed})


def order_projects() -> dict[str, Any]:
    return {"projectList": [{"project": code, "name": name, "description": text, "active": active}
                            for code, name, text, active in ORDER_PROJECTS]}


def order_reason_codes() -> dict[str, Any]:
    return {"reasonCodeList": [{"reasonCode": code, "name": name, "description": text, "active": active}
                               for code, name, text, active in ORDER_REASON_CODES]}


# ---------------------------------------------------------------------------------------------- master data
def product_property(guid: str) -> dict[str, Any]:
    value, kind, name, sort = PROPERTY_BY_GUID[guid]
    return {"propertyValue": value, "propertyType": kind, "propertyName": name, "sortIndex": sort}


def product_texts(number: str, texts: list[ProductText]) -> dict[str, Any]:
    return {"productNumber": number, "productDescriptionItemList": [
        {"textType": t.text_type, "language": t.language, "text": t.text} for t in texts]}


def supplier_agreement(a: SupplierAgreement, dates: Dates) -> dict[str, Any]:
    values = {"productNumber": a.product_number, "supplierAgreementNumber": a.number, "supplierAgreementName": a.name,
              "country": a.country, "supplierProductNumber": a.supplier_product_number,
              "supplierProductName": a.supplier_product_name, "price": a.price, "vatPercent": a.vat_percent,
              "inactive": False}
    return _over(_fill("ProductSupplierAgreement", values), sent_back("ProductSupplierAgreement", a.extra, dates))


def product_units() -> list[dict[str, Any]]:
    return [{"productUnitId": i + 1, "name": name, "description": text} for i, (name, text) in enumerate(PRODUCT_UNITS)]


# ---------------------------------------------------------------------------------------------- history, reference
def balance_adjustment(a: BalanceAdjustment, dates: Dates) -> dict[str, Any]:
    return {"productNumber": a.product_number, "warehouse": a.warehouse_number, "eventDate": dates(a.at),
            "eventType": a.event_type, "balanceChange": a.change, "newBalance": a.new_balance,
            "blockedBalanceChange": a.blocked_change, "unitDetails": None, "Notes": None}


def countries() -> list[dict[str, Any]]:
    return [{"countryId": code, "name": name} for code, name in COUNTRIES]


def currency(code: str, name: str) -> dict[str, Any]:
    return {"currencyId": code, "name": name}
