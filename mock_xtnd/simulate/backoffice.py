"""The back office: what happens inside XTND without the webshop, so every one of the 18 webhook actions has a
cause. ``mock-xtnd serve --simulate`` turns the recurring rounds on; the admin routes work either way.

Who causes what (rates and delays in ``SimulationSettings``, chosen by the mock):

=============================  ===========================================================================
OrderCreated                   the webshop (API), or an order entered in XTND (phone/EDI) by a round
OrderReserved / OrderPicked    every order's lifecycle, planned when its OrderCreated commits; an order short of
                               stock ships what is on hand and is picked again later until all has shipped
OrderCancelled                 a share of orders, cancelled by the back office before picking
OrderDeliveryDataChanged       a share of orders get their expected delivery date moved
CustomerInvoiceCreated         picking (Backend.pick_order); crediting a received return
CustomerInvoiceChanged         a share of invoices is sent, and later paid
BalanceChanged                 purchases arriving, other channels shipping or selling, picking
AvailableBalanceChanged        all of the above plus reservations (orders, other channels, storms)
PurchasePartiallyDelivered /   purchase orders placed by a round arrive in one or two parts,
PurchaseDelivered /            or are cancelled
PurchaseCancelled
ProductCreated / Changed       new articles; edits of name, description, weight, base price
CustomerCreated / Changed      customers registered in XTND; edits of phone, e-mail, address
OfferCreated / OfferChanged    quotations made, then edited or closed
(no hook of its own)           a share of delivered orders comes back: a return registered, then received (the
                               goods back on hand: the balance hooks; credited: CustomerInvoiceCreated)
=============================  ===========================================================================

Deterministic: every decision draws from ``rt.ids.rng(...)`` streams and every delay is a timer on
``rt.scheduler`` read against ``rt.clock``, so one seed gives the same sequence under the virtual clock. Timers live
in memory only: after a restart with --db, ``_resume`` plans again what was in flight (orders waiting, purchases and
returns expected, other channels' holds, invoices to be sent and paid, deliveries that may come back).
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any, Literal

from faker import Faker
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from ..api.errors import json_response
from ..api.render import customer_full, product_full
from ..domain import backoffice as ops
from ..domain import masterdata, returns
from ..domain.backend import INT32_MAX, OrderInput, RowInput
from ..domain.clock import iso_ms
from ..domain.errors import DomainError, StoreUnavailable, bad_request
from ..domain.events import DomainEvent
from ..domain.models import Address, Offer, PurchaseOrder, ReturnOrder
from ..domain.reference import RETURN_ROW_CODES
from ..domain.seed import ADJECTIVES, CUSTOMER_GROUPS, NOUNS, VARIANTS, org_number
from ..runtime import Runtime
from .config import SimulationSettings
from .sampling import jittered, poisson

DAY_MS = 86_400_000
WAITING = ("Created", "Reserved", "PartiallyDelivered")  # orders the warehouse has not finished with

TICK_TIMER = "backoffice-tick"
RETRY_REFUSED_SECONDS = 5.0  # a lifecycle step whose commit was refused is tried again this much later


class BackOffice:
    """The Part that simulates XTND's back office (see the module docstring for who causes what)."""

    def __init__(self, rt: Runtime, config: SimulationSettings | None = None) -> None:
        self.rt = rt
        self.config = config or getattr(rt.settings, "simulation", None) or SimulationSettings()
        self.simulating = bool(rt.settings.simulate)
        self.channel = ops.OtherChannel("backoffice")
        self.channel.load(rt.loaded_records.get(ops.CHANNEL_RECORD_KIND, []))
        self._planned: set[str] = set()  # orders whose lifecycle timers exist
        self._faker: Faker | None = None
        self._listening = False

    # ------------------------------------------------------------------ Part protocol
    def admin_routers(self) -> list[Any]:
        return [router(self)]

    async def start(self) -> None:
        if self.simulating:
            self._listen()
            self._schedule_tick()
            self._resume()

    async def stop(self) -> None:
        if self._listening:
            self.rt.backend.after_commit.remove(self._on_commit)
            self._listening = False

    def truth_records(self) -> list[tuple[str, str, Any]]:
        """This part's sales channel's holds, for ``/_mock/truth`` (persisted as ``channel_reservation``)."""
        return self.channel.records()

    def reset_records(self) -> list[tuple[str, str, Any]]:
        return []

    def reset(self) -> list[tuple[str, str, Any]]:
        # the runtime has cleared the scheduler and replaced the state: forget plans, holds; tick again
        self._planned.clear()
        self.channel.clear()
        if self.simulating:
            self._schedule_tick()
        return []

    # ------------------------------------------------------------------ plumbing
    def _listen(self) -> None:
        if not self._listening:
            self.rt.backend.after_commit.append(self._on_commit)
            self._listening = True

    def _on_commit(self, events: list[DomainEvent]) -> None:
        for event in events:
            if event.action == "OrderCreated":
                self.plan_order(event.details["OrderNumber"])

    def _at(self, delay_seconds: float, name: str, action: Callable[[], object]) -> None:
        """Run ``action`` after a delay on the injected clock. A refusal (the webshop cancelled the order first,
        the purchase was cancelled...) is the world moving on, not a failure. A commit the store refused (the
        database locked by another process) did not happen: the step is tried again a little later."""

        def run() -> None:
            try:
                with contextlib.suppress(DomainError):
                    action()
            except StoreUnavailable:
                self._at(RETRY_REFUSED_SECONDS, name, action)

        self.rt.scheduler.call_at(self.rt.clock.now_ms() + max(0, round(delay_seconds * 1000)), name, run)
        if not self.rt.clock.is_virtual:
            self.rt.timeloop.poke()

    def _schedule_tick(self) -> None:
        def tick() -> None:
            self._schedule_tick()  # first, so a failing round never stops the simulation
            self.run_round()

        self.rt.scheduler.call_at(self.rt.clock.now_ms() + round(self.config.tick_seconds * 1000), TICK_TIMER, tick)

    def _resume(self) -> None:
        """After a restart with --db the timers are gone: plan what was in flight again."""
        b = self.rt.backend
        for number, order in list(b.state.orders.items()):
            if order.status in WAITING:
                self.plan_order(number)
        rng = self.rt.ids.rng("sim/resume")
        for po in list(b.state.purchases.values()):
            if po.status in ops.PURCHASE_OPEN:
                self._at(jittered(rng, self.config.purchase_lead_seconds, self.config.jitter), "purchase-arrives",
                         partial(ops.receive_purchase, b, po.number))
        for pn, wh in list(self.channel.held):
            self._at(jittered(rng, self.config.channel_ship_after_seconds, self.config.jitter), "channel-ships",
                     partial(self.channel.ship, b, pn, wh))
        for ret in list(b.state.returns.values()):
            if ret.status in returns.RETURN_OPEN:
                self._at(jittered(rng, self.config.return_receive_after_seconds, self.config.jitter),
                         "return-received", partial(returns.receive_return, b, ret.number))
        self._resume_after_picks(rng)

    def _resume_after_picks(self, rng: random.Random) -> None:
        """What ``_pick`` plans after shipping - the invoice sent, then paid; part of the order returned - died with
        the timers too. An invoice already sent is paid later; for invoices and deliveries still within their
        window the dice are cast again (as ``plan_order`` does for orders waiting), the delay counting from when it
        happened, so a restart neither loses these causes nor adds old ones."""
        b, cfg = self.rt.backend, self.config
        now = b.now()
        for inv in list(b.state.invoices.values()):
            if inv.kind != "OrderDebit" or inv.status not in ops.INVOICE_NEXT:
                continue
            after = jittered(rng, cfg.invoice_change_after_seconds, cfg.jitter)
            age = max(0.0, (now - inv.changed_at) / 1000)
            change = partial(ops.change_invoice, b, inv.number)
            if inv.status == "InvoiceSent":
                self._at(max(0.0, after - age), "invoice-change", change)
            elif age <= cfg.invoice_change_after_seconds * (1 + cfg.jitter) and rng.random() < cfg.invoice_change_share:
                self._at(max(0.0, after - age), "invoice-change", change)
                self._at(max(0.0, after - age) + after, "invoice-change", change)
        returned = {ret.reference_order for ret in b.state.returns.values()}
        for order in list(b.state.orders.values()):
            if order.status != "Terminated" or order.number in returned or not order.shipments \
                    or not any(r.picked for r in order.rows):
                continue
            age = max(0.0, (now - order.shipments[-1].pick_date) / 1000)
            if age <= cfg.return_after_seconds * (1 + cfg.jitter) and rng.random() < cfg.return_share:
                self._at(max(0.0, jittered(rng, cfg.return_after_seconds, cfg.jitter) - age), "return-registered",
                         partial(self._return, order.number))

    def faker(self, rng: random.Random) -> Faker:
        if self._faker is None:
            self._faker = Faker("sv_SE")
        self._faker.seed_instance(rng.getrandbits(32))
        return self._faker

    # ------------------------------------------------------------------ order lifecycle
    def plan_order(self, number: str) -> None:
        """Plan one order's way through the warehouse: Reserved after ~reserve_after, picked after ~pick_after;
        a share cancelled before picking instead; a share with the expected delivery date moved. An order that
        was partly shipped before a restart is picked again after ~repick_after."""
        if number in self._planned:
            return
        order = self.rt.backend.state.orders.get(number)
        if order is None or order.status not in WAITING:
            return
        self._planned.add(number)
        cfg, b = self.config, self.rt.backend
        rng = self.rt.ids.rng("sim/order")
        if order.status == "PartiallyDelivered":
            self._at(jittered(rng, cfg.repick_after_seconds, cfg.jitter), "order-pick", lambda: self._pick(number))
            return
        # delays count from creation, so orders resumed after a restart catch up
        age = max(0.0, (b.now() - order.created_at) / 1000)
        reserve_in = jittered(rng, cfg.reserve_after_seconds, cfg.jitter) - age
        pick_in = max(jittered(rng, cfg.pick_after_seconds, cfg.jitter) - age, reserve_in + 0.001)
        cancelled = rng.random() < cfg.cancel_share
        date_moved = rng.random() < cfg.delivery_date_share
        if order.status == "Created":
            self._at(reserve_in, "order-reserve", lambda: self._reserve(number))
        if date_moved:
            days = rng.randint(1, 5)
            self._at(reserve_in + rng.uniform(0.1, 0.9) * (pick_in - reserve_in), "order-delivery-date",
                     lambda: self._move_date(number, days))
        if cancelled:
            self._at(reserve_in + rng.uniform(0.05, 0.95) * (pick_in - reserve_in), "order-cancel",
                     lambda: self._cancel(number))
        else:
            self._at(pick_in, "order-pick", lambda: self._pick(number))

    def _reserve(self, number: str) -> None:
        if self.rt.backend.order(number).status == "Created":
            self.rt.backend.reserve_order(number)

    def _move_date(self, number: str, days: int) -> None:
        b = self.rt.backend
        order = b.order(number)
        base = order.asked_delivery_date if order.asked_delivery_date is not None else b.now() + 2 * DAY_MS
        b.move_delivery_date(number, base + days * DAY_MS)

    def _cancel(self, number: str) -> None:
        self._planned.discard(number)
        self.rt.backend.cancel_order(number, "backoffice")

    def _pick(self, number: str) -> None:
        """Ship what is on hand. What is still short (nothing on hand at all, or part of the order) waits for stock
        to arrive and is picked again ~repick_after later, until everything has shipped or the order is
        cancelled; otherwise a backordered order would hold its allocation for ever."""
        b, cfg = self.rt.backend, self.config
        invoices = len(b.order(number).invoice_numbers)
        with contextlib.suppress(DomainError):  # nothing on hand yet, or cancelled meanwhile
            b.pick_order(number)
        order = b.order(number)
        if order.status in WAITING:
            rng = self.rt.ids.rng("sim/repick")
            self._at(jittered(rng, cfg.repick_after_seconds, cfg.jitter), "order-pick", lambda: self._pick(number))
        else:
            self._planned.discard(number)
        if len(order.invoice_numbers) > invoices:  # this pick shipped something, and invoiced it
            invoice = order.invoice_numbers[-1]
            rng = self.rt.ids.rng("sim/invoice")
            if rng.random() < cfg.invoice_change_share:
                after = jittered(rng, cfg.invoice_change_after_seconds, cfg.jitter)
                # sent, then paid as long again later: CustomerInvoiceChanged each time
                self._at(after, "invoice-change", lambda: ops.change_invoice(b, invoice))
                self._at(2 * after, "invoice-change", lambda: ops.change_invoice(b, invoice))
        if order.status == "Terminated" and any(r.picked for r in order.rows):
            rng = self.rt.ids.rng("sim/return")
            if rng.random() < cfg.return_share:
                self._at(jittered(rng, cfg.return_after_seconds, cfg.jitter), "return-registered",
                         lambda: self._return(number))

    def _return(self, number: str) -> None:
        """The customer sends part of a delivered order back: a return of one row, received a little later (the
        goods back on hand, the order credited)."""
        b, cfg = self.rt.backend, self.config
        rng = self.rt.ids.rng("sim/return-row")
        order = b.order(number)
        picked = [r for r in order.rows if r.picked]
        row = rng.choice(picked)
        code = rng.choice([c for c, _ in RETURN_ROW_CODES])
        data = returns.ReturnInput("returnOrder", "ReturnRowsFromCustomerOrder", order_number=number,
                                   order_path="returnOrder.createAction.orderNumber", return_code=code, lines=[
                                       returns.ReturnLineInput("returnOrder.createAction.orderRows[0]",
                                                               quantity=rng.randint(1, row.picked),
                                                               order_position=row.position)])
        ret = returns.create_return(b, data)
        self._at(jittered(rng, cfg.return_receive_after_seconds, cfg.jitter), "return-received",
                 partial(returns.receive_return, b, ret.number))

    # ------------------------------------------------------------------ a round
    def run_round(self) -> Counter[str]:
        """One simulation round: each activity happens a Poisson number of times for its rate over one tick.
        Returns the actions the round emitted (not counting what its timers will do later)."""
        cfg = self.config
        rng = self.rt.ids.rng("sim/round")
        hours = cfg.tick_seconds / 3600
        emitted: Counter[str] = Counter()

        def count(events: list[DomainEvent]) -> None:
            emitted.update(e.action for e in events)

        activities: tuple[tuple[float, Callable[[random.Random], object]], ...] = (
            (cfg.purchases_per_hour, self._new_purchase),
            (cfg.channel_sales_per_hour, self._channel_sale),
            (cfg.orders_per_hour, self._new_order),
            (cfg.customers_per_hour, self._new_customer),
            (cfg.customer_edits_per_hour, self._edit_customer),
            (cfg.products_per_hour, self._new_product),
            (cfg.product_edits_per_hour, self._edit_product),
            (cfg.price_edits_per_hour, self._edit_price),
            (cfg.offers_per_hour, self._new_offer),
            (cfg.offer_changes_per_hour, self._change_offer),
        )
        self.rt.backend.after_commit.append(count)
        try:
            for rate, activity in activities:
                for _ in range(poisson(rng, rate * hours)):
                    # a refusal (nothing on hand to sell...) means that move simply does not happen this round
                    with contextlib.suppress(DomainError, StoreUnavailable):
                        activity(rng)
        finally:
            self.rt.backend.after_commit.remove(count)
        return emitted

    def _product(self, rng: random.Random, active: bool = True) -> str:
        numbers = list(self.rt.backend.state.products)
        pn = rng.choice(numbers)
        for _ in range(8):
            if not active or self.rt.backend.state.products[pn].status == "Active":
                break
            pn = rng.choice(numbers)
        return pn

    def _warehouse(self, rng: random.Random) -> str:
        return rng.choice(list(self.rt.backend.state.warehouses))

    def _customer(self, rng: random.Random) -> str:
        return rng.choice(list(self.rt.backend.state.customers))

    def _new_purchase(self, rng: random.Random, products: list[str] | None = None,
                      warehouse: str | None = None) -> PurchaseOrder:
        """Reorder what runs low: of a few sampled products, the ones with least available in the warehouse."""
        b, cfg = self.rt.backend, self.config
        wh = warehouse or self._warehouse(rng)
        if products is None:
            sampled = {self._product(rng) for _ in range(8)}
            stock = b.state.stock

            def available(pn: str) -> int:
                item = stock.get((pn, wh))
                return item.available if item else 0

            products = sorted(sampled, key=lambda pn: (available(pn), pn))[: rng.randint(1, 4)]
        po = ops.create_purchase_order(b, wh, {pn: rng.randrange(20, 201, 10) for pn in products})
        lead = jittered(rng, cfg.purchase_lead_seconds, cfg.jitter)
        number = po.number
        draw = rng.random()
        if draw < cfg.purchase_cancel_share:
            self._at(lead * rng.uniform(0.2, 0.8), "purchase-cancel", lambda: ops.cancel_purchase(b, number))
        elif draw < cfg.purchase_cancel_share + cfg.purchase_partial_share:
            first = max(1, sum(po.lines.values()) // 2)
            self._at(lead, "purchase-arrives", lambda: ops.receive_purchase(b, number, first))
            self._at(lead * 1.5, "purchase-arrives", lambda: ops.receive_purchase(b, number))
        else:
            self._at(lead, "purchase-arrives", lambda: ops.receive_purchase(b, number))
        return po

    def _channel_sale(self, rng: random.Random) -> None:
        """Half are sold over the counter (on-hand falls now), half reserved and shipped later."""
        b = self.rt.backend
        pn, wh, qty = self._product(rng, active=False), self._warehouse(rng), rng.randint(1, 3)
        item = b.state.stock.get((pn, wh))
        if rng.random() < 0.5 and item is not None and item.on_hand >= qty:
            ops.other_channel_sale(b, pn, wh, qty)
            return
        self.channel.reserve(b, pn, wh, qty)
        self._at(jittered(rng, self.config.channel_ship_after_seconds, self.config.jitter), "channel-ships",
                 lambda: self.channel.ship(b, pn, wh))

    def _new_order(self, rng: random.Random) -> None:
        """An order entered in XTND itself (phone, EDI): priced at the customer's best price."""
        b = self.rt.backend
        customer = b.customer(self._customer(rng))
        lines: dict[str, int] = {}
        for _ in range(rng.randint(1, 3)):
            lines[self._product(rng)] = rng.randint(1, 4)
        external = f"XTND-{b.ids.next('sim-order')}"
        warehouse = self._warehouse(rng)
        rows = [RowInput(pn, qty, b.product(pn).unit, f"orderRows[{i}]", warehouse=warehouse)
                for i, (pn, qty) in enumerate(lines.items())]  # priced at the customer's best price
        data = OrderInput("order", customer.number, external, b.now() + rng.randint(1, 5) * DAY_MS, rows,
                          {"orderMethod": "Phone"})
        order = b.create_order(data)
        self.plan_order(order.number)  # already planned by the listener when simulating

    def _new_customer(self, rng: random.Random) -> None:
        fake = self.faker(rng)
        group = rng.choice(CUSTOMER_GROUPS)
        company = group != "RETAIL"
        name = fake.company() if company else fake.name()
        address = Address(name, fake.street_address(), fake.postcode().replace(" ", ""), fake.city(), "SE")
        ops.register_customer(self.rt.backend, name=name, email=fake.email(), phone=fake.phone_number(),
                              address=address, customer_group=group, org_number=org_number(rng) if company else "")

    def _edit_customer(self, rng: random.Random) -> None:
        b = self.rt.backend
        customer = b.customer(self._customer(rng))
        fake = self.faker(rng)
        what = rng.choice(("phone", "email", "delivery_address"))
        if what == "delivery_address":
            value: object = Address(customer.name, fake.street_address(), fake.postcode().replace(" ", ""),
                                    fake.city(), "SE")
        else:
            value = fake.phone_number() if what == "phone" else fake.email()
        b.edit_customer(customer.number, **{what: value})

    def _new_product(self, rng: random.Random) -> None:
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(VARIANTS)}"
        product = ops.create_product(self.rt.backend, ops.ProductInput(name=name), rng)
        self._new_purchase(rng, products=[product.number])  # first stock comes from a supplier

    def _edit_product(self, rng: random.Random) -> None:
        b = self.rt.backend
        product = b.product(self._product(rng, active=False))
        what = rng.choice(("name", "description", "weight_kg", "base_price"))
        change = masterdata.ProductChange("backoffice")
        if what == "name":
            change.name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(VARIANTS)}"
        elif what == "description":
            change.description = f"{product.name}. {rng.choice(('Ny förpackning.', 'Uppdaterad text.', 'Ny leverantör.'))}"
        elif what == "weight_kg":
            change.weight_kg = round(product.weight_kg * rng.uniform(0.9, 1.1), 3)
        else:
            change.base_price = round(product.base_price * rng.choice((0.9, 0.95, 1.05, 1.1)), 2)
        masterdata.update_product(b, product.number, change)

    def _edit_price(self, rng: random.Random) -> None:
        b = self.rt.backend
        lists = sorted(code for code, pl in b.state.price_lists.items() if pl.kind == "PriceList" and code != "STD")
        if not lists:
            return
        product = b.product(self._product(rng))
        ops.change_list_price(b, rng.choice(lists), product.number, product.base_price * rng.uniform(0.75, 0.95))

    def _new_offer(self, rng: random.Random) -> None:
        lines = {self._product(rng): rng.randint(1, 50) for _ in range(rng.randint(1, 3))}
        ops.create_offer(self.rt.backend, self._customer(rng), lines)

    def _change_offer(self, rng: random.Random) -> None:
        b = self.rt.backend
        open_offers = [o for o in b.state.offers.values() if o.status in ops.OFFER_OPEN]
        if not open_offers:
            return
        offer = rng.choice(open_offers)
        if rng.random() < 0.4:
            ops.change_offer(b, offer.number, status=rng.choice(("Accepted", "Rejected", "Cancelled")))
        else:
            lines = {pn: max(1, qty + rng.randint(-5, 10)) for pn, qty in offer.lines.items()}
            ops.change_offer(b, offer.number, lines=lines)


# ---------------------------------------------------------------------------------------------- admin surface
class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class LineIn(_Body):
    productNumber: str = Field(min_length=1, max_length=40)
    quantity: int = Field(ge=1, le=1_000_000)


class PurchaseIn(_Body):
    warehouse: str = Field(min_length=1, max_length=50)
    rows: list[LineIn] = Field(min_length=1, max_length=1000)
    expectedInDays: float = Field(7.0, ge=0, le=3650)


class ReceiveIn(_Body):
    quantity: int | None = Field(None, ge=1, le=INT32_MAX)


class ProductIn(_Body):
    productName: str = Field(min_length=1, max_length=200)
    productNumber: str | None = Field(None, min_length=1, max_length=40)
    productDescription: str | None = Field(None, max_length=2000)
    productGroup: str | None = None
    productUnit: str | None = Field(None, max_length=20)
    price: float | None = Field(None, ge=0, le=1e9)
    vatPercent: float = Field(25.0, ge=0, le=100)
    weight: float | None = Field(None, ge=0, le=1e6)
    gtin: str | None = Field(None, max_length=14)
    physicalBalance: int = Field(0, ge=0, le=1_000_000)


class OfferIn(_Body):
    customerNumber: str = Field(min_length=1)
    rows: list[LineIn] = Field(min_length=1, max_length=1000)


class OfferChangeIn(_Body):
    rows: list[LineIn] | None = Field(None, min_length=1, max_length=1000)
    offerStatus: str | None = Field(None, description="Created, Sent, Resting, Rejected, Accepted, Cancelled (XTND's "
                                                      "OfferStatus; Open, Declined and Expired are understood too)")


class CustomerIn(_Body):
    name: str = Field(min_length=1, max_length=180)
    invoiceEmail: str = Field("", max_length=200)
    phone: str = Field("", max_length=100)
    customerGroup: str = "RETAIL"
    address1: str = Field("", max_length=200)
    postalCode: str = Field("", max_length=20)
    city: str = Field("", max_length=100)


class ChannelIn(_Body):
    productNumber: str = Field(min_length=1)
    warehouse: str = Field(min_length=1)
    quantity: int = Field(1, ge=1, le=1_000_000)
    mode: Literal["sell", "reserve", "release", "ship"] = "sell"


def _lines(lines: list[LineIn]) -> dict[str, int]:
    out: dict[str, int] = {}
    for ln in lines:
        out[ln.productNumber] = out.get(ln.productNumber, 0) + ln.quantity
    return out


def purchase_view(po: PurchaseOrder, dates: Callable[[int], str]) -> dict[str, Any]:
    return {"purchaseNumber": po.number, "warehouse": po.warehouse_number, "status": po.status,
            "rows": [{"productNumber": pn, "quantityDue": q} for pn, q in po.lines.items()],
            "expectedDate": dates(po.expected_at) if po.expected_at is not None else None,
            "createDate": dates(po.created_at), "changeDate": dates(po.changed_at)}


def return_view(ret: ReturnOrder, dates: Callable[[int], str]) -> dict[str, Any]:
    return {"returnNumber": ret.number, "warehouse": ret.warehouse_number, "status": ret.status,
            "referenceOrderNumber": ret.reference_order, "customerNumber": ret.customer_number,
            "rows": [{"productNumber": r.product_number, "quantity": r.quantity, "received": r.received,
                      "returnCode": r.return_code} for r in ret.rows],
            "creditInvoiceNumber": ret.credit_invoice, "createDate": dates(ret.created_at),
            "changeDate": dates(ret.changed_at)}


def offer_view(o: Offer, dates: Callable[[int], str]) -> dict[str, Any]:
    return {"offerNumber": o.number, "customerNumber": o.customer_number, "offerStatus": o.status,
            "rows": [{"productNumber": pn, "quantity": q} for pn, q in o.lines.items()],
            "createDate": dates(o.created_at), "changeDate": dates(o.changed_at)}


def router(bo: BackOffice) -> APIRouter:
    r = APIRouter(prefix="/backoffice", tags=["back office"])
    rt = bo.rt
    b = rt.backend
    dates = rt.dates.text

    @r.get("", summary="Whether the back office simulates on its own, and its rates (chosen by the mock)")
    async def status() -> Response:
        return json_response({"simulating": bo.simulating, "settings": bo.config.model_dump(),
                              "plannedOrders": len(bo._planned)})

    @r.post("/tick", summary="Run one simulation round now (its follow-ups run as the clock moves)")
    async def tick() -> Response:
        emitted = bo.run_round()
        return json_response({"now": iso_ms(rt.clock.now_ms()), "actions": dict(sorted(emitted.items()))})

    @r.get("/purchases", summary="Purchase orders")
    async def purchases() -> Response:
        return json_response({"items": [purchase_view(po, dates) for po in b.state.purchases.values()]})

    @r.post("/purchases", status_code=201,
            summary="Place a purchase order: {warehouse, rows: [{productNumber, quantity}], expectedInDays} (no hook "
                    "until goods arrive; ProductAvailability shows the expected receiving)")
    async def create_purchase(body: PurchaseIn) -> Response:
        po = ops.create_purchase_order(b, body.warehouse, _lines(body.rows), body.expectedInDays)
        return json_response(purchase_view(po, dates), 201)

    @r.post("/purchases/{purchaseNumber}/receive",
            summary="Goods arrive: {quantity?} units (default all due). Stock rises; PurchasePartiallyDelivered "
            "or PurchaseDelivered")
    async def receive(purchaseNumber: str, body: ReceiveIn | None = None) -> Response:
        quantity = body.quantity if body is not None else None
        return json_response(purchase_view(ops.receive_purchase(b, purchaseNumber, quantity), dates))

    @r.post("/purchases/{purchaseNumber}/cancel", summary="The rest will not come: PurchaseCancelled")
    async def cancel(purchaseNumber: str) -> Response:
        return json_response(purchase_view(ops.cancel_purchase(b, purchaseNumber), dates))

    @r.post("/products", status_code=201, summary="A new article (ProductCreated), stocked in every warehouse")
    async def create_product(body: ProductIn) -> Response:
        data = ops.ProductInput(name=body.productName, number=body.productNumber, description=body.productDescription,
                                group=body.productGroup, unit=body.productUnit, base_price=body.price,
                                vat_rate=body.vatPercent, weight_kg=body.weight, ean=body.gtin,
                                on_hand=body.physicalBalance)
        product = ops.create_product(b, data)
        return json_response(product_full(b, product, dates), 201)

    @r.post("/customers", status_code=201, summary="A customer registered in XTND (CustomerCreated)")
    async def create_customer(body: CustomerIn) -> Response:
        address = Address(body.name, body.address1, body.postalCode, body.city, "SE")
        customer = ops.register_customer(b, name=body.name, email=body.invoiceEmail, phone=body.phone,
                                         address=address, customer_group=body.customerGroup)
        return json_response(customer_full(customer, dates), 201)

    @r.post("/offers", status_code=201, summary="A quotation (OfferCreated)")
    async def create_offer(body: OfferIn) -> Response:
        return json_response(offer_view(ops.create_offer(b, body.customerNumber, _lines(body.rows)), dates), 201)

    @r.put("/offers/{offerNumber}", summary="An open offer's rows or status change (OfferChanged)")
    async def change_offer(offerNumber: str, body: OfferChangeIn) -> Response:
        lines = _lines(body.rows) if body.rows is not None else None
        status = None
        if body.offerStatus is not None:
            status = ops.offer_status(body.offerStatus)
            if status is None:
                raise bad_request(f"Unknown offer status '{body.offerStatus}'.",
                                  ("offerStatus", f"One of {', '.join(ops.OFFER_STATUSES)}."))
        return json_response(offer_view(ops.change_offer(b, offerNumber, lines=lines, status=status),
                                        dates))

    @r.post("/invoices/{invoiceNumber}/change",
            summary="An invoice moves along: Created -> InvoiceSent -> Paid (CustomerInvoiceChanged)")
    async def change_invoice(invoiceNumber: str) -> Response:
        invoice = ops.change_invoice(b, invoiceNumber)
        return json_response({"invoiceNumber": invoiceNumber, "orderNumber": invoice.order_number,
                              "invoiceStatus": invoice.status})

    @r.get("/returns", summary="Return orders")
    async def list_returns() -> Response:
        return json_response({"items": [return_view(ret, dates) for ret in b.state.returns.values()]})

    @r.post("/returns/{returnNumber}/receive",
            summary="Returned goods arrive: {quantity?} units (default all expected). Stock rises; once all has "
                    "arrived the return is Received and, with creditInvoiceAction WhenReceived, credited "
                    "(CustomerInvoiceCreated)")
    async def receive_return(returnNumber: str, body: ReceiveIn | None = None) -> Response:
        quantity = body.quantity if body is not None else None
        return json_response(return_view(returns.receive_return(b, returnNumber, quantity), dates))

    @r.post("/returns/{returnNumber}/cancel", summary="The rest of a return will not come (what arrived stays)")
    async def cancel_return(returnNumber: str) -> Response:
        return json_response(return_view(returns.cancel_return(b, returnNumber), dates))

    @r.post("/channel-sales",
            summary="Another sales channel on the same stock: sell (on-hand falls), reserve, release, ship")
    async def channel_sale(body: ChannelIn) -> Response:
        pn, wh = body.productNumber, body.warehouse
        if body.mode == "sell":
            item = ops.other_channel_sale(b, pn, wh, body.quantity)
        elif body.mode == "reserve":
            item = bo.channel.reserve(b, pn, wh, body.quantity)
        elif body.mode == "release":
            item = bo.channel.release(b, pn, wh, body.quantity)
        else:
            bo.channel.ship(b, pn, wh)
            item = b.state.stock[(pn, wh)]
        return json_response({"productNumber": pn, "warehouse": wh, "physicalBalance": item.on_hand,
                              "orderedQuantity": item.allocated, "blockedBalance": item.blocked,
                              "availableBalanceNow": item.available,
                              "heldByChannel": bo.channel.held.get((pn, wh), 0)})

    return r
