"""Product master data: Products (create, change, annul), ProductDescriptions, ProductSupplierAgreements,
ProductUnits, and the internal ProductProperties and GTINs (docs/wire.md, "Product master data")."""

from __future__ import annotations

from typing import Any

from ..domain import backoffice as ops
from ..domain import masterdata as md
from ..domain.errors import not_found, refused
from ..domain.models import ProductText, SupplierAgreement
from ..domain.reference import PROPERTY_VALUES, SUPPLIER_AGREEMENTS, valid_gtin
from . import render
from .call import Call
from .errors import invalid
from .facts import primitive
from .paging import page_b

# productData fields the fake interprets or owns; the rest of productData is kept and answered back
PRODUCT_DATA_OWNED = frozenset({"productName", "productDescription", "productUnit", "productGTINumber", "enabled",
                                "annulled", "annulledBy", "annulledDate", "productDates", "cost", "currency",
                                "productProperties"})
AGREEMENT_OWNED = frozenset({"productNumber", "supplierAgreementNumber", "supplierAgreementName", "country",
                             "supplierProductNumber", "supplierProductName", "price", "vatPercent"})


def _product_fields(call: Call, body: dict[str, Any], creating: bool) -> dict[str, Any]:
    """The productData and STD price row of a Product body, as the domain's fields (only those given); every
    value checked, each problem named by its body path."""
    prefix = call.body_name
    data = body["productData"]
    problems: list[tuple[str, str]] = []
    out: dict[str, Any] = {}
    name = data.get("productName")
    if (name is not None and not name.strip()) or (name is None and creating):
        problems.append((f"{prefix}.productData.productName", "The productName field is required."))
    elif name is not None:
        out["name"] = name.strip()
    if data.get("productDescription") is not None:
        out["description"] = data["productDescription"]
    unit = data.get("productUnit")
    if unit is not None:
        if not unit.strip():
            problems.append((f"{prefix}.productData.productUnit", "The productUnit cannot be blank."))
        out["unit"] = unit
    gtin = data.get("productGTINumber")
    if gtin is not None:
        if not valid_gtin(gtin):
            problems.append((f"{prefix}.productData.productGTINumber",
                             "Not a GTIN: 8, 12, 13 or 14 digits with GS1's check digit (GET GTINs hands out new "
                             "ones)."))
        out["ean"] = gtin
    group = (data.get("productGroupsAndCategories") or {}).get("productFamily")
    if group is not None:
        out["group"] = group
    weight = (data.get("productMeasurements") or {}).get("weight")
    if weight is not None:
        if weight < 0:
            problems.append((f"{prefix}.productData.productMeasurements.weight", "Must be 0 or more."))
        out["weight_kg"] = weight
    for i, price in enumerate(body.get("productPrices") or []):
        for j, row in enumerate(price["productPriceListRows"]):
            if row["priceList"] != "STD" or "base_price" in out:
                continue
            where = f"{prefix}.productPrices[{i}].productPriceListRows[{j}]"
            if row["price"] < 0:
                problems.append((f"{where}.price", "Must be 0 or more."))
            if not 0 <= row["vatPercent"] <= 100:
                problems.append((f"{where}.vatPercent", "Must be from 0 to 100."))
            out["base_price"], out["vat_rate"] = round(row["price"], 2), row["vatPercent"]
    if problems:
        raise invalid(problems)
    md.check_group(out.get("group"), f"{prefix}.productData.productGroupsAndCategories.productFamily")
    annulled, enabled = data.get("annulled"), data.get("enabled")
    if enabled is not None or annulled is not None:
        out["status"] = "Discontinued" if annulled else ("Inactive" if enabled is False else "Active")
    out["extra"] = {k: v for k, v in data.items() if k not in PRODUCT_DATA_OWNED and v is not None}
    return out


# ---------------------------------------------------------------------------------------------- Products
def post_product(call: Call) -> Any:
    b = call.rt.backend
    body = call.body
    fields = _product_fields(call, body, creating=True)
    data = ops.ProductInput(name=fields["name"], number=body["productNumber"], description=fields.get("description"),
                            group=fields.get("group"), unit=fields.get("unit"), base_price=fields.get("base_price"),
                            vat_rate=fields.get("vat_rate", 25.0), weight_kg=fields.get("weight_kg"),
                            ean=fields.get("ean"))
    product = ops.create_product(b, data, status=fields.get("status", "Active"), extra=fields["extra"] or None,
                                 field_prefix=f"{call.body_name}.")
    call.record["resultKey"] = product.number
    return render.custom_success(f"Product {product.number} was created.", product.number)


def put_product(call: Call) -> Any:
    b = call.rt.backend
    number = call.path["id"]
    b.product(number)
    if call.body["productNumber"] != number:
        raise refused(f"The productNumber in the body ({call.body['productNumber']}) differs from the path "
                      f"({number}).", f"{call.body_name}.productNumber")
    fields = _product_fields(call, call.body, creating=False)
    md.update_product(b, number, md.ProductChange(path=call.body_name, **fields))
    call.record["resultKey"] = number
    return render.custom_success(f"Product {number} was updated.", number)


def delete_product(call: Call) -> Any:
    number = call.path["id"]
    _, changed = md.annul_product(call.rt.backend, number)
    call.record["resultKey"] = number
    return render.custom_success(f"Product {number} was annulled." if changed
                                 else f"Product {number} was already annulled.", number)


# ---------------------------------------------------------------------------------------------- ProductDescriptions
def get_descriptions(call: Call) -> Any:
    b = call.rt.backend
    number = call.query["id"]
    product = b.state.products.get(number)
    if product is None:
        raise refused(f"Product '{number}' does not exist.", "id")
    return render.product_texts(number, md.texts(b, product))


def post_descriptions(call: Call) -> Any:
    b = call.rt.backend
    prefix = call.body_name
    body = call.body
    number = body["productNumber"]
    problems: list[tuple[str, str]] = []
    items = body["productDescriptionItemList"]
    if not items:
        problems.append((f"{prefix}.productDescriptionItemList", "At least one description is required."))
    texts = []
    for i, item in enumerate(items):
        for name in ("textType", "language"):
            if not item[name].strip():
                problems.append((f"{prefix}.productDescriptionItemList[{i}].{name}", f"The {name} cannot be blank."))
        texts.append(ProductText(item["textType"].strip(), item["language"].strip(), item["text"]))
    if problems:
        raise invalid(problems)
    if number not in b.state.products:
        raise refused(f"Product '{number}' does not exist.", f"{prefix}.productNumber")
    call.record["resultKey"] = number
    return render.product_texts(number, md.set_texts(b, number, texts))


def delete_description(call: Call) -> Any:
    p = call.path
    md.delete_text(call.rt.backend, p["productNumber"], p["textType"], p["language"])
    call.record["resultKey"] = p["productNumber"]
    return render.custom_success(f"The {p['textType']} text in '{p['language']}' of product {p['productNumber']} "
                                 "was deleted.", p["productNumber"])


# ---------------------------------------------------------------------------------------------- ProductSupplierAgreements
def _agreement_number(call: Call) -> int:
    problems: list[tuple[str, str]] = []
    number = primitive("int", call.path["id2"], "id2", problems)
    if problems:
        raise invalid(problems)
    return int(number)


def _agreement_body(call: Call) -> SupplierAgreement:
    body = call.body
    prefix = call.body_name
    problems = []
    if body["supplierAgreementNumber"] < 1:
        problems.append((f"{prefix}.supplierAgreementNumber", "Must be 1 or more."))
    if body["price"] < 0:
        problems.append((f"{prefix}.price", "Must be 0 or more."))
    if not 0 <= body["vatPercent"] <= 100:
        problems.append((f"{prefix}.vatPercent", "Must be from 0 to 100."))
    for name in ("supplierAgreementName", "supplierProductNumber", "country"):
        if not body[name].strip():
            problems.append((f"{prefix}.{name}", f"The {name} cannot be blank."))
    if problems:
        raise invalid(problems)
    extra = {k: v for k, v in body.items() if k not in AGREEMENT_OWNED and v is not None}
    return SupplierAgreement(body["productNumber"], body["supplierAgreementNumber"], body["supplierAgreementName"],
                             body["country"], body["supplierProductNumber"], body["price"], body["vatPercent"],
                             call.now, body.get("supplierProductName"), extra or None)


def list_agreements(call: Call) -> Any:
    b = call.rt.backend
    wanted_product = call.query.get("productNumber")
    wanted_number = call.query.get("supplierAgreementNumber")
    dates = call.rt.dates.text

    def select() -> list[tuple[str, int]]:
        stored: dict[str, list[SupplierAgreement]] = {}
        for a in b.state.supplier_agreements.values():
            stored.setdefault(a.product_number, []).append(a)
        if wanted_product is not None:
            numbers = [wanted_product] if wanted_product in b.state.products else []
        else:
            numbers = b.sorted_product_numbers()
        keys: list[tuple[str, int]] = []
        for pn in numbers:
            own = stored.get(pn)
            if own is None:  # the seeded agreement alone: no record to look at
                seeded = SUPPLIER_AGREEMENTS.get(b.state.products[pn].group, SUPPLIER_AGREEMENTS["HOME"])[0]
                found = [seeded]
            else:
                found = [a.number for a in md.agreements_of(b, b.state.products[pn])]
            keys.extend((pn, n) for n in found if wanted_number is None or n == wanted_number)
        return keys

    def one(key: tuple[str, int]) -> dict[str, Any] | None:
        found = md.agreement(b, *key)
        return render.supplier_agreement(found, dates) if found is not None else None

    return page_b(call, "productSupplierAgreementList", select, one)


def post_agreement(call: Call) -> Any:
    value = _agreement_body(call)
    md.save_agreement(call.rt.backend, value, create=True, path=call.body_name)
    call.record["resultKey"] = value.product_number
    return render.custom_success(f"Supplier agreement {value.number} of product {value.product_number} was created.",
                                 f"{value.product_number}/{value.number}")


def get_agreement(call: Call) -> Any:
    b = call.rt.backend
    number = _agreement_number(call)
    found = md.agreement(b, call.path["id"], number)
    if found is None:
        raise not_found(f"Supplier agreement {number} of product", call.path["id"], "id")
    return render.supplier_agreement(found, call.rt.dates.text)


def put_agreement(call: Call) -> Any:
    pn, number = call.path["id"], _agreement_number(call)
    value = _agreement_body(call)
    if (value.product_number, value.number) != (pn, number):
        raise refused(f"The body names product {value.product_number}, agreement {value.number}; the path {pn}, "
                      f"{number}.", f"{call.body_name}.supplierAgreementNumber")
    md.save_agreement(call.rt.backend, value, create=False, path=call.body_name)
    call.record["resultKey"] = pn
    return render.custom_success(f"Supplier agreement {number} of product {pn} was updated.", f"{pn}/{number}")


def delete_agreement(call: Call) -> Any:
    pn, number = call.path["id"], _agreement_number(call)
    md.delete_agreement(call.rt.backend, pn, number)
    call.record["resultKey"] = pn
    return render.custom_success(f"Supplier agreement {number} of product {pn} was deleted.", f"{pn}/{number}")


def list_units(call: Call) -> Any:
    return render.product_units()


# ---------------------------------------------------------------------------------------------- ProductProperties
def list_properties(call: Call) -> Any:
    return [render.product_property(v[0]) for v in PROPERTY_VALUES]


def get_properties(call: Call) -> Any:
    b = call.rt.backend
    return [render.product_property(v) for v in md.properties_of(b, b.product(call.path["id"]))]


def _property_value(call: Call) -> str:
    problems: list[tuple[str, str]] = []
    value = primitive("Guid", call.path["id2"], "id2", problems)
    if problems:
        raise invalid(problems)
    return str(value)


def connect_property(call: Call) -> Any:
    pn, value = call.path["id"], _property_value(call)
    changed = md.connect_property(call.rt.backend, pn, value)
    call.record["resultKey"] = pn
    return render.custom_success(f"Property value {value} is connected to product {pn}"
                                 + ("." if changed else " (it already was)."), pn)


def disconnect_property(call: Call) -> Any:
    pn, value = call.path["id"], _property_value(call)
    md.disconnect_property(call.rt.backend, pn, value)
    call.record["resultKey"] = pn
    return render.custom_success(f"Property value {value} is no longer connected to product {pn}.", pn)


# ---------------------------------------------------------------------------------------------- GTINs
def new_gtin(call: Call) -> Any:
    gtin = md.new_gtin(call.rt.backend)
    call.record["resultKey"] = gtin
    return {"gtiNumber": gtin}
