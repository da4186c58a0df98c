"""Generate the operations tables of README.md and docs/wire.md from the route table and the vendored facts.

    python scripts/operations_table.py --write   # rewrite the generated blocks after changing the route table
    python scripts/operations_table.py --check   # exit 1 if a generated block is stale (CI, tests)
    python scripts/operations_table.py           # print the blocks

Sources, so the tables cannot drift from the code:

- the operations and their count: ``mock_xtnd.api.routes.ROUTES`` against the operations of the vendored facts
  (``mock_xtnd/api/xtnd_facts.json``). The headline says how many of the facts' operations have a route; an
  operation of the facts without one is listed as not implemented, never hidden;
- method, path, parameters, answer type and statuses: the facts (documented), or ``routes.OBSERVED`` (observed);
- endpoint family (rate bucket), whether it is rate-limited, paging scheme and what the mock chose: the ``Route``;
- the webhook actions: ``mock_xtnd.domain.events.ACTIONS``. Which operation fires which action is read from the
  handlers and domain code and kept here (``FIRES``), as are each action's follow-up GET (``FOLLOW_UP``) and its
  back-office causes (``BACKOFFICE``); every op id and action named there is checked against the route table and
  ACTIONS, so a renamed or removed one fails ``--check``.

Blocks are rewritten between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers: ``operations`` and
``webhooks`` in README.md, ``operations-reference`` in docs/wire.md. Text outside the markers is never touched.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
WIRE = ROOT / "docs" / "wire.md"
FACTS_FILE = ROOT / "mock_xtnd" / "api" / "xtnd_facts.json"

# ---------------------------------------------------------------------------------------------- kept by hand
# Groups of the tables, in order: (key, title); GROUP_OF_FAMILY puts each endpoint family in one.
GROUPS: tuple[tuple[str, str], ...] = (
    ("orders", "Customer orders"),
    ("stock", "Products, stock and prices"),
    ("customers", "Customers"),
    ("purchasing", "Purchasing and returns"),
    ("invoicing", "Invoicing"),
    ("offers", "Offers"),
    ("helpers", "Order helpers"),
    ("masterdata", "Product master data"),
    ("reference", "History and reference data"),
)
GROUP_OF_FAMILY: dict[str, str] = {
    "CustomerOrders": "orders",
    "Products": "stock",  # the writes of Products are master data (group_of)
    "ProductAvailability": "stock", "ProductPrices": "stock", "WarehouseStockLevels": "stock",
    "Customers": "customers",
    "PurchaseOrders": "purchasing", "ReturnOrders": "purchasing", "ReturnOrderRowCodes": "purchasing",
    "CustomerInvoices": "invoicing", "CustomerOrderInvoices": "invoicing",
    "Offers": "offers",
    "CustomerOrderATP": "helpers", "CustomerOrderCampaignProcessor": "helpers", "AgreedOrderAvailability": "helpers",
    "CustomerOrderProjects": "helpers", "CustomerOrderReasonCodes": "helpers",
    "ProductDescriptions": "masterdata", "ProductSupplierAgreements": "masterdata", "ProductUnits": "masterdata",
    "ProductProperties": "masterdata", "GTINs": "masterdata",
    "BalanceAdjustments": "reference", "Countries": "reference", "Currencies": "reference",
    "GenericReports": "reference",
}

# What the fake does, in one line (README). The route's notes say the rest (docs/wire.md).
SUMMARY: dict[str, str] = {
    "CustomerOrders_GetAllOrders": "orders changed since `modifiedDateFrom` (without it: the timeout quirk)",
    "CustomerOrders_PostNewOrder": "creates an order (`Created`), allocates stock, keeps the webshop's prices",
    "CustomerOrders_GetOrder": "one order with its rows, shipments and invoices",
    "CustomerOrders_PutExistingOrder": "replaces header fields and rows while the order is `Created`",
    "CustomerOrders_DeleteOrder": "cancels a `Created` order (`Annulled`), releases its allocation",
    "Products_GetAllProducts": "one row per product per warehouse, with the observed extra fields",
    "Products_GetProduct": "one product with prices, warehouses and suppliers",
    "ProductAvailability_GetProductAvailability": "balances per product per warehouse, changed since a date",
    "ProductAvailability_GetSingleProductAvailability": "one product's balances in one warehouse",
    "ProductPrices_GetAllProductPrices": "the customer's net best price now (price list, discounts, campaigns)",
    "Customers_GetCustomers": "customers by number, text filters and `changedAfterDate`",
    "Customers_PostNewCustomer": "registers a customer",
    "Customers_GetCustomer": "one customer",
    "Customers_PutExistingCustomer": "replaces the fields given",
    "WarehouseStockLevels_GetWarehouseStocklevels": "physical balances of one warehouse",
    "WarehouseStockLevels_AdjustBalance": "moves a physical balance by a difference on the real ledger",
    "WarehouseStockLevels_SetBalance": "sets a physical balance on the real ledger",
    "PurchaseOrders_GetPurchaseOrderList": "purchase orders by number, dates, warehouse, supplier, open/received",
    "PurchaseOrders_PostNewPurchaseOrder": "places a purchase order; ProductAvailability shows the expected goods",
    "PurchaseOrders_GetPurchaseOrder": "one purchase order: ordered, arrived, each arrival a shipment",
    "PurchaseOrders_PutExistingPurchaseOrder": "changes quantities or the expected date, or cancels the rest",
    "ReturnOrders_GetReturnOrderList": "return orders by number, dates, order, warehouse, customer, open/received",
    "ReturnOrders_PostNewReturnOrder": "registers a return of a delivered order, some of its rows, or products",
    "ReturnOrders_GetReturnOrder": "one return order with what has arrived and its credit",
    "ReturnOrderRowCodes_GetAllReturnOrderRowCodes": "the tenant's return codes (seeded)",
    "CustomerInvoices_GetCustomerInvoiceList": "invoices and credits by number, customer, order, dates, status",
    "CustomerInvoices_GetCustomerInvoice": "one invoice or credit with its rows and status",
    "CustomerOrderInvoices_PostNewOrderToInvoice": "a new order delivered from stock and invoiced at once",
    "Offers_GetAllOffers": "offers by number, status, dates, customer",
    "Offers_GetOffer": "one offer; rows without an agreed price at the customer's best price now",
    "Offers_PutExistingOffer": "changes an open offer's rows, prices, validity or status",
    "CustomerOrderATP_PostNewOrderATP": "what each row of an order could get and when; changes nothing",
    "CustomerOrderCampaignProcessor_CampaignProcessorPostNewOrder": "the prices an order would get now; changes "
                                                                     "nothing",
    "AgreedOrderAvailability_GetAgreedOrderAvailabilityList": "what is agreed and delivered on open agreed orders",
    "CustomerOrderProjects_GetAllProjects": "the tenant's order projects (seeded)",
    "CustomerOrderReasonCodes_GetAllReasonCode": "the tenant's order reason codes (seeded)",
    "Products_PostNewProduct": "creates a product, stocked at 0 in every warehouse",
    "Products_PutExistingProduct": "replaces the product data given",
    "Products_DeleteProduct": "annuls the product (kept, not removed); refused while stock or orders hold it",
    "ProductDescriptions_GetProductDescriptions": "a product's texts per text type and language",
    "ProductDescriptions_PostNewProductDescription": "adds or replaces a product's texts",
    "ProductDescriptions_DeleteProductDescriptions": "deletes one text of a product",
    "ProductSupplierAgreements_GetAllProductSupplierAgreements": "supplier agreements per product (a seeded one each)",
    "ProductSupplierAgreements_PostNewProductSupplierAgreement": "adds a supplier agreement to a product",
    "ProductSupplierAgreements_GetProductSupplierAgreement": "one supplier agreement of a product",
    "ProductSupplierAgreements_PutExistingProductSupplierAgreement": "replaces a supplier agreement",
    "ProductSupplierAgreements_DeleteProductSupplier": "removes a supplier agreement",
    "ProductUnits_GetAllProductUnits": "the tenant's product units (seeded)",
    "ProductProperties_GetAllProductProperties": "the tenant's property values (seeded)",
    "ProductProperties_GetConnectedProductProperties": "the property values a product carries",
    "ProductProperties_PostNewConnectedProductProperty": "connects a property value to a product",
    "ProductProperties_DeleteConnectedProductProperty": "disconnects a property value from a product",
    "GTINs_GetNewGTIN": "a new GTIN-13 from the tenant's range, never handed out before",
    "BalanceAdjustments_GetBalanceAdjustment": "the ledger's history: every move of a physical or blocked balance",
    "Countries_GetAllCountries": "the tenant's countries (seeded)",
    "Currencies_GetAllCurrencies": "the tenant's currencies (seeded)",
    "Currencies_GetCurrency": "one currency",
    "GenericReports_GetList": "one of three seeded reports, computed from the truth now",
}

# The webhook actions each operation fires when it succeeds (read from the handlers and the domain: Backend.emit).
# "when ..." says when an action fires only sometimes.
FIRES: dict[str, tuple[tuple[str, str], ...]] = {
    "CustomerOrders_PostNewOrder": (("OrderCreated", ""), ("AvailableBalanceChanged", "")),
    "CustomerOrders_PutExistingOrder": (("AvailableBalanceChanged", "when the rows move an allocation"),
                                        ("OrderDeliveryDataChanged", "when askedDeliveryDate moves")),
    "CustomerOrders_DeleteOrder": (("OrderCancelled", ""), ("AvailableBalanceChanged", "")),
    "Customers_PostNewCustomer": (("CustomerCreated", ""),),
    "Customers_PutExistingCustomer": (("CustomerChanged", ""),),
    "WarehouseStockLevels_AdjustBalance": (("BalanceChanged", "when the balance moves"),
                                           ("AvailableBalanceChanged", "when the available balance moves")),
    "WarehouseStockLevels_SetBalance": (("BalanceChanged", "when the balance moves"),
                                        ("AvailableBalanceChanged", "when the available balance moves")),
    "PurchaseOrders_PutExistingPurchaseOrder": (("PurchaseCancelled", "when header.status is Cancelled"),
                                                ("PurchaseDelivered", "when the new quantities leave nothing due")),
    "CustomerOrderInvoices_PostNewOrderToInvoice": (("OrderCreated", ""), ("OrderReserved", ""), ("OrderPicked", ""),
                                                    ("BalanceChanged", ""), ("AvailableBalanceChanged", ""),
                                                    ("CustomerInvoiceCreated", "")),
    "Offers_PutExistingOffer": (("OfferChanged", ""),),
    "Products_PostNewProduct": (("ProductCreated", ""),),
    "Products_PutExistingProduct": (("ProductChanged", ""),),
    "Products_DeleteProduct": (("ProductChanged", "unless already annulled"),),
    "ProductDescriptions_PostNewProductDescription": (("ProductChanged", ""),),
    "ProductDescriptions_DeleteProductDescriptions": (("ProductChanged", ""),),
    "ProductSupplierAgreements_PostNewProductSupplierAgreement": (("ProductChanged", ""),),
    "ProductSupplierAgreements_PutExistingProductSupplierAgreement": (("ProductChanged", ""),),
    "ProductSupplierAgreements_DeleteProductSupplier": (("ProductChanged", ""),),
    "ProductProperties_PostNewConnectedProductProperty": (("ProductChanged", "unless already connected"),),
    "ProductProperties_DeleteConnectedProductProperty": (("ProductChanged", ""),),
}

# Each action's follow-up: the GETs that read what the hook announces, and where that advice comes from.
FOLLOW_UP: dict[str, tuple[tuple[str, ...], str]] = {
    "AvailableBalanceChanged": (("ProductAvailability_GetSingleProductAvailability",
                                 "ProductAvailability_GetProductAvailability"), "documented: KB"),
    "BalanceChanged": (("ProductAvailability_GetSingleProductAvailability",
                        "WarehouseStockLevels_GetWarehouseStocklevels"), "chosen"),
    "OrderCreated": (("CustomerOrders_GetOrder",), "chosen"),
    "OrderReserved": (("CustomerOrders_GetOrder",), "documented: KB"),
    "OrderPicked": (("CustomerOrders_GetOrder",), "documented: KB"),
    "OrderCancelled": (("CustomerOrders_GetOrder",), "documented: KB"),
    "OrderDeliveryDataChanged": (("CustomerOrders_GetOrder",), "documented: KB"),
    "PurchasePartiallyDelivered": (("PurchaseOrders_GetPurchaseOrder",), "chosen"),
    "PurchaseDelivered": (("PurchaseOrders_GetPurchaseOrder",), "chosen"),
    "PurchaseCancelled": (("PurchaseOrders_GetPurchaseOrder",), "chosen"),
    "ProductCreated": (("Products_GetProduct",), "chosen"),
    "ProductChanged": (("Products_GetProduct", "ProductDescriptions_GetProductDescriptions"), "chosen"),
    "CustomerCreated": (("Customers_GetCustomer",), "chosen"),
    "CustomerChanged": (("Customers_GetCustomer",), "chosen"),
    "OfferCreated": (("Offers_GetOffer",), "chosen"),
    "OfferChanged": (("Offers_GetOffer",), "chosen"),
    "CustomerInvoiceCreated": (("CustomerInvoices_GetCustomerInvoice",), "chosen"),
    "CustomerInvoiceChanged": (("CustomerInvoices_GetCustomerInvoice",), "chosen"),
}

# What fires each action besides the API (the back office: /_mock routes and --simulate; docs/simulation.md).
BACKOFFICE: dict[str, str] = {
    "OrderCreated": "orders entered in XTND by a simulation round (phone/EDI)",
    "OrderReserved": "`POST /_mock/orders/{n}/reserve`; the simulated lifecycle; a pick of a `Created` order",
    "OrderPicked": "`POST /_mock/orders/{n}/pick`; the simulated lifecycle",
    "OrderCancelled": "`POST /_mock/orders/{n}/cancel`; a share of simulated orders",
    "OrderDeliveryDataChanged": "`POST /_mock/orders/{n}/delivery-date`; a share of simulated orders",
    "BalanceChanged": "`POST /_mock/stock`; picks; purchases and returns received; other channels selling or "
                      "shipping",
    "AvailableBalanceChanged": "all the causes of BalanceChanged; orders allocating or releasing; other channels "
                               "reserving; storms",
    "PurchasePartiallyDelivered": "`POST /_mock/backoffice/purchases/{n}/receive` (part); simulated purchases",
    "PurchaseDelivered": "`POST /_mock/backoffice/purchases/{n}/receive` (the rest); simulated purchases",
    "PurchaseCancelled": "`POST /_mock/backoffice/purchases/{n}/cancel`; a share of simulated purchases",
    "ProductCreated": "`POST /_mock/backoffice/products`; new articles in a simulation round",
    "ProductChanged": "edits of name, description, weight or base price in a simulation round",
    "CustomerCreated": "`POST /_mock/backoffice/customers`; customers registered in a simulation round",
    "CustomerChanged": "edits of phone, e-mail or delivery address in a simulation round",
    "OfferCreated": "`POST /_mock/backoffice/offers`; quotations in a simulation round (no API operation creates "
                    "one)",
    "OfferChanged": "`PUT /_mock/backoffice/offers/{n}`; simulated edits, acceptances, rejections",
    "CustomerInvoiceCreated": "every pick (an `OrderDebit`); a received return credited (a `ReturnOrderCredit`: "
                              "`POST /_mock/backoffice/returns/{n}/receive`, or `.../cancel` after part arrived)",
    "CustomerInvoiceChanged": "`POST /_mock/backoffice/invoices/{n}/change` (`Created` → `InvoiceSent` → `Paid`); "
                              "a share of simulated invoices",
}


# ---------------------------------------------------------------------------------------------- the model
@dataclass(frozen=True)
class Op:
    op_id: str
    method: str
    path: str  # /RESTAPI/v1_0/{client}/...
    source: str  # documented | observed
    implemented: bool
    family: str | None = None
    limited: bool = True
    paging: str | None = None
    notes: str = ""
    response: str | None = None
    statuses: tuple[int, ...] = ()
    params: tuple[tuple[str, str, bool], ...] = ()  # (name, where, required)

    @property
    def group(self) -> str:
        resource = self.path.split("/")[4]
        family = self.family or resource
        if family == "Products" and self.method != "GET":
            return "masterdata"
        return GROUP_OF_FAMILY.get(family, "reference")


@dataclass(frozen=True)
class Model:
    ops: tuple[Op, ...]
    facts_ids: frozenset[str]
    route_ids: frozenset[str]
    actions: tuple[str, ...]

    @property
    def missing(self) -> list[str]:
        """Operations of the vendor's facts that have no route."""
        return sorted(self.facts_ids - self.route_ids)

    @property
    def implemented_from_facts(self) -> int:
        return len(self.facts_ids & self.route_ids)

    @property
    def observed(self) -> list[Op]:
        return [op for op in self.ops if op.source == "observed"]

    def by_id(self, op_id: str) -> Op:
        return next(op for op in self.ops if op.op_id == op_id)


def load() -> Model:
    sys.path.insert(0, str(ROOT))
    from mock_xtnd.api.routes import BASE, ROUTES
    from mock_xtnd.domain.events import ACTIONS

    data = json.loads(FACTS_FILE.read_text(encoding="utf-8"))
    facts_ops: dict[str, dict[str, Any]] = {op["id"]: op for op in data["operations"]}
    ops: list[Op] = []
    for r in ROUTES:
        f = r.facts
        ops.append(Op(r.op_id, r.method, r.template, r.source, True, r.family, r.limited, r.paging, r.notes,
                      f.response, f.statuses, tuple((p.name, p.where, p.required) for p in f.params)))
    routed = {r.op_id for r in ROUTES}
    for op_id, raw in facts_ops.items():
        if op_id not in routed:
            ops.append(Op(op_id, raw["method"], BASE + raw["path"], "documented", False, None, 429 in raw["statuses"],
                          None, "", raw["response"], tuple(raw["statuses"]),
                          tuple((p["name"], p["in"], bool(p["required"])) for p in raw["params"])))
    return Model(tuple(ops), frozenset(facts_ops), frozenset(routed), tuple(ACTIONS))


def problems(model: Model) -> list[str]:
    """What the hand-kept maps name that the code does not have (each a reason for --check to fail)."""
    out: list[str] = []
    known = {op.op_id for op in model.ops if op.implemented}
    for op_id, fired in FIRES.items():
        if op_id not in known:
            out.append(f"FIRES names {op_id}, which has no route")
        out.extend(f"FIRES[{op_id}] names an unknown action {a}" for a, _ in fired if a not in model.actions)
    for action in model.actions:
        if action not in FOLLOW_UP:
            out.append(f"FOLLOW_UP has no entry for {action}")
        if action not in BACKOFFICE and not any(a == action for fired in FIRES.values() for a, _ in fired):
            out.append(f"nothing is said to fire {action}")
    for action, (op_ids, _) in FOLLOW_UP.items():
        if action not in model.actions:
            out.append(f"FOLLOW_UP names an unknown action {action}")
        for op_id in op_ids:
            if op_id not in known:
                out.append(f"FOLLOW_UP[{action}] names {op_id}, which has no route")
            elif model.by_id(op_id).method != "GET":
                out.append(f"FOLLOW_UP[{action}] names {op_id}, which is not a GET")
    out.extend(f"BACKOFFICE names an unknown action {a}" for a in BACKOFFICE if a not in model.actions)
    out.extend(f"SUMMARY names {op_id}, which has no route" for op_id in SUMMARY if op_id not in known)
    return out


# ---------------------------------------------------------------------------------------------- rendering
def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _first_sentence(text: str) -> str:
    m = re.match(r"(.+?\.)(\s|$)", text)
    return m.group(1) if m else text


def summary(op: Op) -> str:
    if not op.implemented:
        return "**not implemented**: answers 404"
    return SUMMARY.get(op.op_id) or _first_sentence(op.notes) or f"answers `{op.response}`"


def follow_ups_of(op_id: str) -> list[str]:
    return [a for a, (ids, _) in FOLLOW_UP.items() if op_id in ids]


def headline(model: Model) -> str:
    n, total = model.implemented_from_facts, len(model.facts_ids)
    text = (f"**{n} of {total} operations implemented**: every operation of the vendor's Swagger facts "
            if not model.missing else f"**{n} of {total} operations implemented**: ")
    if model.missing:
        text += (f"{len(model.missing)} operation(s) of the vendor's Swagger facts have no route and answer 404: "
                 + ", ".join(f"`{m}`" for m in model.missing) + ". ")
    else:
        text += "has a route. "
    observed = model.observed
    if observed:
        text += (f"Plus {len(observed)} observed in production and not in the Swagger ("
                 + ", ".join(f"`{op.method} {op.path.split('/{client}/', 1)[1]}`" for op in observed) + "). ")
    text += ("Counted by `scripts/operations_table.py` from the route table (`mock_xtnd/api/routes.py`) against "
             "`mock_xtnd/api/xtnd_facts.json`.")
    return text


def ordered(model: Model) -> Iterable[tuple[str, list[Op]]]:
    for key, title in GROUPS:
        ops = [op for op in model.ops if op.group == key]
        if ops:
            yield title, ops


def readme_operations(model: Model) -> str:
    lines = [headline(model), "", "| area | method | path | what the fake does |", "|---|---|---|---|"]
    for title, ops in ordered(model):
        for op in ops:
            label = " (observed)" if op.source == "observed" else ""
            lines.append(f"| {title} | {op.method} | `{op.path}` | {_cell(summary(op))}{label} |")
    lines += ["", "Every operation's parameters, family, paging, hooks and what the fake does behind it: "
                  "[docs/wire.md, \"Operation reference\"](docs/wire.md#operation-reference)."]
    return "\n".join(lines)


def readme_webhooks(model: Model) -> str:
    lines = ["| action | caused by the API | caused by the back office | follow-up GET |", "|---|---|---|---|"]
    for action in [*[a for a in FOLLOW_UP if a in model.actions], *[a for a in model.actions if a not in FOLLOW_UP]]:
        api = []
        for op_id, fired in FIRES.items():
            for a, when in fired:
                if a == action:
                    op = model.by_id(op_id)
                    api.append(f"`{op.method} {op.path.split('/{client}/', 1)[1]}`" + (f" ({when})" if when else ""))
        ids, source = FOLLOW_UP.get(action, ((), "missing"))
        follow = ", ".join(f"`GET {model.by_id(i).path.split('/{client}/', 1)[1]}`" for i in ids)
        lines.append(f"| `{action}` | {_cell('; '.join(api)) or '—'} | {_cell(BACKOFFICE.get(action, '—'))} | "
                     f"{follow} ({source}) |")
    return "\n".join(lines)


def _params(op: Op) -> str:
    if not op.params:
        return "none"
    return ", ".join(f"`{name}` ({where}{', required' if required else ''})" for name, where, required in op.params)


def wire_reference(model: Model) -> str:
    lines = [headline(model), "",
             "Per operation: method and path; the facts' operation id; the endpoint family it is counted in for "
             "rate limits; the paging scheme; the answer type and statuses as the facts document them (plus 401, "
             "413 with a body, and 500 only when a fault is injected); the parameters (documented, or observed); "
             "the webhook actions it fires and those whose follow-up it is; and what the fake does behind it, "
             "which is chosen by the mock unless a point says (documented) or (observed). Generated by "
             "`scripts/operations_table.py` from the route table: edit a route's `notes`, then run it with "
             "`--write`."]
    for title, ops in ordered(model):
        lines += ["", f"### {title}"]
        for op in ops:
            lines += ["", f"#### `{op.method} {op.path}`", ""]
            source = ("observed (a production client's request collection; not in the Swagger)"
                      if op.source == "observed" else "documented (vendor Swagger)")
            if not op.implemented:
                lines.append(f"`{op.op_id}` · {source} · **not implemented: answers 404**")
                continue
            family = (f"family `{op.family}`" if op.limited
                      else f"family `{op.family}`, not rate-limited (the facts document no 429)")
            paging = {"A": "paging A", "B": "paging B"}.get(op.paging or "", "no paging")
            statuses = ", ".join(str(s) for s in op.statuses)
            lines.append(f"`{op.op_id}` · {source} · {family} · {paging} · answers "
                         f"`{op.response or 'no type in the Swagger'}` · statuses {statuses}")
            lines += ["", f"- Parameters: {_params(op)}."]
            fired = FIRES.get(op.op_id, ())
            if fired:
                lines.append("- Fires: " + ", ".join(f"`{a}`" + (f" ({when})" if when else "") for a, when in fired)
                             + ".")
            follows = follow_ups_of(op.op_id)
            if follows:
                by_source: dict[str, list[str]] = {}
                for a in follows:
                    by_source.setdefault(FOLLOW_UP[a][1], []).append(f"`{a}`")
                lines.append("- Follow-up read for: " + "; ".join(f"{', '.join(acts)} ({src})"
                                                                for src, acts in by_source.items()) + ".")
            if not fired and op.method != "GET":
                lines.append("- Fires no webhook.")
            if op.notes:
                lines.append(f"- Chosen by the mock: {op.notes}")
    return "\n".join(lines)


def blocks(model: Model) -> dict[Path, dict[str, str]]:
    return {README: {"operations": readme_operations(model), "webhooks": readme_webhooks(model)},
            WIRE: {"operations-reference": wire_reference(model)}}


def replace_block(text: str, name: str, content: str, where: Path) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise SystemExit(f"{where}: needs exactly one {start} before one {end}")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n\n{content}\n\n{end}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the blocks in README.md and docs/wire.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when a file differs from what would be written")
    args = parser.parse_args(argv)
    model = load()
    found = problems(model)
    if found:
        for p in found:
            print(f"operations_table: {p}", file=sys.stderr)
        return 2
    if not (args.write or args.check):
        for path, named in blocks(model).items():
            for name, content in named.items():
                print(f"<!-- {path.relative_to(ROOT)}: {name} -->\n{content}\n")
        return 0
    stale = []
    for path, named in blocks(model).items():
        text = path.read_text(encoding="utf-8")
        new = text
        for name, content in named.items():
            new = replace_block(new, name, content, path)
        if args.write:
            if new != text:
                path.write_text(new, encoding="utf-8")
                print(f"wrote {path.relative_to(ROOT)}")
        elif new != text:
            stale.append(path)
    if stale:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run python scripts/operations_table.py --write",
                  file=sys.stderr)
        return 1
    if args.check:
        print(f"operations tables up to date ({model.implemented_from_facts} of {len(model.facts_ids)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
