"""Product master data the API changes: products (create, change, annul), their descriptions, supplier agreements
and property values, and new GTINs. Every change of a product's master data moves its ``modifiedDate`` and fires
ProductChanged (ProductCreated for a new one), so a client that follows the hook reads the change back with
``GET Products/{id}`` (descriptions with ``GET ProductDescriptions``). Chosen by the mock where the vendor says
nothing (docs/wire.md, "Product master data").

Seeded master data is derived, not stored (a catalogue of 100,000 products costs no memory for it): each product has
one supplier agreement from its group, one description (its own, ``Description`` in ``sv``) and the property value
its name carries. A record overrides the derived data once the API changes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .backend import Backend
from .errors import bad_request, not_found, refused
from .models import Product, ProductProperties, ProductText, ProductTexts, SupplierAgreement
from .reference import (
    GTIN_CAPACITY,
    GTIN_PREFIX,
    PROPERTY_BY_GUID,
    SUPPLIER_AGREEMENTS,
    cost_of,
    gtin_check_digit,
    seeded_property,
)
from .seed import GROUPS

SEEDED_TEXT = ("Description", "sv")
EDITABLE = ("name", "description", "unit", "ean", "group", "weight_kg", "vat_rate", "base_price", "status")


def touch_product(b: Backend, product: Product) -> None:
    """The product's master data changed now (inside a unit of work): modifiedDate moves, ProductChanged."""
    b.touch("product", product.number, product)
    product.changed_at = b.now()
    b.emit("ProductChanged", {"ProductNumber": product.number}, None)


# ---------------------------------------------------------------------------------------------- products
@dataclass(slots=True)
class ProductChange:
    """A PUT Products/{id}: the fields given (None: not given); ``extra`` replaces the kept productData fields."""

    path: str
    name: str | None = None
    description: str | None = None
    unit: str | None = None
    ean: str | None = None
    group: str | None = None
    weight_kg: float | None = None
    vat_rate: float | None = None
    base_price: float | None = None
    status: str | None = None
    extra: dict[str, Any] | None = None


def check_group(group: str | None, where: str) -> None:
    if group is not None and group not in GROUPS:
        raise refused(f"Product group '{group}' does not exist (known: {', '.join(GROUPS)}).", where)


def update_product(b: Backend, number: str, change: ProductChange) -> Product:
    """The fields given replace the stored ones; a new standard price goes to the standard price list."""
    product = b.product(number)
    if change.name is not None and not change.name.strip():
        raise bad_request("The productName cannot be blank.",
                          (f"{change.path}.productData.productName", "The productName field is required."))
    check_group(change.group, f"{change.path}.productData.productGroupsAndCategories.productFamily")
    now = b.now()
    with b.unit_of_work():
        touch_product(b, product)
        for attr in EDITABLE:
            value = getattr(change, attr)
            if value is not None:
                setattr(product, attr, value.strip() if attr == "name" else value)
        if change.description is not None:
            _description_to_text(b, product)
        if change.extra is not None:
            product.extra = {**(product.extra or {}), **change.extra} or None
        if change.base_price is not None:
            std = b.state.price_lists.get("STD")
            if std is not None:
                b.touch("price_list", std.code, std)
                std.prices[number] = change.base_price
                std.changed_at = now
            b.touch("price_changed", number, now)
            b.state.price_changed_at[number] = now
    return product


def annul_product(b: Backend, number: str) -> tuple[Product, bool]:
    """DELETE Products/{id}: XTND keeps a product's history, so the product is annulled (``annulled``, not
    ``enabled``, ProductChanged), never removed; refused while any warehouse holds, reserves, blocks or expects
    it. Returns (the product, whether it changed): annulling an annulled product again changes nothing."""
    product = b.product(number)
    if product.status == "Discontinued":
        return product, False
    for wh in sorted(b.state.warehouses):
        item = b.state.stock.get((number, wh))
        if item is not None and (item.on_hand or item.allocated or item.blocked):
            raise refused(f"Product '{number}' cannot be deleted: warehouse {wh} holds {item.on_hand}, has "
                          f"{item.allocated} ordered and {item.blocked} blocked.", "id")
        if (number, wh) in b.incoming or (number, wh) in b.incoming_returns:
            raise refused(f"Product '{number}' cannot be deleted: purchases or returns are expected in warehouse "
                          f"{wh}.", "id")
    with b.unit_of_work():
        touch_product(b, product)
        product.status = "Discontinued"
    return product, True


# ---------------------------------------------------------------------------------------------- descriptions
def texts(b: Backend, product: Product) -> list[ProductText]:
    record = b.state.product_texts.get(product.number)
    if record is not None:
        return record.items
    return [ProductText(*SEEDED_TEXT, product.description)]


def _is_description(text: ProductText) -> bool:
    return (text.text_type.lower(), text.language.lower()) == (SEEDED_TEXT[0].lower(), SEEDED_TEXT[1])


def _description_to_text(b: Backend, product: Product) -> None:
    """The product's description is its Description text in sv (chosen by the mock): once texts were posted, a new
    description replaces that text too, so Products and ProductDescriptions never disagree (inside a unit of
    work)."""
    record = b.state.product_texts.get(product.number)
    if record is None or not any(_is_description(t) for t in record.items):
        return
    b.touch("product_texts", product.number, record)
    record.items = [ProductText(t.text_type, t.language, product.description) if _is_description(t) else t
                    for t in record.items]
    record.changed_at = b.now()


def set_texts(b: Backend, number: str, items: list[ProductText]) -> list[ProductText]:
    """POST ProductDescriptions: each (textType, language) given is added or replaces the one the product has; a
    Description in sv is the product's description (productData.productDescription) too."""
    product = b.product(number)
    merged = {(t.text_type.lower(), t.language.lower()): t for t in texts(b, product)}
    for item in items:
        merged[(item.text_type.lower(), item.language.lower())] = item
    with b.unit_of_work():
        record = ProductTexts(number, list(merged.values()), b.now())
        b.touch("product_texts", number, record)
        b.state.product_texts[number] = record
        touch_product(b, product)
        description = next((t.text for t in items if _is_description(t)), None)
        if description is not None:
            product.description = description
    return b.state.product_texts[number].items


def delete_text(b: Backend, number: str, text_type: str, language: str) -> None:
    """DELETE ProductDescriptions/{productNumber}/{textType}/{language} (matched case-insensitively)."""
    product = b.state.products.get(number)
    if product is None:
        raise refused(f"Product '{number}' does not exist.", "productNumber")
    current = texts(b, product)
    kept = [t for t in current if (t.text_type.lower(), t.language.lower()) != (text_type.lower(), language.lower())]
    if len(kept) == len(current):
        raise refused(f"Product '{number}' has no {text_type} text in language '{language}'.", "textType")
    with b.unit_of_work():
        record = ProductTexts(number, kept, b.now())
        b.touch("product_texts", number, record)
        b.state.product_texts[number] = record
        touch_product(b, product)


# ---------------------------------------------------------------------------------------------- supplier agreements
def agreement_key(product_number: str, number: int) -> str:
    return f"{product_number}\x1f{number}"


def seeded_agreement(product: Product) -> SupplierAgreement:
    number, name, _ = SUPPLIER_AGREEMENTS.get(product.group, SUPPLIER_AGREEMENTS["HOME"])
    return SupplierAgreement(product.number, number, name, "SE", f"S-{product.number}", cost_of(product),
                             int(product.vat_rate), product.created_at, product.name[:80],
                             {"supplierAgreementCurrencyId": "SEK", "productUnitId": product.unit})


def agreements_of(b: Backend, product: Product) -> list[SupplierAgreement]:
    """A product's supplier agreements by number: the seeded one (unless a record replaced or removed it) and
    those the API made."""
    seeded = seeded_agreement(product)
    stored = b.state.supplier_agreements
    if not stored:  # the seeded tenant's case, read on every Products/{id}
        return [seeded]
    out: dict[int, SupplierAgreement] = {seeded.number: seeded}
    prefix = f"{product.number}\x1f"
    for key, agreement in stored.items():
        if key.startswith(prefix):
            out[agreement.number] = agreement
    return [a for _, a in sorted(out.items()) if not a.deleted]


def agreement(b: Backend, product_number: str, number: int) -> SupplierAgreement | None:
    product = b.state.products.get(product_number)
    if product is None:
        return None
    stored = b.state.supplier_agreements.get(agreement_key(product_number, number))
    if stored is not None:
        return None if stored.deleted else stored
    seeded = seeded_agreement(product)
    return seeded if seeded.number == number else None


def save_agreement(b: Backend, value: SupplierAgreement, *, create: bool, path: str) -> SupplierAgreement:
    """POST (``create``: the product must not have that agreement yet) or PUT (it must)."""
    product = b.state.products.get(value.product_number)
    if product is None:
        raise refused(f"Product '{value.product_number}' does not exist.", f"{path}.productNumber")
    existing = agreement(b, value.product_number, value.number)
    if create and existing is not None:
        raise refused(f"Product '{value.product_number}' already has supplier agreement {value.number}.",
                      f"{path}.supplierAgreementNumber")
    if not create and existing is None:
        raise not_found(f"Supplier agreement {value.number} of product", value.product_number, "id")
    key = agreement_key(value.product_number, value.number)
    with b.unit_of_work():
        value.changed_at = b.now()
        b.touch("supplier_agreement", key, value)
        b.state.supplier_agreements[key] = value
        touch_product(b, product)
    return value


def delete_agreement(b: Backend, product_number: str, number: int) -> None:
    existing = agreement(b, product_number, number)
    if existing is None:
        raise not_found(f"Supplier agreement {number} of product", product_number, "id")
    product = b.product(product_number)
    key = agreement_key(product_number, number)
    with b.unit_of_work():
        if seeded_agreement(product).number == number:  # the seeded one is derived: remember it is gone
            removed = SupplierAgreement(product_number, number, existing.name, existing.country,
                                        existing.supplier_product_number, None, None, b.now(), deleted=True)
            b.touch("supplier_agreement", key, removed)
            b.state.supplier_agreements[key] = removed
        else:
            b.touch("supplier_agreement", key, None)
            del b.state.supplier_agreements[key]
        touch_product(b, product)


# ---------------------------------------------------------------------------------------------- properties
def properties_of(b: Backend, product: Product) -> list[str]:
    record = b.state.product_properties.get(product.number)
    return list(record.values) if record is not None else seeded_property(product.name)


def connect_property(b: Backend, number: str, value: str) -> bool:
    """Connect a property value to a product; False (nothing changed) when it already is."""
    product = b.state.products.get(number)
    if product is None:
        raise refused(f"Product '{number}' does not exist.", "id")
    if value not in PROPERTY_BY_GUID:
        raise refused(f"Property value '{value}' does not exist (GET ProductProperties lists them).", "id2")
    current = properties_of(b, product)
    if value in current:
        return False
    _set_properties(b, product, [*current, value])
    return True


def disconnect_property(b: Backend, number: str, value: str) -> None:
    product = b.state.products.get(number)
    if product is None:
        raise refused(f"Product '{number}' does not exist.", "id")
    current = properties_of(b, product)
    if value not in current:
        raise refused(f"Property value '{value}' is not connected to product '{number}'.", "id2")
    _set_properties(b, product, [v for v in current if v != value])


def _set_properties(b: Backend, product: Product, values: list[str]) -> None:
    with b.unit_of_work():
        record = ProductProperties(product.number, values, b.now())
        b.touch("product_properties", product.number, record)
        b.state.product_properties[product.number] = record
        touch_product(b, product)


# ---------------------------------------------------------------------------------------------- GTINs
def new_gtin(b: Backend) -> str:
    """A GTIN-13 from the tenant's range that no product carries and that was never handed out before (the counter
    is persisted; a reset starts the range again with the seeded world)."""
    eans = {p.ean for p in b.state.products.values()}
    with b.unit_of_work():
        while True:
            n = b.ids.next("gtin")
            if n >= GTIN_CAPACITY:
                raise refused("The tenant's GTIN range is used up.", "gtiNumber")
            body = f"{GTIN_PREFIX}{n:0{12 - len(GTIN_PREFIX)}d}"
            gtin = body + gtin_check_digit(body)
            if gtin not in eans:
                break
        b.touch("gtin", "issued", n)  # so the counter is written with the unit, and a restart goes on from it
    return gtin
