"""Seeded, realistic start data with a Swedish flavour: sv_SE names and addresses, SEK prices, EAN-13 codes with
valid check digits (GS1 prefix 73 = Sweden), organisation numbers with valid Luhn check digits.

One seed gives byte-identical data. Products are generated from word lists with ``random.Random`` (fast enough for
100,000 products); faker (sv_SE) is used where it adds realism at small volume: customers and salespeople.
Nothing here reads the OS clock: times are offsets before the injected clock's start.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from faker import Faker

from .backend import State
from .models import Address, Customer, DiscountList, Offer, PriceList, Product, StockItem, Warehouse

NOUNS = (
    "Kaffemugg", "Skrivbordslampa", "Ryggsäck", "Termos", "Skärbräda", "Handduk", "Pläd", "Kudde", "Ljusstake",
    "Vattenflaska", "Stekpanna", "Kastrull", "Knivset", "Förvaringslåda", "Hylla", "Pall", "Matta", "Gardin",
    "Regnjacka", "Mössa", "Vantar", "Halsduk", "Strumpor", "Sneakers", "Kängor", "Solglasögon", "Paraply",
    "Hörlurar", "Laddare", "Powerbank", "USB-kabel", "Tangentbord", "Datormus", "Anteckningsbok", "Penna",
    "Blomkruka", "Vattenkanna", "Trädgårdssax", "Grillgaffel", "Tält", "Sovsäck", "Pannlampa", "Yogamatta",
)
ADJECTIVES = (
    "Klassisk", "Nordisk", "Robust", "Lätt", "Mjuk", "Stor", "Liten", "Ekologisk", "Premium", "Kompakt",
    "Vintage", "Modern", "Rustik", "Elegant", "Praktisk",
)
VARIANTS = ("Svart", "Vit", "Grå", "Blå", "Grön", "Röd", "Natur", "Ek", "Björk", "S", "M", "L", "XL", "1 l", "2 l")
GROUPS = ("HOME", "KITCHEN", "TEXTILE", "OUTDOOR", "ELECTRONICS", "OFFICE", "GARDEN", "APPAREL")
UNITS = ("st", "st", "st", "par", "set", "förp")
CUSTOMER_GROUPS = ("RETAIL", "B2B-GOLD", "B2B-SILVER", "WHOLESALE")
PRICE_LIST_OF_GROUP = {"RETAIL": "STD", "B2B-GOLD": "B2B-GOLD", "B2B-SILVER": "B2B-SILVER", "WHOLESALE": "STD"}
WAREHOUSES = (("1", "Centrallager Stockholm", "Stockholm"), ("2", "Lager Göteborg", "Göteborg"),
              ("3", "Lager Malmö", "Malmö"), ("4", "Lager Umeå", "Umeå"), ("5", "Lager Örebro", "Örebro"))
DAY = 86_400_000


@dataclass(frozen=True, slots=True)
class SeedSizes:
    products: int = 500
    warehouses: int = 3
    customers: int = 100


def ean13(rng: random.Random) -> str:
    digits = [7, 3] + [rng.randrange(10) for _ in range(10)]
    total = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def org_number(rng: random.Random) -> str:
    body = "55" + "".join(str(rng.randrange(10)) for _ in range(7))
    full = body + luhn_digit(body)
    return f"{full[:6]}-{full[6:]}"


def product_number(i: int, rng: random.Random) -> str:
    """Mostly plain numbers, some with letters, some with spaces and a few with slashes: XTND's product numbers
    are free text, and a client that does not encode path segments should find out here, not in production."""
    kind = i % 50
    if kind == 7:
        return f"KM {1000 + i}"
    if kind == 23:
        return f"AB {i:05d}/{rng.choice('ABC')}"
    if kind % 5 == 1:
        return f"{rng.choice(('AX', 'BR', 'CT', 'DL'))}-{10000 + i}"
    return str(100000 + i)


def generate(seed: int, sizes: SeedSizes, start_ms: int) -> State:
    rng = random.Random(seed)
    blocked_rng = random.Random(f"{seed}/blocked")
    fake = Faker("sv_SE")
    fake.seed_instance(seed)
    state = State()
    base_ms = start_ms - 400 * DAY

    for number, name, city in WAREHOUSES[: max(1, min(sizes.warehouses, len(WAREHOUSES)))]:
        state.warehouses[number] = Warehouse(number, name, city)
    for extra in range(len(WAREHOUSES) + 1, sizes.warehouses + 1):
        state.warehouses[str(extra)] = Warehouse(str(extra), f"Lager {extra}", "Sverige")

    std_prices: dict[str, float] = {}
    for i in range(sizes.products):
        number = product_number(i, rng)
        noun = rng.choice(NOUNS)
        group = rng.choice(GROUPS)
        name = f"{rng.choice(ADJECTIVES)} {noun.lower() if rng.random() < 0.2 else noun} {rng.choice(VARIANTS)}"
        changed = base_ms + rng.randrange(390 * DAY)
        price = round(rng.choice((49, 79, 99, 149, 199, 249, 299, 399, 499, 799, 1299)) - rng.choice((0, 0.1)), 2)
        status = "Active" if rng.random() < 0.96 else rng.choice(("Inactive", "Discontinued"))
        state.products[number] = Product(
            number=number,
            name=name,
            description=f"{name}. Artikel {number} i sortimentet {group.lower()}.",
            ean=ean13(rng),
            unit=rng.choice(UNITS),
            weight_kg=round(rng.uniform(0.05, 12.0), 3),
            vat_rate=rng.choice((25.0, 25.0, 25.0, 12.0, 6.0)),
            group=group,
            status=status,
            base_price=price,
            created_at=changed - rng.randrange(30 * DAY),
            changed_at=changed,
        )
        std_prices[number] = price
        for wh in state.warehouses:
            on_hand = 0 if rng.random() < 0.08 else rng.randrange(1, 250)
            # a few units blocked here and there (damaged, in quality control): availableBalanceNow excludes them
            # (their own generator, so adding them left every other seeded value as it was)
            blocked = min(on_hand, blocked_rng.randrange(1, 6)) if on_hand and blocked_rng.random() < 0.03 else 0
            state.stock[(number, wh)] = StockItem(number, wh, on_hand, 0, changed + rng.randrange(DAY), blocked)

    numbers = list(state.products)
    state.price_lists["STD"] = PriceList("STD", "Standardprislista", "PriceList", "SEK", None, None, std_prices, [], base_ms)
    for code, factor, share in (("B2B-GOLD", 0.82, 0.7), ("B2B-SILVER", 0.9, 0.5)):
        prices = {pn: round(std_prices[pn] * factor, 2) for pn in numbers if rng.random() < share}
        state.price_lists[code] = PriceList(code, f"Prislista {code}", "PriceList", "SEK", None, None, prices, [], base_ms)
    state.discount_lists["WHOLESALE-DISC"] = DiscountList(
        "WHOLESALE-DISC", "WHOLESALE", {"KITCHEN": 15.0, "OFFICE": 12.0, "HOME": 10.0}, None, None, base_ms
    )
    state.discount_lists["SILVER-DISC"] = DiscountList(
        "SILVER-DISC", "B2B-SILVER", {"ELECTRONICS": 8.0}, None, None, base_ms
    )
    hot = rng.sample(numbers, k=min(len(numbers), max(1, len(numbers) // 25)))
    state.price_lists["CAMP-WINTER"] = PriceList(
        "CAMP-WINTER", "Vinterkampanj", "Campaign", "SEK", start_ms - 2 * DAY, start_ms + 7 * DAY,
        {pn: round(std_prices[pn] * 0.7, 2) for pn in hot}, [], base_ms,
    )
    flash = rng.sample(numbers, k=min(len(numbers), max(1, len(numbers) // 50)))
    state.price_lists["CAMP-B2B-FLASH"] = PriceList(
        "CAMP-B2B-FLASH", "B2B flash 24h", "Campaign", "SEK", start_ms - 3_600_000, start_ms + DAY,
        {pn: round(std_prices[pn] * 0.6, 2) for pn in flash}, ["B2B-GOLD"], base_ms,
    )
    for pn in numbers:
        state.price_changed_at[pn] = base_ms

    salespeople = [fake.name() for _ in range(6)]
    for i in range(sizes.customers):
        number = str(10001 + i)
        group = CUSTOMER_GROUPS[0] if i % 3 == 0 else rng.choice(CUSTOMER_GROUPS)
        company = group != "RETAIL"
        name = fake.company() if company else fake.name()
        address = Address(name, fake.street_address(), fake.postcode().replace(" ", ""), fake.city(), "SE")
        changed = base_ms + rng.randrange(390 * DAY)
        state.customers[number] = Customer(
            number=number,
            name=name,
            org_number=org_number(rng) if company else "",
            email=fake.email(),
            phone=fake.phone_number(),
            customer_group=group,
            price_list=PRICE_LIST_OF_GROUP[group],
            salesperson=rng.choice(salespeople) if company else "",
            currency="SEK",
            invoice_address=address,
            delivery_address=address,
            created_at=changed - rng.randrange(200 * DAY),
            changed_at=changed,
        )
    seed_offers(state, seed, start_ms)
    return state


OFFER_STATUSES_SEEDED = ("Created", "Created", "Sent", "Sent", "Resting", "Accepted", "Rejected")


def seed_offers(state: State, seed: int, start_ms: int) -> None:
    """A few quotations to customers, one per ten customers (at least three): numbered from 600001, made in the
    last three weeks, valid 30 days, mostly still open. Their own generator: every other seeded value is as it was."""
    rng = random.Random(f"{seed}/offers")
    customers = list(state.customers)
    sellable = [pn for pn, p in state.products.items() if p.status == "Active"] or list(state.products)
    for i in range(max(3, len(customers) // 10)):
        created = start_ms - rng.randrange(1, 21 * DAY)
        lines = {rng.choice(sellable): rng.choice((5, 10, 20, 50, 100)) for _ in range(rng.randint(1, 3))}
        status = rng.choice(OFFER_STATUSES_SEEDED)
        number = str(600001 + i)
        state.offers[number] = Offer(number, rng.choice(customers), lines, status, created,
                                     created + rng.randrange(0, 3 * DAY) if status != "Created" else created,
                                     valid_to=created + 30 * DAY)
