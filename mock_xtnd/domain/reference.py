"""The tenant's reference data: countries, currencies, product units, order projects and reason codes, return
codes, product property values, supplier agreements per product group, generic reports, and the GTIN range the
tenant hands out. The same for every seed (a tenant's set-up, not its business), all chosen by the mock
(docs/wire.md, "Reference data").
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Product

# (ISO 3166 code, name): the countries a Swedish tenant ships to
COUNTRIES: tuple[tuple[str, str], ...] = (
    ("SE", "Sverige"), ("NO", "Norge"), ("DK", "Danmark"), ("FI", "Finland"), ("IS", "Island"), ("DE", "Tyskland"),
    ("NL", "Nederländerna"), ("BE", "Belgien"), ("FR", "Frankrike"), ("ES", "Spanien"), ("IT", "Italien"),
    ("PL", "Polen"), ("EE", "Estland"), ("LV", "Lettland"), ("LT", "Litauen"), ("AT", "Österrike"),
    ("CH", "Schweiz"), ("GB", "Storbritannien"), ("IE", "Irland"), ("US", "USA"),
)
CURRENCIES: tuple[tuple[str, str], ...] = (
    ("SEK", "Svensk krona"), ("NOK", "Norsk krona"), ("DKK", "Dansk krona"), ("EUR", "Euro"),
    ("USD", "Amerikansk dollar"), ("GBP", "Brittiskt pund"), ("CHF", "Schweizisk franc"), ("PLN", "Polsk zloty"),
)
# (name, description): the units the seeded catalogue uses (seed.UNITS), numbered from 1
PRODUCT_UNITS: tuple[tuple[str, str], ...] = (
    ("st", "Styck"), ("par", "Par"), ("set", "Set"), ("förp", "Förpackning"), ("kg", "Kilogram"), ("m", "Meter"),
)
ORDER_PROJECTS: tuple[tuple[str, str, str, bool], ...] = (
    ("WEB", "Webbhandel", "Order från webbutiken", True),
    ("B2B", "Företagsförsäljning", "Avtalskunder och grossister", True),
    ("EVENT", "Mässor och event", "Försäljning på mässor", True),
    ("KAMPANJ-2025", "Julkampanj 2025", "Avslutad kampanj", False),
)
ORDER_REASON_CODES: tuple[tuple[str, str, str, bool], ...] = (
    ("REKL", "Reklamation", "Ersättningsleverans efter reklamation", True),
    ("KOMP", "Kompensation", "Kostnadsfri vara som kompensation", True),
    ("PROV", "Provleverans", "Varuprov till kund", True),
    ("INTERN", "Internt uttag", "Uttag för eget bruk", True),
    ("GAMMAL", "Utgått skäl", "Används inte längre", False),
)
RETURN_ROW_CODES: tuple[tuple[str, str], ...] = (
    ("ANGER", "Ångerrätt"), ("DEFEKT", "Defekt vara"), ("FEL", "Fel vara levererad"),
    ("SKADAD", "Transportskada"), ("STORLEK", "Fel storlek"), ("OVRIGT", "Övrigt"),
)


def _guid(text: str) -> str:
    h = hashlib.sha256(text.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"


# (GUID, propertyType, propertyName, sortIndex): the variants of the seeded names (seed.VARIANTS)
_PROPERTY_TYPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Färg", ("Svart", "Vit", "Grå", "Blå", "Grön", "Röd", "Natur")),
    ("Material", ("Ek", "Björk")),
    ("Storlek", ("S", "M", "L", "XL")),
    ("Volym", ("1 l", "2 l")),
)
PROPERTY_VALUES: tuple[tuple[str, str, str, int], ...] = tuple(
    (_guid(f"xtnd/property/{ptype}/{name}"), ptype, name, i + 1)
    for ptype, names in _PROPERTY_TYPES for i, name in enumerate(names))
PROPERTY_BY_GUID = {v[0]: v for v in PROPERTY_VALUES}
PROPERTY_OF_VARIANT = {v[2]: v[0] for v in PROPERTY_VALUES}


def seeded_property(product_name: str) -> list[str]:
    """The property values a seeded product carries: the variant its name ends with."""
    return list(_seeded_property(product_name))


@lru_cache(maxsize=65536)  # read on every Products/{id}; names repeat (adjective, noun, variant)
def _seeded_property(product_name: str) -> tuple[str, ...]:
    for variant, guid in PROPERTY_OF_VARIANT.items():
        if product_name.endswith(f" {variant}"):
            return (guid,)
    return ()


# Every product group buys from one supplier under one agreement (the product's seeded supplier agreement):
# group -> (supplierAgreementNumber, agreement name = the supplier's number, supplier name)
SUPPLIER_AGREEMENTS: dict[str, tuple[int, str, str]] = {
    "HOME": (1, "SA-HOME", "Nordiska Hemvaror AB"), "KITCHEN": (2, "SA-KITCHEN", "Köksgrossisten i Borås AB"),
    "TEXTILE": (3, "SA-TEXTILE", "Textilhuset Sjuhärad AB"), "OUTDOOR": (4, "SA-OUTDOOR", "Fjällutrustning AB"),
    "ELECTRONICS": (5, "SA-ELECTRONICS", "Elektronikimport Norden AB"), "OFFICE": (6, "SA-OFFICE", "Kontorsvaror AB"),
    "GARDEN": (7, "SA-GARDEN", "Trädgårdsgrossisten AB"), "APPAREL": (8, "SA-APPAREL", "Klädagenturen AB"),
}
SUPPLIER_NAMES = {name: supplier for _, name, supplier in SUPPLIER_AGREEMENTS.values()}

# Generic reports (GET GenericReports?reportId=...): id -> name; what each computes is in api/reference.py
REPORTS: dict[str, str] = {
    _guid("xtnd/report/stock-value"): "Lagervärde per lager",
    _guid("xtnd/report/open-orders"): "Order per status",
    _guid("xtnd/report/invoiced-per-group"): "Fakturerat per produktgrupp",
}

# GTINs handed out by GET GTINs: GS1 Sweden's prefix 73, the tenant's company prefix 50099, a running number
GTIN_PREFIX = "7350099"
GTIN_CAPACITY = 10 ** (12 - len(GTIN_PREFIX))


def gtin_check_digit(body: str) -> str:
    """GS1's check digit of the digits before it (weights 3 and 1 from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def valid_gtin(text: str) -> bool:
    """A GTIN-8, -12, -13 or -14 whose check digit is right."""
    return text.isdigit() and text.isascii() and len(text) in (8, 12, 13, 14) \
        and gtin_check_digit(text[:-1]) == text[-1]


def ocr_number(invoice_number: str) -> str:
    """A Swedish OCR reference: the invoice number, a length digit and a Luhn check digit (as bankgirot reads it)."""
    body = invoice_number + str((len(invoice_number) + 2) % 10)
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def cost_of(p: Product) -> float:
    """The purchase cost (chosen: about half the standard price, the seeded catalogue keeps no cost of its own)."""
    return round(p.base_price * 0.55, 2)
