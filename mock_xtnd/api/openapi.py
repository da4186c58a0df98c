"""The fake's OpenAPI 3.0 document, derived from the route table and the vendored facts.

One route -> one operation: its path (relative to the ``/RESTAPI/{area}/{client}`` server), operationId (the facts
id), parameters, request body, statuses and 200 schema all come from ``Route.facts``; the components are the facts
schemas and enums the implemented operations reach, field for field (misspellings included). Nothing is listed by
hand twice: a new route appears here by itself. What the document adds is words and limits: each operation says
what is documented, observed or chosen by the mock (``Route.notes``, docs/wire.md), the paging parameters carry
the configured limits, and links tie created and listed records to their single-record operations (schemathesis'
stateful phase follows them).

``contracts/openapi.json`` is this document for default settings (scripts/export_openapi.py).
"""

from __future__ import annotations

import base64
from typing import Any

from ..settings import Settings
from .facts import Field, OperationFacts, Param, facts
from .routes import AREAS, BASE, ROUTES, Route

OPENAPI_VERSION = "3.0.3"
SECURITY = "ExtendBasicAuthorization"
MAIN_AREA = AREAS[0]  # v1_0: the document's server; other areas get a path-level server
ERROR = "Error"
BAD_REQUEST = "BadRequest"
_PRIMITIVES: dict[str, dict[str, str]] = {
    "string": {"type": "string"},
    "int": {"type": "integer", "format": "int32"},
    "double": {"type": "number", "format": "double"},
    "bool": {"type": "boolean"},
    "DateTimeOffset": {"type": "string", "format": "date-time"},
    "Guid": {"type": "string", "format": "uuid"},
}
_CHOSEN = "Chosen by the mock"
# answers of operations the Swagger gives no type for, as the fake chose them: not a schema of the document (the
# facts have none; the document says what they say), but its x-chosen-schema and words
CHOSEN_ANSWERS: dict[str, dict[str, Any]] = {
    "GenericReports_GetList": {
        "type": "object", "required": ["reportId", "reportName", "createDate", "columns", "rows"],
        "additionalProperties": True,
        "description": f"{_CHOSEN}: the vendor's Swagger gives this answer no type. A report as a table: its columns "
                       "(name and type: string, int or double) and one object per row, keyed by column name.",
        "properties": {
            "reportId": {"type": "string", "format": "uuid"},
            "reportName": {"type": "string"},
            "createDate": {"type": "string", "format": "date-time"},
            "columns": {"type": "array", "items": {
                "type": "object", "required": ["name", "type"], "additionalProperties": True,
                "properties": {"name": {"type": "string"}, "type": {"type": "string",
                                                                     "enum": ["string", "int", "double"]}}}},
            "rows": {"type": "array", "items": {"type": "object", "additionalProperties": True}},
        },
    },
}


# ---------------------------------------------------------------------------------------------- facts types
def split_type(type_name: str) -> tuple[str, bool, bool]:
    """``"int?"`` -> ("int", nullable, False); ``"CustomerOrderRow[]"`` / ``"List<X>"`` / ``"IEnumerable<X>"`` ->
    (item, False, array)."""
    nullable = type_name.endswith("?")
    base = type_name[:-1] if nullable else type_name
    if base.endswith("[]"):
        return base[:-2], nullable, True
    for prefix in ("List<", "IEnumerable<"):
        if base.startswith(prefix) and base.endswith(">"):
            return base[len(prefix):-1], nullable, True
    return base, nullable, False


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _item_schema(base: str) -> dict[str, Any]:
    if base in _PRIMITIVES:
        return dict(_PRIMITIVES[base])
    known = facts()
    if base in known.schemas or base in known.enums:
        return _ref(base)
    raise ValueError(f"the facts name a type the document cannot describe: {base!r}")


def type_schema(type_name: str, nullable: bool) -> dict[str, Any]:
    """A facts type as a JSON schema, as the vendor's own OpenAPI writes it: a nullable reference is wrapped in
    ``allOf`` (OpenAPI 3.0 ignores siblings of ``$ref``)."""
    base, marked, array = split_type(type_name)
    nullable = nullable or marked
    if array:
        out: dict[str, Any] = {"type": "array", "items": _item_schema(base)}
    else:
        out = _item_schema(base)
        if "$ref" in out:
            return {"allOf": [out], "nullable": True} if nullable else out
    if nullable:
        out["nullable"] = True
    return out


def field_schema(f: Field) -> dict[str, Any]:
    # "Default" fields may be absent or null; "Always" ones are required, nullable only where the type says "?"
    out = type_schema(f.type, nullable=not f.required)
    if f.max_length is not None:
        out["maxLength"] = f.max_length
    return out


def reachable(roots: list[str]) -> list[str]:
    """Every facts schema and enum the given types reach, in a stable order."""
    known = facts()
    seen: dict[str, None] = {}
    stack = list(reversed(roots))
    while stack:
        base = split_type(stack.pop())[0]
        if base in seen or (base not in known.schemas and base not in known.enums):
            continue
        seen[base] = None
        if base in known.schemas:
            stack.extend(reversed([f.type for f in known.schemas[base]]))
    return sorted(seen)


def component(name: str) -> dict[str, Any]:
    known = facts()
    if name in known.enums:
        return {"type": "string", "enum": list(known.enums[name])}
    fields = known.schemas[name]
    out: dict[str, Any] = {"type": "object", "properties": {f.name: field_schema(f) for f in fields},
                           "additionalProperties": True}
    required = [f.name for f in fields if f.required]
    if required:
        out["required"] = required
    return out


# ---------------------------------------------------------------------------------------------- paths
def relative_path(op: OperationFacts) -> str:
    """``/v1_0/{client}/CustomerOrders/{id}`` -> ``/CustomerOrders/{id}`` (the server carries area and client)."""
    segments = op.path.strip("/").split("/")
    return "/" + "/".join(segments[2:])


def server(area: str, settings: Settings) -> dict[str, Any]:
    return {
        "url": f"{BASE}/{area}/{{client}}",
        "description": f"this fake ({area})",
        "variables": {"client": {
            "default": settings.company,
            "description": f"The company (tenant) in XTND's base path (documented). {_CHOSEN}: one company per fake, "
                           f"named by the setting company ('{settings.company}'); another client answers 404."}},
    }


def _paging_limits(route: Route, param: Param, settings: Settings) -> tuple[dict[str, Any], str] | None:
    paging = settings.paging
    if route.paging == "A" and param.name == "pageCount":
        return ({"minimum": 1, "maximum": paging.max_page_count, "default": paging.default_page_count},
                f"Scheme A page size (documented: default 100). {_CHOSEN}: default {paging.default_page_count}, "
                f"at most {paging.max_page_count} (setting paging.max_page_count); less than 1 or more answers 400.")
    if route.paging == "A" and param.name == "pageOffset":
        return ({"minimum": 0, "default": 0},
                "Scheme A page index, 0 = the first page (documented; not a row offset). A page shorter than "
                "pageCount is the last. A page past the end at pageOffset > 0 answers 400 (observed quirk, setting "
                "quirks.page_past_end_400). A negative index answers 400 (chosen by the mock).")
    if route.paging == "B" and param.name == "pageNumber":
        return ({"minimum": 1, "default": 1},
                f"Scheme B page number, 1 = the first page (documented). {_CHOSEN}: {paging.page_size} items a "
                "page (setting paging.page_size); a page past the end is an empty list with paginationInfo; less "
                "than 1 answers 400.")
    return None


def parameter(route: Route, param: Param, settings: Settings) -> dict[str, Any]:
    schema = type_schema(param.type, nullable=False)
    out: dict[str, Any] = {"name": param.name, "in": param.where, "required": param.required or param.where == "path"}
    words: list[str] = []
    limits = _paging_limits(route, param, settings)
    if limits is not None:
        extra, text = limits
        if "$ref" not in schema:
            schema.update(extra)
        words.append(text)
    base, _, array = split_type(param.type)
    if array:
        out["style"], out["explode"] = "form", True
        if param.name == "productNumberList":
            schema["maxItems"] = settings.max_price_products
            words.append(f"Repeat the parameter once per product number; at most {settings.max_price_products} "
                         "(documented: 10; setting max_price_products); more answers 400.")
    if base == "DateTimeOffset":
        words.append("Read as UTC when it carries no offset (documented: \"fully qualified utc format\", "
                     "YYYY-MM-DDTHH:MM:SS). Chosen by the mock: an offset, Z or fractions are honoured, a bare date "
                     "is midnight UTC, from-filters are inclusive; an unparseable value answers 400.")
    if param.where == "path":
        words.append("Chosen by the mock: a key that holds spaces or '/' is URL-encoded (%20, %2F).")
    out["schema"] = schema
    if words:
        out["description"] = " ".join(words)
    return out


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def scalar_body(route: Route) -> dict[str, Any]:
    """The body of a GET the Swagger gives scalar body parameters (GET PurchaseOrders, GET ReturnOrders: isOpen and
    isReceived): the first of them, as the vendor's own OpenAPI writes it, required as the facts say."""
    param = route.scalar_body
    assert param is not None
    others = [p.name for p in route.facts.params if p.where == "body" and p is not param]
    words = (f"{param.name}: a {param.type} in the body of this GET (documented: the Swagger puts "
             f"{', '.join([param.name, *others])} in the body; a body holds one value, so it is {param.name}). "
             f"{_CHOSEN}: no body, or null, sets no filter; true or false filters; any other value answers 400 with "
             f"ModelState naming {param.name}. {', '.join([param.name, *others])} may also be given in the query "
             "string (true or false), where a value wins over the body's.")
    return {"required": param.required, "content": _json(type_schema(param.type, False)), "description": words}


_RATE_HEADERS = {
    "x-ratelimit-limit": "Calls allowed per window for this endpoint family and company (documented header).",
    "x-ratelimit-remaining": "Calls left in the window (documented header).",
    "x-ratelimit-reset": "Unix epoch seconds when the family's oldest counted call leaves the window (documented "
                         "header).",
}


def _rate_headers(required: bool = False) -> dict[str, Any]:
    """On every counted answer (a 200 and a 429 always; a 400 or 404 unless the harness injected it)."""
    return {name: {"description": text, "required": required, "schema": {"type": "integer"}}
            for name, text in _RATE_HEADERS.items()}


def responses(route: Route, settings: Settings) -> dict[str, Any]:
    op = route.facts
    out: dict[str, Any] = {}
    ok: dict[str, Any] = {"description": "OK. Every success is a 200, creates included (documented)."}
    if route.limited:
        ok["headers"] = _rate_headers(required=True)
    if op.response is not None:
        ok["content"] = _json(type_schema(op.response, nullable=False))
    elif route.op_id in CHOSEN_ANSWERS:
        # the facts give no type, so neither does the document: the shape the fake chose is an extension, words
        ok["content"] = {"application/json": {"x-chosen-schema": CHOSEN_ANSWERS[route.op_id]}}
        ok["description"] += f" {CHOSEN_ANSWERS[route.op_id]['description']}"
    out["200"] = ok
    for status in op.statuses:
        if status == 200:
            continue
        if status == 400:
            out["400"] = {
                "description": "Bad request (documented status). Chosen by the mock, in ASP.NET Web API 2 style: a "
                               "value that fails validation answers {\"Message\": \"The request is invalid.\", "
                               "\"ModelState\": {\"<body path or parameter>\": [\"<reason>\"]}}; a well-formed "
                               "request the fake refuses answers {\"Message\": \"<reason>\"}. Transient failures "
                               "arrive as a 400 too, with SQL Server's deadlock-victim or execution-timeout message "
                               "(observed quirk: retry those after a wait, never the others).",
                "content": _json(_ref(BAD_REQUEST))}
            if route.limited:
                out["400"]["headers"] = _rate_headers()
        elif status == 404:
            out["404"] = {"description": "No record with that key (documented: single-record reads only). "
                                         "Chosen by the mock: {\"Message\": \"<reason>\"}.",
                          "content": _json(_ref(ERROR))}
            if route.limited:
                out["404"]["headers"] = _rate_headers()
        elif status == 429:
            headers = _rate_headers(required=True)
            headers["Retry-After"] = {"description": "Seconds to wait before the next call (documented).",
                                      "required": True, "schema": {"type": "integer"}}
            out["429"] = {"description": "Too many requests (documented: \"Rate limit = Standard\"). Chosen by the "
                                         "mock: the call is not counted.",
                          "headers": headers, "content": _json(_ref(ERROR))}
        else:
            out[str(status)] = {"description": "Documented status.", "content": _json(_ref(ERROR))}
    out["401"] = {"description": "Missing, malformed or wrong ExtendBasicAuthorization (documented status). Chosen "
                                 "by the mock: {\"Message\": \"Authorization has been denied for this request.\"}.",
                  "content": _json(_ref(ERROR))}
    if op.body is not None or route.scalar_body is not None:
        out["413"] = {"description": f"{_CHOSEN}: a body larger than {settings.max_body_bytes} bytes (setting "
                                     "max_body_bytes).", "content": _json(_ref(ERROR))}
    return out


def _link(op_id: str, description: str, parameters: dict[str, str], body: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op_id, "parameters": parameters, "description": description}
    if body is not None:
        out["requestBody"] = body
    return out


def links() -> dict[str, dict[str, dict[str, Any]]]:
    """Where a 200 of one operation leads (operationId -> link name -> link). Only links between implemented
    operations are kept, so the table may name operations that come later."""
    order = "$response.body#/orderHeader/orderNumber"
    table: dict[str, dict[str, dict[str, Any]]] = {
        "CustomerOrders_PostNewOrder": {
            "GetCreatedOrder": _link("CustomerOrders_GetOrder", "Read the order just created.", {"id": order}),
            "ChangeCreatedOrder": _link("CustomerOrders_PutExistingOrder", "Change the order just created.",
                                        {"id": order}),
            "CancelCreatedOrder": _link("CustomerOrders_DeleteOrder", "Cancel the order just created.",
                                        {"id": order}),
        },
        "CustomerOrders_GetOrder": {
            "PutOrderBack": _link("CustomerOrders_PutExistingOrder", "Send the order read back unchanged.",
                                  {"id": "$request.path.id"}, "$response.body"),
            "CancelOrder": _link("CustomerOrders_DeleteOrder", "Cancel the order read.", {"id": "$request.path.id"}),
            "GetOrderCustomer": _link("Customers_GetCustomer", "Read the order's customer.",
                                      {"id": "$response.body#/orderHeader/customerNumber"}),
        },
        "CustomerOrders_GetAllOrders": {
            "GetFirstOrder": _link("CustomerOrders_GetOrder", "Read the first order of the page.",
                                   {"id": "$response.body#/0/orderNumber"}),
        },
        "Customers_PostNewCustomer": {
            "GetCreatedCustomer": _link("Customers_GetCustomer", "Read the customer just created.",
                                        {"id": "$response.body#/customerNumber"}),
            "ChangeCreatedCustomer": _link("Customers_PutExistingCustomer", "Change the customer just created.",
                                           {"id": "$response.body#/customerNumber"}),
            "PricesOfCreatedCustomer": _link("ProductPrices_GetAllProductPrices", "The new customer's prices.",
                                             {"customerNumber": "$response.body#/customerNumber"}),
        },
        "Customers_GetCustomer": {
            "PutCustomerBack": _link("Customers_PutExistingCustomer", "Send the customer read back unchanged.",
                                     {"id": "$request.path.id"}, "$response.body"),
            "CustomerPrices": _link("ProductPrices_GetAllProductPrices", "The customer's prices.",
                                    {"customerNumber": "$request.path.id"}),
        },
        "Customers_GetCustomers": {
            "GetFirstCustomer": _link("Customers_GetCustomer", "Read the first customer of the page.",
                                      {"id": "$response.body#/customerList/0/customerNumber"}),
            "FirstCustomerPrices": _link("ProductPrices_GetAllProductPrices", "The first customer's prices.",
                                         {"customerNumber": "$response.body#/customerList/0/customerNumber"}),
        },
        "Products_GetAllProducts": {
            "GetFirstProduct": _link("Products_GetProduct", "Read the first product of the page.",
                                     {"id": "$response.body#/0/productNumber"}),
            "FirstProductAvailability": _link(
                "ProductAvailability_GetSingleProductAvailability", "The first row's availability.",
                {"productNumber": "$response.body#/0/productNumber", "warehouse": "$response.body#/0/warehouse"}),
        },
        "ProductAvailability_GetProductAvailability": {
            "GetFirstAvailability": _link(
                "ProductAvailability_GetSingleProductAvailability", "Read the first item of the page singly.",
                {"productNumber": "$response.body#/productAvailabilityList/0/productNumber",
                 "warehouse": "$response.body#/productAvailabilityList/0/warehouse"}),
            "GetFirstAvailabilityProduct": _link(
                "Products_GetProduct", "Read the first item's product.",
                {"id": "$response.body#/productAvailabilityList/0/productNumber"}),
        },
        "WarehouseStockLevels_GetWarehouseStocklevels": {
            "FirstStockLevelAvailability": _link(
                "ProductAvailability_GetSingleProductAvailability", "The first stock level's availability.",
                {"productNumber": "$response.body#/stockLevelItemList/0/productNumber",
                 "warehouse": "$response.body#/stockLevelItemList/0/warehouse"}),
        },
        "ProductPrices_GetAllProductPrices": {
            "GetFirstPricedProduct": _link("Products_GetProduct", "Read the first priced product.",
                                           {"id": "$response.body#/productPriceItemList/0/productNumber"}),
        },
        # ------------------------------------------------------------------ purchasing and returns
        "PurchaseOrders_PostNewPurchaseOrder": {
            "GetCreatedPurchase": _link("PurchaseOrders_GetPurchaseOrder", "Read the purchase order just created.",
                                        {"id": "$response.body#/header/purchaseNumber"}),
            "PutCreatedPurchaseBack": _link("PurchaseOrders_PutExistingPurchaseOrder",
                                            "Send the purchase order just created back unchanged.",
                                            {"id": "$response.body#/header/purchaseNumber"}, "$response.body"),
        },
        "PurchaseOrders_GetPurchaseOrder": {
            "PutPurchaseBack": _link("PurchaseOrders_PutExistingPurchaseOrder", "Send the purchase order read back.",
                                     {"id": "$request.path.id"}, "$response.body"),
            "FirstRowAvailability": _link(
                "ProductAvailability_GetSingleProductAvailability", "The first row's expected receiving.",
                {"productNumber": "$response.body#/rows/0/productNumber",
                 "warehouse": "$response.body#/header/warehouse"}),
        },
        "PurchaseOrders_GetPurchaseOrderList": {
            "GetFirstPurchase": _link("PurchaseOrders_GetPurchaseOrder", "Read the first purchase order of the page.",
                                      {"id": "$response.body#/purchaseOrderList/0/purchaseNumber"}),
        },
        "ReturnOrders_PostNewReturnOrder": {
            "GetCreatedReturn": _link("ReturnOrders_GetReturnOrder", "Read the return just registered.",
                                      {"id": "$response.body#/header/returnNumber"}),
        },
        "ReturnOrders_GetReturnOrderList": {
            "GetFirstReturn": _link("ReturnOrders_GetReturnOrder", "Read the first return of the page.",
                                    {"id": "$response.body#/returnOrderList/0/returnNumber"}),
        },
        # ------------------------------------------------------------------ invoicing
        "CustomerInvoices_GetCustomerInvoiceList": {
            "GetFirstInvoice": _link("CustomerInvoices_GetCustomerInvoice", "Read the first invoice of the page.",
                                     {"id": "$response.body#/customerInvoiceList/0/invoiceNumber"}),
        },
        "CustomerInvoices_GetCustomerInvoice": {
            "GetInvoiceCustomer": _link("Customers_GetCustomer", "Read the invoice's customer.",
                                        {"id": "$response.body#/invoiceHeader/customerNumber"}),
        },
        "CustomerOrderInvoices_PostNewOrderToInvoice": {
            "GetNewInvoice": _link("CustomerInvoices_GetCustomerInvoice", "Read the invoice just made.",
                                   {"id": "$response.body#/invoiceNumber"}),
        },
        # ------------------------------------------------------------------ offers
        "Offers_GetAllOffers": {
            "GetFirstOffer": _link("Offers_GetOffer", "Read the first offer of the page.",
                                   {"id": "$response.body#/offerItemList/0/offerNumber"}),
            "ChangeFirstOffer": _link("Offers_PutExistingOffer", "Change the first offer of the page.",
                                      {"id": "$response.body#/offerItemList/0/offerNumber"}),
        },
        "Offers_GetOffer": {
            "PutOfferBack": _link("Offers_PutExistingOffer", "Send the offer read back.", {"id": "$request.path.id"},
                                  "$response.body"),
            "GetOfferCustomer": _link("Customers_GetCustomer", "Read the offer's customer.",
                                      {"id": "$response.body#/offerHeader/customerNumber"}),
        },
        # ------------------------------------------------------------------ master data
        "Products_PostNewProduct": {
            "GetCreatedProduct": _link("Products_GetProduct", "Read the product just created.",
                                       {"id": "$response.body#/Information"}),
            "PutCreatedProductBack": _link("Products_PutExistingProduct", "Send the product just created again, "
                                           "as a change.", {"id": "$response.body#/Information"}, "$request.body"),
            "DeleteCreatedProduct": _link("Products_DeleteProduct", "Annul the product just created.",
                                          {"id": "$response.body#/Information"}),
            "TextsOfCreatedProduct": _link("ProductDescriptions_GetProductDescriptions",
                                           "The texts of the product just created.",
                                           {"id": "$response.body#/Information"}),
        },
        "Products_GetProduct": {
            "PutProductBack": _link("Products_PutExistingProduct", "Send the product read back.",
                                    {"id": "$request.path.id"}, "$response.body"),
            "ProductTexts": _link("ProductDescriptions_GetProductDescriptions", "The product's descriptions.",
                                  {"id": "$request.path.id"}),
            "ProductAgreements": _link("ProductSupplierAgreements_GetAllProductSupplierAgreements",
                                       "The product's supplier agreements.", {"productNumber": "$request.path.id"}),
            "ProductPropertyValues": _link("ProductProperties_GetConnectedProductProperties",
                                           "The product's property values.", {"id": "$request.path.id"}),
        },
        "ProductDescriptions_GetProductDescriptions": {
            "PostTextsBack": _link("ProductDescriptions_PostNewProductDescription", "Post the texts read back.", {},
                                   "$response.body"),
        },
        "ProductDescriptions_PostNewProductDescription": {
            "GetPostedTexts": _link("ProductDescriptions_GetProductDescriptions", "Read the product's texts back.",
                                    {"id": "$response.body#/productNumber"}),
            "DeleteFirstText": _link(
                "ProductDescriptions_DeleteProductDescriptions", "Delete the product's first text.",
                {"productNumber": "$response.body#/productNumber",
                 "textType": "$response.body#/productDescriptionItemList/0/textType",
                 "language": "$response.body#/productDescriptionItemList/0/language"}),
        },
        "ProductSupplierAgreements_PostNewProductSupplierAgreement": {
            "GetCreatedAgreement": _link(
                "ProductSupplierAgreements_GetProductSupplierAgreement", "Read the agreement just created.",
                {"id": "$request.body#/productNumber", "id2": "$request.body#/supplierAgreementNumber"}),
            "PutCreatedAgreementBack": _link(
                "ProductSupplierAgreements_PutExistingProductSupplierAgreement",
                "Send the agreement just created again, as a change.",
                {"id": "$request.body#/productNumber", "id2": "$request.body#/supplierAgreementNumber"},
                "$request.body"),
            "DeleteCreatedAgreement": _link(
                "ProductSupplierAgreements_DeleteProductSupplier", "Delete the agreement just created.",
                {"id": "$request.body#/productNumber", "id2": "$request.body#/supplierAgreementNumber"}),
        },
        "ProductSupplierAgreements_GetAllProductSupplierAgreements": {
            "GetFirstAgreement": _link(
                "ProductSupplierAgreements_GetProductSupplierAgreement", "Read the first agreement of the page.",
                {"id": "$response.body#/productSupplierAgreementList/0/productNumber",
                 "id2": "$response.body#/productSupplierAgreementList/0/supplierAgreementNumber"}),
        },
        "ProductSupplierAgreements_GetProductSupplierAgreement": {
            "PutAgreementBack": _link("ProductSupplierAgreements_PutExistingProductSupplierAgreement",
                                      "Send the agreement read back.",
                                      {"id": "$request.path.id", "id2": "$request.path.id2"}, "$response.body"),
            "DeleteAgreement": _link("ProductSupplierAgreements_DeleteProductSupplier", "Delete the agreement read.",
                                     {"id": "$request.path.id", "id2": "$request.path.id2"}),
        },
        "Currencies_GetAllCurrencies": {
            "GetFirstCurrency": _link("Currencies_GetCurrency", "Read the first currency.",
                                      {"id": "$response.body#/0/currencyId"}),
        },
    }
    table["CustomerOrders_GetOrder"]["GetOrderInvoice"] = _link(
        "CustomerInvoices_GetCustomerInvoice", "Read the order's first invoice.",
        {"id": "$response.body#/orderHeader/customerInvoices/0/invoiceNumber"})
    implemented = {r.op_id for r in ROUTES}
    return {source: {name: link for name, link in by_name.items() if link["operationId"] in implemented}
            for source, by_name in table.items() if source in implemented}


# ---------------------------------------------------------------------------------------------- words
def _paging_words(route: Route, settings: Settings) -> str:
    if route.paging == "A":
        return ("Paging scheme A (documented): pageCount is the page size, pageOffset the page index from 0; the "
                "answer is a bare array and a page shorter than pageCount is the last.")
    if route.paging == "B":
        return (f"Paging scheme B (documented): pageNumber from 1; the answer carries the list and paginationInfo. "
                f"{_CHOSEN}: {settings.paging.page_size} items a page.")
    return ""


def operation_description(route: Route, settings: Settings) -> str:
    op = route.facts
    if route.source == "observed":
        source = (f"Observed: in a production client's request collection, not in the vendor's Swagger; the "
                  f"answer is one {op.response} as the Swagger defines it.")
    else:
        source = f"Documented: the vendor's Swagger operation {op.id}, with its parameters, schemas and statuses."
    parts = [source, _paging_words(route, settings)]
    if route.notes:
        parts.append(f"{_CHOSEN}: {route.notes}")
    statuses = ", ".join(str(s) for s in op.statuses)
    parts.append(f"Statuses: {statuses} (as the facts document them), 401 without valid credentials"
                 + (", 413 past the body limit" if op.body is not None or route.scalar_body is not None else "")
                 + f"; {_CHOSEN}: 500 {{\"Message\": \"An error has occurred.\"}} only when the harness injects a "
                   "fault. " + (f"Rate-limit family: {route.family}." if route.limited
                               else "Not rate-limited (the facts document no 429 for it)."))
    return " ".join(p for p in parts if p)


def _summary(route: Route) -> str:
    kind = {"GET": "Read" if route.params else "List", "POST": "Create", "PUT": "Change", "DELETE": "Cancel"}
    verb = kind.get(route.method, route.method)
    if route.resource == "WarehouseStockLevels" and route.method != "GET":
        verb = "Adjust the balance of" if route.method == "PUT" else "Set the balance of"
        return f"{verb} a stock level"
    keys = " by " + " and ".join(route.params) if route.params else ""
    return f"{verb} {route.resource}{keys}"


def api_description(settings: Settings) -> str:
    limits = settings.rate_limits
    families = ", ".join(f"{k} {v}" for k, v in sorted(limits.families.items()))
    quirks = settings.quirks
    return "\n\n".join([
        "XTND's REST API (Extend Commerce ERP/WMS) as this offline fake speaks it. Each point below says whether it "
        "follows something documented (the vendor's knowledge base or Swagger, whose schemas are used field for "
        "field, misspellings included), something observed on a production tenant, or something chosen by the mock "
        "where neither speaks (configurable where a real tenant could differ; docs/wire.md).",
        f"**Base URL and tenant.** {BASE}/v1_0/{{client}}/{{Resource}} (documented). {_CHOSEN}: one company per "
        f"fake, named by the setting company (here '{settings.company}'); another client answers 404. {_CHOSEN}: "
        "path segments and query parameter names match case-insensitively, as ASP.NET does. "
        f"{_CHOSEN}: keys that hold spaces or '/' are URL-encoded. {_CHOSEN}: a wrong base path answers 404 with a "
        "Message naming the right one.",
        "**Authentication.** Every call carries ExtendBasicAuthorization: Basic base64(username:password) "
        "(documented; not Authorization, no tokens, no cookies). Users come from the setting users (default demo / "
        f"demo-secret). {_CHOSEN}: missing or wrong credentials answer 401 {{\"Message\": \"Authorization has been "
        "denied for this request.\"}; passwords are compared in constant time.",
        "**Bodies.** camelCase JSON in the facts' shapes; clients must ignore fields they do not know (documented: "
        f"models only gain fields). {_CHOSEN}, where the Swagger is silent: property names match "
        "case-insensitively and unknown ones are ignored, Json.NET's conversions of scalars are accepted, every "
        "Always field is required (StockLevel.warehouseName is filled by the server), maxLength holds, enums are "
        "given by name or index; each problem is reported in ModelState under its body path, prefixed with the "
        "parameter name (newCustomerOrder.orderRows[0].salesData.quantity). Answers carry every Always field, "
        "non-null; Default fields integrations use are filled with seeded values, the rest are null or empty "
        f"lists ({_CHOSEN.lower()}). {_CHOSEN}: bodies larger than {settings.max_body_bytes} bytes answer 413.",
        f"**Paging.** Scheme A for GET CustomerOrders and GET Products: pageCount (page size; documented default "
        f"100; {_CHOSEN.lower()}: at most {settings.paging.max_page_count}) and pageOffset (the page index, 0 = "
        "first); the answer is a bare array and a short page is the last. Scheme B for every other list: "
        f"pageNumber from 1, page size {settings.paging.page_size} ({_CHOSEN.lower()}), the answer "
        "{\"<name>List\": [...], \"paginationInfo\": {...}}. "
        f"{_CHOSEN}: lists are ordered by key, and paging is live (a record that leaves the filter mid-pass shifts "
        "the pages behind it; overlap your cursor); stable snapshots are a setting "
        f"(paging.stable_snapshots, {'on' if settings.paging.stable_snapshots else 'off'}).",
        "**Dates.** Answers: ISO 8601 with milliseconds and the tenant's offset, e.g. 2026-01-05T09:00:00.000+01:00 "
        f"(documented format; {_CHOSEN.lower()}: time zone {settings.timezone}, setting timezone). Filters are read "
        f"as UTC (documented); {_CHOSEN.lower()}: from-filters are inclusive.",
        "**Errors.** 200 on success, creates included; 400 bad request; 404 on single-record reads only (a PUT or "
        "DELETE of an unknown number is a 400); 429 over the rate limit (all documented). Each operation answers "
        f"only the statuses the facts document for it, plus 401 and 413. {_CHOSEN}: bodies in ASP.NET Web API 2 "
        "style: {\"Message\"} or, for validation, {\"Message\": \"The request is invalid.\", \"ModelState\": {...}}; "
        "500 {\"Message\": \"An error has occurred.\"} only when the harness injects a fault.",
        "**Rate limits.** x-ratelimit-limit, x-ratelimit-remaining and x-ratelimit-reset (epoch seconds) on every "
        "counted answer, Retry-After on a 429 (documented; \"Standard\" is 300 a minute). Limits per company and "
        f"endpoint family (observed). {_CHOSEN}: a rolling {limits.window_seconds} s window, {limits.default} calls "
        f"per family{f' ({families})' if families else ''} (setting rate_limits).",
        "**Quirks** a real tenant shows (observed; each switchable in the setting quirks and per scenario): "
        f"transient 400s with SQL Server's deadlock or timeout message (share {quirks.transient_errors:g}); a scheme "
        f"A page past the end answers 400 ({_on(quirks.page_past_end_400)}); GET CustomerOrders without "
        f"modifiedDateFrom answers like a timeout ({_on(quirks.orders_list_needs_modified_date)}); Products by "
        f"modifiedDateFrom miss newly created products ({_on(quirks.products_modified_misses_new)}).",
        f"**Orders.** {_CHOSEN}: POST makes a Created order and reserves stock for it (availableBalanceNow = "
        "physicalBalance - orderedQuantity - blockedBalance); the back office reserves (Reserved: PUT and DELETE "
        "then answer 400), picks (Terminated, PartiallyDelivered when short) or cancels (Annulled); DELETE cancels "
        f"a Created order. Overselling is {'accepted and backordered' if settings.allow_oversell else 'refused'} "
        f"(setting allow_oversell). A second order with an orderNumberExternal that exists is "
        f"{'refused with a 400' if settings.duplicate_external_order == 'refuse' else 'accepted'} (setting "
        "duplicate_external_order); a client whose POST got no answer looks the order up by orderNumberExternal "
        "before sending it again. The webshop's prices are kept exactly (documented).",
        f"**Webhooks** are not part of this API (documented). {_CHOSEN}: subscriptions live in the config file and "
        "under /_mock/webhooks; the webhook Details name things as this API does.",
    ])


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _on(flag: bool) -> str:
    return "on" if flag else "off"


# ---------------------------------------------------------------------------------------------- the document
def error_schemas() -> dict[str, dict[str, Any]]:
    return {
        ERROR: {"type": "object", "required": ["Message"], "additionalProperties": True,
                "properties": {"Message": {"type": "string"}},
                "description": "XTND's error body (documented: {\"Message\"})."},
        BAD_REQUEST: {"type": "object", "required": ["Message"], "additionalProperties": True,
                      "properties": {"Message": {"type": "string"},
                                     "ModelState": {"type": "object", "additionalProperties": {
                                         "type": "array", "items": {"type": "string"}}}},
                      "description": f"{_CHOSEN}: ASP.NET Web API 2's bad-request body; ModelState names each "
                                     "invalid body path or parameter with its reasons."},
    }


def build_openapi(settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or Settings()
    all_links = links()
    paths: dict[str, dict[str, Any]] = {}
    roots: list[str] = []
    for route in ROUTES:
        op = route.facts
        path = relative_path(op)
        item = paths.setdefault(path, {})
        area_servers = None if route.area == MAIN_AREA else [server(route.area, settings)]
        if item.get("servers") != area_servers and any(k != "servers" for k in item):
            raise ValueError(f"{path} is served under two areas; give one of them its own path")
        if area_servers is not None:
            item["servers"] = area_servers
        method = route.method.lower()
        if method in item:
            raise ValueError(f"{route.method} {path} is declared twice in the route table")
        operation: dict[str, Any] = {
            "operationId": op.id,
            "tags": [route.resource],
            "summary": _summary(route),
            "description": operation_description(route, settings),
            "parameters": [parameter(route, p, settings) for p in op.params
                           if p.where in ("query", "path") and p.name != "client"],
            "responses": responses(route, settings),
        }
        body = op.body
        if body is not None:
            operation["requestBody"] = {"required": True, "content": _json(type_schema(body.type, False)),
                                        "description": f"{body.name}: a {body.type}."}
            roots.append(body.type)
        elif route.scalar_body is not None:
            operation["requestBody"] = scalar_body(route)
        if op.response is not None:
            roots.append(op.response)
        roots.extend(p.type for p in op.params if p.where in ("query", "path"))
        if op.id in all_links and all_links[op.id]:
            operation["responses"]["200"]["links"] = all_links[op.id]
        if route.source == "observed":
            operation["x-source"] = "observed"
        item[method] = operation
    schemas = {name: component(name) for name in reachable(roots)}
    clash = set(schemas) & set(error_schemas())
    if clash:
        raise ValueError(f"error schema names clash with facts schemas: {sorted(clash)}")
    schemas.update(error_schemas())
    tags = [{"name": resource} for resource in dict.fromkeys(r.resource for r in ROUTES)]
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "XTND REST API, as mock-xtnd speaks it", "version": MAIN_AREA,
                 "description": api_description(settings)},
        "servers": [server(MAIN_AREA, settings)],
        "security": [{SECURITY: []}],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {SECURITY: {
                "type": "apiKey", "in": "header", "name": SECURITY,
                "description": "Basic base64(username:password), in this header on every call (documented). "
                               f"{_CHOSEN}: users from the setting users (default demo / demo-secret, whose value "
                               f"is {_basic('demo', 'demo-secret')}).",
            }},
        },
    }
