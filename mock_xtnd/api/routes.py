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

from . import catalogue, customers, invoicing, master_data, offers, order_tools, orders, purchasing, reference
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
    scalar_body: Param | None = field(init=False)  # a scalar the Swagger puts in the body of a GET (isOpen)

    def __post_init__(self) -> None:
        op = OBSERVED.get(self.op_id) or facts().operations[self.op_id]
        object.__setattr__(self, "scalar_body", op.scalar_body)
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
    def limited(self) -> bool:
        """Counted against its family's rate limit: the operations whose facts document a 429 (the internal ones,
        GTINs and ProductProperties, and two of ProductDescriptions' do not, so they answer no 429; chosen)."""
        return 429 in self.facts.statuses

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
    # ------------------------------------------------------------------ purchasing and returns
    Route("PurchaseOrders_GetPurchaseOrderList", purchasing.list_purchases, "PurchaseOrders", "B",
          "Ordered by purchaseNumber. isOpen and isReceived, which the Swagger puts in the body of this GET: the "
          "body may hold isOpen (true, false or null); both are also read from the query string, where a value wins "
          "over the body's. createDateFrom/To are inclusive."),
    Route("PurchaseOrders_PostNewPurchaseOrder", purchasing.post_purchase, "PurchaseOrders", None,
          "Answers the purchase order as created (status Ordered). Each row needs productNumber and a whole "
          "purchaseDataProductUnit.quantity; the earliest expectedDeliveryDate of the rows is when the goods are "
          "expected (default: in 7 days). ProductAvailability shows them at once as nextReceivingDate, "
          "quantityOnNextReceiving and totalExpectedReceivingFromPurchase. No hook: XTND has none for a new "
          "purchase; arrivals fire PurchasePartiallyDelivered / PurchaseDelivered."),
    Route("PurchaseOrders_GetPurchaseOrder", purchasing.get_purchase, "PurchaseOrders", None,
          "rows carry the quantity ordered (purchaseDataProductUnit) and what arrived (unitDetails); each arrival "
          "is a shipment."),
    Route("PurchaseOrders_PutExistingPurchaseOrder", purchasing.put_purchase, "PurchaseOrders", None,
          "While goods may still arrive: the rows replace the quantities ordered (never below what arrived), the "
          "expected date moves (quantities that leave nothing due complete it: PurchaseDelivered), header.status "
          "Cancelled cancels the rest (PurchaseCancelled). A purchase received "
          "in full or cancelled, and an unknown number, are 400s."),
    Route("ReturnOrders_GetReturnOrderList", purchasing.list_returns, "ReturnOrders", "B",
          "Ordered by returnNumber. The body may hold isOpen (true, false or null); isOpen and isReceived are also "
          "read from the query string, where a value wins over the body's."),
    Route("ReturnOrders_PostNewReturnOrder", purchasing.post_return, "ReturnOrders", None,
          "createAction ReturnCompleteCustomerOrder or ReturnRowsFromCustomerOrder returns what was delivered of an "
          "order and not yet returned; ReturnProducts (or no createAction) returns the rows given. Until received "
          "(back office) the goods are totalExpectedReceivingFromReturn in ProductAvailability; receiving them puts "
          "them back on hand. A return with a customer is credited (ReturnOrderCredit, CustomerInvoiceCreated) as "
          "header.creditInvoiceAction says: Immediate when registered, WhenReceived (the default) once all has arrived "
          "or the rest is cancelled, Manual and Never not at all."),
    Route("ReturnOrders_GetReturnOrder", purchasing.get_return, "ReturnOrders"),
    Route("ReturnOrderRowCodes_GetAllReturnOrderRowCodes", purchasing.list_return_codes, "ReturnOrderRowCodes", None,
          "The tenant's return codes (seeded reference data); a return row's returnCode must be one of them."),
    # ------------------------------------------------------------------ invoicing
    Route("CustomerInvoices_GetCustomerInvoiceList", invoicing.list_invoices, "CustomerInvoices", "B",
          "Ordered by invoiceNumber. createDate, invoiceDate and dueDate match the same UTC day; changeDateFrom/To "
          "are inclusive."),
    Route("CustomerInvoices_GetCustomerInvoice", invoicing.get_invoice, "CustomerInvoices", None,
          "An invoice per pick of an order (OrderDebit), per CustomerOrderInvoices call, and a credit per return "
          "whose creditInvoiceAction is Immediate or WhenReceived (ReturnOrderCredit). The back office moves it Created -> InvoiceSent -> Paid "
          "(CustomerInvoiceChanged)."),
    Route("CustomerOrderInvoices_PostNewOrderToInvoice", invoicing.post_order_invoice, "CustomerOrderInvoices", None,
          "A new order (the CustomerOrder POST's rules) delivered from stock and invoiced at once: OrderCreated, "
          "OrderReserved, OrderPicked, the balance hooks and CustomerInvoiceCreated in one change. Every row must be "
          "on hand (400 otherwise)."),
    # ------------------------------------------------------------------ offers
    Route("Offers_GetAllOffers", offers.list_offers, "Offers", "B",
          "Ordered by offerNumber; offerDateFrom/To are inclusive, customerName matches by containment."),
    Route("Offers_GetOffer", offers.get_offer, "Offers", None,
          "A row without an agreed price shows the customer's best price now."),
    Route("Offers_PutExistingOffer", offers.put_offer, "Offers", None,
          "Answers CustomSuccess; a GET then reads the changes: rows replace the rows (unitPrice becomes the offer's price), "
          "offerStatus moves it, validToDate and the other header fields are replaced (OfferChanged). Only an open "
          "offer (Created, Sent, Resting) changes; the customer cannot. An unknown number is a 400."),
    # ------------------------------------------------------------------ order helpers
    Route("CustomerOrderATP_PostNewOrderATP", order_tools.post_atp, "CustomerOrderATP", None,
          "Changes nothing. Per row: availableBalance left for it after the rows before it, allocationStatus "
          "Physical (from stock: expectedDeliveryDate the asked date, or in two days), Purchase (the first receiving "
          "date that covers it) or NotAllocated."),
    Route("CustomerOrderCampaignProcessor_CampaignProcessorPostNewOrder", order_tools.post_campaign,
          "CustomerOrderCampaignProcessor", None,
          "Changes nothing. Each row priced at the customer's net best price now, from the same price book as "
          "ProductPrices; a row priced by a discount list or a campaign names it in rowPromotion."),
    Route("AgreedOrderAvailability_GetAgreedOrderAvailabilityList", order_tools.list_agreed,
          "AgreedOrderAvailability", "B",
          "One item per customer with open orders of orderType AgreedOrder: per row what was agreed (salesData) and "
          "delivered so far (deliveryData)."),
    Route("CustomerOrderProjects_GetAllProjects", order_tools.list_projects, "CustomerOrderProjects", None,
          "Seeded reference data."),
    Route("CustomerOrderReasonCodes_GetAllReasonCode", order_tools.list_reason_codes, "CustomerOrderReasonCodes",
          None, "Seeded reference data."),
    # ------------------------------------------------------------------ product master data
    Route("Products_PostNewProduct", master_data.post_product, "Products", None,
          "Needs productNumber and productData.productName; productGTINumber must be a valid GTIN, "
          "productGroupsAndCategories.productFamily a known group, the STD price-list row sets the standard price "
          "and VAT. Stocked at 0 in every warehouse. Fires ProductCreated. A number that exists is a 400."),
    Route("Products_PutExistingProduct", master_data.put_product, "Products", None,
          "The productData fields given replace the stored ones (annulled / enabled set the status); fires "
          "ProductChanged. The body's productNumber must be the path's; an unknown number is a 400."),
    Route("Products_DeleteProduct", master_data.delete_product, "Products", None,
          "XTND keeps a product's history: the product is annulled (annulled true, enabled false, ProductChanged), "
          "not removed, and is refused (400) while any warehouse holds, orders, blocks or expects it. Deleting it "
          "again changes nothing."),
    Route("ProductDescriptions_GetProductDescriptions", master_data.get_descriptions, "ProductDescriptions", None,
          "id is the product number (400 if unknown). A product has its description as Description / sv until "
          "texts are posted."),
    Route("ProductDescriptions_PostNewProductDescription", master_data.post_descriptions, "ProductDescriptions",
          None, "Each (textType, language) given is added or replaces the product's; answers all its texts; fires "
          "ProductChanged."),
    Route("ProductDescriptions_DeleteProductDescriptions", master_data.delete_description, "ProductDescriptions",
          None, "textType and language match case-insensitively; an unknown product or text is a 400; fires "
          "ProductChanged."),
    Route("ProductSupplierAgreements_GetAllProductSupplierAgreements", master_data.list_agreements,
          "ProductSupplierAgreements", "B",
          "Ordered by productNumber then supplierAgreementNumber. Every product has its group's seeded agreement."),
    Route("ProductSupplierAgreements_PostNewProductSupplierAgreement", master_data.post_agreement,
          "ProductSupplierAgreements", None,
          "A product's agreement number must be new (400 otherwise); fires ProductChanged."),
    Route("ProductSupplierAgreements_GetProductSupplierAgreement", master_data.get_agreement,
          "ProductSupplierAgreements", None, "id is the product number, id2 the supplierAgreementNumber."),
    Route("ProductSupplierAgreements_PutExistingProductSupplierAgreement", master_data.put_agreement,
          "ProductSupplierAgreements", None,
          "Replaces the agreement; the body must name the path's product and agreement; fires ProductChanged."),
    Route("ProductSupplierAgreements_DeleteProductSupplier", master_data.delete_agreement,
          "ProductSupplierAgreements", None, "Removes the agreement; fires ProductChanged. Unknown: 400."),
    Route("ProductUnits_GetAllProductUnits", master_data.list_units, "ProductUnits", None, "Seeded reference data."),
    Route("ProductProperties_GetAllProductProperties", master_data.list_properties, "ProductProperties", None,
          "The tenant's property values (colour, material, size, volume: seeded reference data). Not rate-limited "
          "(the facts document no 429)."),
    Route("ProductProperties_GetConnectedProductProperties", master_data.get_properties, "ProductProperties", None,
          "A seeded product carries the value its name ends with."),
    Route("ProductProperties_PostNewConnectedProductProperty", master_data.connect_property, "ProductProperties",
          None, "id2 is a property value's GUID (400 if unknown). Connecting it again changes nothing; fires "
          "ProductChanged."),
    Route("ProductProperties_DeleteConnectedProductProperty", master_data.disconnect_property, "ProductProperties",
          None, "A value not connected is a 400; fires ProductChanged."),
    Route("GTINs_GetNewGTIN", master_data.new_gtin, "GTINs", None,
          "A GTIN-13 from the tenant's range 7350099..., with GS1's check digit, never handed out before and carried "
          "by no product. Not rate-limited (the facts document no 429)."),
    # ------------------------------------------------------------------ history and reference data
    Route("BalanceAdjustments_GetBalanceAdjustment", reference.list_adjustments, "BalanceAdjustments", "B",
          "Every move of a physical or blocked balance, oldest first, with its event type (BalanceAdjustment, "
          "Stocktaking, Block, ManualReceiving for purchases, CorrectionIntake for returns, CorrectionOuttake for "
          "picks and other channels' shipments, UnAnnouncedOuttake for counter sales, SystemStart for a new product's first stock). The answer is "
          "the page's first adjustment, as the Swagger types it, carrying the page as balanceAdjustmentList with "
          "paginationInfo. The newest retention.balance_adjustments (100,000) are kept."),
    Route("Countries_GetAllCountries", reference.list_countries, "Countries", None, "Seeded reference data."),
    Route("Currencies_GetAllCurrencies", reference.list_currencies, "Currencies", None, "Seeded reference data."),
    Route("Currencies_GetCurrency", reference.get_currency, "Currencies", None,
          "The currency code matches case-insensitively."),
    Route("GenericReports_GetList", reference.get_report, "GenericReports", None,
          "Three seeded reports (docs/wire.md lists their ids), computed from the truth now. The Swagger gives no "
          "answer type; the fake answers {reportId, reportName, createDate, columns: [{name, type}], rows: "
          "[{column: value}]}. An unknown reportId is a 400."),
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
