"""The route table: every operation of the fake's API, declared once.

An entry names the facts operation (its id in the vendor Swagger: method, path, parameters, response and statuses
come from there), the rate-limit family, the handler, the paging scheme, and what the mock chose about it. The
request pipeline's classifier, the rate buckets, the OpenAPI document and the dispatch all derive from this table:
adding an operation is one entry plus its handler (ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import catalogue, customers, orders
from .call import Call
from .facts import OperationFacts, Param, facts

Handler = Callable[[Call], Any]
BASE = "/RESTAPI"
AREAS = ("v1_0", "internal_v1_0")

# Operations seen in a production client's request collection but not in the vendor Swagger (source: observed)
OBSERVED: dict[str, OperationFacts] = {
    "ProductAvailability_GetSingleProductAvailability": OperationFacts(
        "ProductAvailability_GetSingleProductAvailability", "GET",
        "/v1_0/{client}/ProductAvailability/{productNumber}/{warehouse}", "ProductAvailability", (200, 400, 404, 429),
        (Param("productNumber", "path", "string", True), Param("warehouse", "path", "string", True))),
}


@dataclass(frozen=True)
class Route:
    op_id: str
    handler: Handler
    family: str
    paging: str | None = None  # "A" | "B"
    notes: str = ""  # what the mock chose about this operation (OpenAPI description, labelled)
    facts: OperationFacts = field(init=False)
    area: str = field(init=False)
    resource: str = field(init=False)
    params: tuple[str, ...] = field(init=False)  # path parameters after the resource, in order

    def __post_init__(self) -> None:
        op = OBSERVED.get(self.op_id) or facts().operations[self.op_id]
        segments = op.path.strip("/").split("/")  # v1_0, {client}, Resource, {id}...
        object.__setattr__(self, "facts", op)
        object.__setattr__(self, "area", segments[0])
        object.__setattr__(self, "resource", segments[2])
        object.__setattr__(self, "params", tuple(s.strip("{}") for s in segments[3:]))

    @property
    def method(self) -> str:
        return self.facts.method

    @property
    def template(self) -> str:
        return BASE + self.facts.path

    @property
    def single(self) -> bool:
        """A single-record GET: the only kind of operation that answers 404 for an unknown key."""
        return 404 in self.facts.statuses

    @property
    def source(self) -> str:
        return "observed" if self.op_id in OBSERVED else "documented"


ROUTES: tuple[Route, ...] = (
    Route("CustomerOrders_GetAllOrders", orders.list_orders, "CustomerOrders", "A",
          "Ordered by orderNumber. Without modifiedDateFrom (and without orderNumber/orderNumberExternal) the list "
          "answers like a real tenant's timeout: 400 with the execution-timeout message (quirk "
          "orders_list_needs_modified_date)."),
    Route("CustomerOrders_PostNewOrder", orders.post_order, "CustomerOrders", None,
          "Answers the created order. A second order with an orderNumberExternal that exists is a 400 "
          "(duplicate_external_order: refuse); look an unanswered POST up by orderNumberExternal before sending "
          "it again. Quantities are whole units; unitPrice is kept exactly as sent (documented)."),
    Route("CustomerOrders_GetOrder", orders.get_order, "CustomerOrders"),
    Route("CustomerOrders_PutExistingOrder", orders.put_order, "CustomerOrders", None,
          "Header fields given replace the stored ones, orderRows given replace the rows; only while the order is "
          "Created (400 once Reserved). An unknown number is a 400."),
    Route("CustomerOrders_DeleteOrder", orders.delete_order, "CustomerOrders", None,
          "Cancels a Created order (Annulled, OrderCancelled). An unknown number is a 400."),
    Route("Products_GetAllProducts", catalogue.list_products, "Products", "A",
          "One row per product per warehouse, ordered by productNumber then warehouse, with the fields a real "
          "tenant adds (availableBalance, enabled, modifiedDate, productGroupsAndCategories). With "
          "modifiedDateFrom, products never changed since they were created are left out (quirk "
          "products_modified_misses_new)."),
    Route("Products_GetProduct", catalogue.get_product, "Products"),
    Route("ProductAvailability_GetProductAvailability", catalogue.list_availability, "ProductAvailability", "B",
          "One row per product per warehouse, ordered by productNumber then warehouse; modifiedDateFrom is "
          "inclusive and compares changeDate (the last change of any of the item's figures)."),
    Route("ProductAvailability_GetSingleProductAvailability", catalogue.get_availability, "ProductAvailability",
          None, "One item; in a production client's request collection, not in the vendor Swagger (observed)."),
    Route("ProductPrices_GetAllProductPrices", catalogue.list_prices, "ProductPrices", "B",
          "The customer's net best price now: the minimum of its price list, its group's discount lists and the "
          "campaigns running now (documented). At most 10 productNumberList values."),
    Route("Customers_GetCustomers", customers.list_customers, "Customers", "B",
          "Text filters match case-insensitively by containment; changedAfterDate is inclusive."),
    Route("Customers_PostNewCustomer", customers.post_customer, "Customers", None,
          "Needs name, customerLogisticsSettings and customerDeliveryAddress.address (documented); fires "
          "CustomerCreated."),
    Route("Customers_GetCustomer", customers.get_customer, "Customers"),
    Route("Customers_PutExistingCustomer", customers.put_customer, "Customers", None,
          "The fields given replace the stored ones; fires CustomerChanged. An unknown number is a 400."),
    Route("WarehouseStockLevels_GetWarehouseStocklevels", catalogue.list_stock_levels, "WarehouseStockLevels", "B",
          "balance is the physical balance."),
    Route("WarehouseStockLevels_AdjustBalance", catalogue.adjust_stock_level, "WarehouseStockLevels", None,
          "Moves the physical balance by balanceDifference on the real ledger (BalanceChanged, "
          "AvailableBalanceChanged); it cannot go below 0."),
    Route("WarehouseStockLevels_SetBalance", catalogue.set_stock_level, "WarehouseStockLevels", None,
          "Sets the physical balance on the real ledger (BalanceChanged, AvailableBalanceChanged)."),
)

RESOURCES: dict[str, str] = {}  # lower-case resource name -> canonical name
_TABLE: dict[tuple[str, str, int], dict[str, Route]] = {}
for _route in ROUTES:
    RESOURCES[_route.resource.lower()] = _route.resource
    _TABLE.setdefault((_route.area, _route.resource.lower(), len(_route.params)), {})[_route.method] = _route
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(r.family for r in ROUTES))
AREA_OF = {a.lower(): a for a in AREAS}


def match(area: str, resource: str, tail: list[str]) -> dict[str, Route] | None:
    """The routes (by method) of ``area/resource/<tail>``; None when none has that shape."""
    return _TABLE.get((area, resource.lower(), len(tail)))


def arities(area: str, resource: str) -> list[int]:
    return sorted(n for (a, r, n) in _TABLE if a == area and r == resource.lower())


def by_id(op_id: str) -> Route:
    return next(r for r in ROUTES if r.op_id == op_id)
