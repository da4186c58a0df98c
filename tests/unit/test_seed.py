"""Seeded start data: one seed, one catalogue; Swedish, realistic, valid check digits; sizes as configured."""

from __future__ import annotations

import re
from dataclasses import asdict

from mock_xtnd.domain.clock import parse_iso
from mock_xtnd.domain.seed import SeedSizes, generate, luhn_digit

START = parse_iso("2026-01-05T08:00:00.000Z")


def ean_ok(ean: str) -> bool:
    digits = [int(c) for c in ean]
    return sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12])) % 10 == (10 - digits[12]) % 10


def test_the_same_seed_gives_the_same_state_and_another_seed_another() -> None:
    sizes = SeedSizes(products=120, warehouses=3, customers=20)
    a, b, c = generate(7, sizes, START), generate(7, sizes, START), generate(8, sizes, START)
    assert asdict(a) == asdict(b)
    assert asdict(a) != asdict(c)
    assert [p.name for p in a.products.values()] != [p.name for p in c.products.values()]


def test_sizes_are_respected() -> None:
    s = generate(1, SeedSizes(products=77, warehouses=7, customers=9), START)
    assert len(s.products) == 77
    assert list(s.warehouses) == [str(i) for i in range(1, 8)]
    assert len(s.stock) == 77 * 7
    assert len(s.customers) == 9
    assert all(st.allocated == 0 and st.on_hand >= 0 and 0 <= st.blocked <= st.on_hand for st in s.stock.values())
    assert any(st.blocked for st in s.stock.values()), "some stock is blocked, so available differs from on hand"


def test_default_catalogue_is_swedish_and_realistic() -> None:
    s = generate(1, SeedSizes(), START)
    assert (len(s.products), len(s.warehouses), len(s.customers)) == (500, 3, 100)
    assert all(len(p.ean) == 13 and p.ean.startswith("73") and ean_ok(p.ean) for p in s.products.values())
    assert len({p.ean for p in s.products.values()}) > 490
    companies = [c for c in s.customers.values() if c.org_number]
    assert companies, "B2B customers have organisation numbers"
    for c in companies:
        assert re.fullmatch(r"55\d{4}-\d{4}", c.org_number)
        digits = c.org_number.replace("-", "")
        assert luhn_digit(digits[:9]) == digits[9]
    assert all(c.currency == "SEK" and c.delivery_address.country_code == "SE" for c in s.customers.values())
    assert all(re.fullmatch(r"\d{5}", c.delivery_address.postal_code) for c in s.customers.values())
    assert {c.customer_group for c in s.customers.values()} == {"RETAIL", "B2B-GOLD", "B2B-SILVER", "WHOLESALE"}
    assert any(c.salesperson for c in companies)
    assert all(p.changed_at <= START and p.created_at <= p.changed_at for p in s.products.values())
    assert any(ch in "åäöÅÄÖ" for p in s.products.values() for ch in p.name)


def test_product_numbers_are_free_text_with_spaces_and_slashes() -> None:
    numbers = list(generate(1, SeedSizes(products=500), START).products)
    assert len(set(numbers)) == 500
    assert "KM 1007" in numbers
    assert any(re.fullmatch(r"AB \d{5}/[ABC]", n) for n in numbers)
    assert any(re.fullmatch(r"[A-Z]{2}-\d{5}", n) for n in numbers)
    assert any(n.isdigit() for n in numbers)


def test_price_lists_and_campaigns_around_the_start() -> None:
    s = generate(1, SeedSizes(), START)
    flash = s.price_lists["CAMP-B2B-FLASH"]
    assert flash.kind == "Campaign" and flash.customer_groups == ["B2B-GOLD"]
    assert flash.valid_from is not None and flash.valid_to is not None
    assert flash.valid_from < START < flash.valid_to == START + 86_400_000
    std = s.price_lists["STD"].prices
    assert set(std) == set(s.products)
    assert all(price < std[pn] for pn, price in flash.prices.items())
    assert set(s.price_lists) >= {"STD", "B2B-GOLD", "B2B-SILVER", "CAMP-WINTER", "CAMP-B2B-FLASH"}
