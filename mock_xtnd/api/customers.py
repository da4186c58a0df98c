"""Customers: list (scheme B), create, read, change (docs/wire.md)."""

from __future__ import annotations

from typing import Any

from ..domain.backend import CustomerInput, sorted_by_number
from ..domain.models import Address, Customer
from . import render
from .call import Call
from .paging import page_b

# Fields the server owns or the fake interprets; everything else a client sends is kept and answered back
OWNED = frozenset({"customerNumber", "name", "createDate", "changeDate"})


def _address(name: str, a: dict[str, Any] | None) -> Address | None:
    if not a:
        return None
    return Address(name, a.get("address1") or "", a.get("postalCode") or "", a.get("city") or "",
                   a.get("country") or "SE")


def customer_input(call: Call, body: dict[str, Any]) -> CustomerInput:
    name = body.get("name")
    delivery = (body.get("customerDeliveryAddress") or {}).get("address")
    invoice = body.get("customerInvoiceAddress") or {}
    groups = body.get("customerGroups") or []
    return CustomerInput(
        path=call.body_name,
        number=body.get("customerNumber"),
        name=name,
        org_number=body.get("organizationNumber"),
        email=body.get("invoiceEmail"),
        phone=body.get("phone"),
        customer_group=groups[0]["name"] if groups and groups[0] else None,
        delivery_address=_address(name or "", delivery),
        invoice_address=_address(invoice.get("name") or name or "", invoice.get("address")),
        extra={k: v for k, v in body.items() if k not in OWNED and v is not None},
        given=frozenset(k for k, v in body.items() if v is not None),
    )


def post_customer(call: Call) -> Any:
    customer = call.rt.backend.create_customer(customer_input(call, call.body))
    call.record["resultKey"] = customer.number
    return render.customer_full(customer, call.rt.dates.text)


def get_customer(call: Call) -> Any:
    return render.customer_full(call.rt.backend.customer(call.path["id"]), call.rt.dates.text)


def put_customer(call: Call) -> Any:
    number = call.path["id"]
    customer = call.rt.backend.update_customer(number, customer_input(call, call.body))
    call.record["resultKey"] = number
    return render.customer_full(customer, call.rt.dates.text)


def _contains(value: str | None, needle: str | None) -> bool:
    return needle is None or (value is not None and needle.lower() in value.lower())


def _matches(c: Customer, q: dict[str, Any]) -> bool:
    if q.get("customerNumber") is not None and c.number != q["customerNumber"]:
        return False
    if q.get("customerNumberSearch") is not None and not c.number.startswith(q["customerNumberSearch"]):
        return False
    extra = c.extra or {}
    if q.get("incoterms") is not None and \
            (extra.get("customerLogisticsSettings") or {}).get("termsOfDelivery") != q["incoterms"]:
        return False
    if q.get("changedAfterDate") is not None and c.changed_at < q["changedAfterDate"]:
        return False
    return (_contains(c.name, q.get("name")) and _contains(extra.get("lastName"), q.get("lastName"))
            and _contains(c.org_number, q.get("organizationNumber")) and _contains(c.email, q.get("email2"))
            and _contains(c.phone, q.get("phoneNumber2"))
            and _contains(c.delivery_address.street, q.get("deliveryAddress1"))
            and _contains(c.delivery_address.postal_code, q.get("deliveryPostalCode"))
            and _contains(c.delivery_address.city, q.get("deliveryCity")))


def list_customers(call: Call) -> Any:
    b = call.rt.backend
    q = call.query
    customers = b.state.customers

    def select() -> list[str]:
        if not any(v is not None for k, v in q.items() if k != "pageNumber"):
            return sorted_by_number(list(customers))
        return sorted_by_number([n for n, c in customers.items() if _matches(c, q)])

    dates = call.rt.dates.text
    return page_b(call, "customerList", select,
                  lambda n: render.customer_list_item(customers[n], dates) if n in customers else None)
