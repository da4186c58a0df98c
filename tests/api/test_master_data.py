"""Product master data (docs/wire.md, "Product master data"): Products POST / PUT / DELETE (ProductCreated,
ProductChanged), ProductDescriptions, ProductSupplierAgreements, ProductUnits, the internal ProductProperties and
GTINs (new, valid, never handed out twice), and bad input refused without a trace."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from mock_xtnd.domain.reference import PROPERTY_VALUES
from tests.api.xtnd_support import (
    Truth,
    Xtnd,
    advance,
    assert_always_filled,
    assert_invalid,
    assert_message,
    clock_now,
    customer_body,
    new_events,
    stocked,
    utc_param,
)
from tests.conftest import basic

pytestmark = pytest.mark.capture  # every webhook action lands in the outbox (tests/api/conftest.py)

INTERNAL = "/RESTAPI/internal_v1_0/demo"



def internal(client: TestClient, method: str, path: str) -> httpx.Response:
    return client.request(method, f"{INTERNAL}/{path}", headers=basic())


def gs1_check_digit(body: str) -> str:
    """GS1's mod-10 check digit, computed here independently of the fake: weights 3, 1, 3... from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def new_gtin(client: TestClient) -> str:
    r = internal(client, "GET", "GTINs")
    assert r.status_code == 200, r.text
    gtin: str = r.json()["gtiNumber"]
    return gtin


def product_body(number: str, name: str = "Ny produkt", *, gtin: str | None = None, price: float | None = 100.0,
                 **data: Any) -> dict[str, Any]:
    product_data: dict[str, Any] = {"productName": name, **data}
    if gtin is not None:
        product_data["productGTINumber"] = gtin
    body: dict[str, Any] = {"productNumber": number, "productData": product_data}
    if price is not None:
        body["productPrices"] = [{"salesUnit": {"quantity": 1, "unit": "st"}, "productPriceListRows": [
            {"priceList": "STD", "price": price, "vatPercent": 12.0, "numberSalesUnits": 1}]}]
    return body


def create_product(api: Xtnd, number: str = "NEW-1", **kwargs: Any) -> None:
    r = api.post("Products", json=product_body(number, **kwargs))
    assert r.status_code == 200, r.text
    assert r.json() == {"Message": f"Product {number} was created.", "Information": number}


def agreement_body(pn: str, number: int, **extra: Any) -> dict[str, Any]:
    return {"productNumber": pn, "supplierAgreementNumber": number, "supplierAgreementName": "SA-EXTRA",
            "country": "DE", "supplierProductNumber": f"DE-{pn}", "price": 42.5, "vatPercent": 25, **extra}


# ---------------------------------------------------------------------------------------------- GTINs
def test_gtins_are_valid_and_never_handed_out_twice(client: TestClient) -> None:
    seen = [new_gtin(client) for _ in range(25)]
    assert len(set(seen)) == len(seen)
    for gtin in seen:
        assert len(gtin) == 13 and gtin.isdigit() and gtin.startswith("7350099"), gtin
        assert gtin[-1] == gs1_check_digit(gtin[:-1]), gtin


def test_a_gtin_a_product_carries_is_skipped(client: TestClient, api: Xtnd) -> None:
    first = new_gtin(client)
    following = str(int(first[:-1]) + 1)
    taken = following + gs1_check_digit(following)
    create_product(api, "NEW-G", gtin=taken)
    given = new_gtin(client)
    assert given != taken and given[-1] == gs1_check_digit(given[:-1])
    assert int(given[:-1]) == int(following) + 1


# ---------------------------------------------------------------------------------------------- Products
def test_a_created_product_is_readable_stocked_at_zero_with_its_hook(client: TestClient, api: Xtnd,
                                                                     fetch_truth: Truth) -> None:
    gtin = new_gtin(client)
    before = fetch_truth()
    create_product(api, gtin=gtin, productGroupsAndCategories={"productFamily": "KITCHEN"}, manufacturer="ACME")
    assert new_events(fetch_truth, before) == [("ProductCreated", {"ProductNumber": "NEW-1"})]
    product = api.ok("GET", "Products/NEW-1")
    assert_always_filled(product, "Product")
    data = product["productData"]
    assert (data["productName"], data["productGTINumber"], data["enabled"], data["annulled"]) == (
        "Ny produkt", gtin, True, False)
    assert data["productGroupsAndCategories"]["productFamily"] == "KITCHEN"
    assert data["manufacturer"] == "ACME"  # kept and answered back
    std = product["productPrices"][0]["productPriceListRows"][0]
    assert (std["price"], std["vatPercent"]) == (100.0, 12.0)
    listed = api.ok("GET", "Products", params={"productNumber": "NEW-1"})
    warehouses = sorted(fetch_truth()["records"]["warehouse"])
    assert [(p["productNumber"], p["warehouse"]) for p in listed] == [("NEW-1", wh) for wh in warehouses]
    for wh in warehouses:  # stocked at 0 in every warehouse
        a = api.availability("NEW-1", wh)
        assert (a["physicalBalance"], a["availableBalanceNow"], a["orderedQuantity"]) == (0, 0, 0)
    prices = api.ok("GET", "ProductPrices", params={"customerNumber": "10001", "productNumberList": ["NEW-1"]})
    assert [(i["productNumber"], i["listPrice"]) for i in prices["productPriceItemList"]] == [("NEW-1", 100.0)]


def test_put_changes_the_fields_given_with_its_hook(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    create_product(api)
    before = fetch_truth()
    advance(client, 60)
    r = api.put("Products/NEW-1", json={"productNumber": "NEW-1", "productData": {
        "productName": "Bytt namn", "productDescription": "Ny text", "enabled": False}})
    assert r.status_code == 200, r.text
    assert r.json() == {"Message": "Product NEW-1 was updated.", "Information": "NEW-1"}
    assert new_events(fetch_truth, before) == [("ProductChanged", {"ProductNumber": "NEW-1"})]
    data = api.ok("GET", "Products/NEW-1")["productData"]
    assert (data["productName"], data["productDescription"], data["enabled"], data["annulled"]) == (
        "Bytt namn", "Ny text", False, False)
    assert api.ok("GET", "Products/NEW-1")["productPrices"][0]["productPriceListRows"][0]["price"] == 100.0  # kept
    # a new STD price row sets the standard price that ProductPrices reads
    body = product_body("NEW-1", price=80.0)
    del body["productData"]["productName"]
    assert api.put("Products/NEW-1", json=body).status_code == 200
    (item,) = api.ok("GET", "ProductPrices", params={"customerNumber": "10001", "productNumberList": ["NEW-1"]})[
        "productPriceItemList"]
    assert (item["listPrice"], item["price"], item["vatPercent"]) == (80.0, 80.0, 12.0)
    assert api.ok("GET", "Products/NEW-1")["productData"]["productName"] == "Bytt namn"  # not given: kept


def test_delete_annuls_a_product_once(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    create_product(api)
    before = fetch_truth()
    r = api.delete("Products/NEW-1")
    assert r.status_code == 200 and r.json()["Message"] == "Product NEW-1 was annulled.", r.text
    assert new_events(fetch_truth, before) == [("ProductChanged", {"ProductNumber": "NEW-1"})]
    data = api.ok("GET", "Products/NEW-1")["productData"]
    assert (data["annulled"], data["enabled"]) == (True, False)
    again = fetch_truth()
    r = api.delete("Products/NEW-1")
    assert r.status_code == 200 and r.json()["Message"] == "Product NEW-1 was already annulled.", r.text
    assert new_events(fetch_truth, again) == []


def test_delete_is_refused_while_stock_is_held_or_expected(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    pn = stocked(client)
    before = fetch_truth()
    assert_message(api.delete(f"Products/{pn}"), 400)
    assert fetch_truth() == before
    create_product(api, "NEW-P")
    api.ok("POST", "PurchaseOrders", json={"header": {"supplier": {}}, "rows": [
        {"productNumber": "NEW-P", "purchaseDataProductUnit": {"quantity": 1, "unit": "st"}}]})
    expected = fetch_truth()
    assert_message(api.delete("Products/NEW-P"), 400)
    assert fetch_truth() == expected
    assert api.ok("GET", "Products/NEW-P")["productData"]["annulled"] is False


def test_bad_product_bodies_are_refused_and_change_nothing(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    pn = stocked(client)
    create_product(api, "NEW-1")
    before = fetch_truth()
    assert_invalid(api.post("Products", json={"productNumber": "NEW-2"}), "newProduct.productData")
    assert_invalid(api.post("Products", json={"productData": {"productName": "x"}}), "newProduct.productNumber")
    assert_invalid(api.post("Products", json={"productNumber": "NEW-2", "productData": {}}),
                   "newProduct.productData.productName")
    assert_invalid(api.post("Products", json={"productNumber": "NEW-2", "productData": {"productName": 7,
                                                                                         "enabled": "yes"}}),
                   "newProduct.productData.enabled")
    bad_gtin = "7350099000011"  # the check digit is 0
    assert_invalid(api.post("Products", json=product_body("NEW-2", gtin=bad_gtin)),
                   "newProduct.productData.productGTINumber")
    r = api.post("Products", json=product_body("NEW-2", productGroupsAndCategories={"productFamily": "NO-SUCH-GROUP"}))
    assert_message(r, 400, contains="NO-SUCH-GROUP")
    assert_invalid(api.post("Products", json=product_body("NEW-2", price=-1.0)),
                   "newProduct.productPrices[0].productPriceListRows[0].price")
    assert api.post("Products", json=product_body("NEW-1")).status_code == 400  # exists
    assert api.post("Products", json=product_body(pn)).status_code == 400  # exists (seeded)
    # PUT: the body names another product, wrong types, unknown number
    r = api.put("Products/NEW-1", json={"productNumber": pn, "productData": {"productName": "x"}})
    assert r.status_code == 400 and pn in r.text
    assert_invalid(api.put("Products/NEW-1", json={"productNumber": "NEW-1", "productData": {"productName": ""}}),
                   "existingProduct.productData.productName")
    assert_invalid(api.put("Products/NEW-1", json={"productNumber": "NEW-1", "productData": {"enabled": 3}}),
                   "existingProduct.productData.enabled")
    assert_message(api.put("Products/NO-SUCH", json={"productNumber": "NO-SUCH", "productData": {"productName": "x"}}),
                   400, contains="NO-SUCH")
    assert_message(api.delete("Products/NO-SUCH"), 400, contains="NO-SUCH")
    assert_message(api.get("Products/NO-SUCH"), 404, contains="NO-SUCH")
    assert fetch_truth() == before


# ---------------------------------------------------------------------------------------------- descriptions
def test_descriptions_are_added_replaced_and_deleted(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    create_product(api)
    texts = api.ok("GET", "ProductDescriptions", params={"id": "NEW-1"})["productDescriptionItemList"]
    assert [(t["textType"], t["language"]) for t in texts] == [("Description", "sv")]
    before = fetch_truth()
    posted = api.ok("POST", "ProductDescriptions", json={"productNumber": "NEW-1", "productDescriptionItemList": [
        {"textType": "Description", "language": "sv", "text": "Svensk text"},
        {"textType": "Description", "language": "en", "text": "English text"}]})
    assert new_events(fetch_truth, before) == [("ProductChanged", {"ProductNumber": "NEW-1"})]
    got = api.ok("GET", "ProductDescriptions", params={"id": "NEW-1"})
    assert got == posted
    assert {(t["textType"], t["language"], t["text"]) for t in got["productDescriptionItemList"]} == {
        ("Description", "sv", "Svensk text"), ("Description", "en", "English text")}
    for t in got["productDescriptionItemList"]:
        assert_always_filled(t, "ProductDescriptionItem")
    middle = fetch_truth()
    r = api.delete("ProductDescriptions/NEW-1/description/EN")  # matched case-insensitively
    assert r.status_code == 200, r.text
    assert new_events(fetch_truth, middle) == [("ProductChanged", {"ProductNumber": "NEW-1"})]
    got = api.ok("GET", "ProductDescriptions", params={"id": "NEW-1"})["productDescriptionItemList"]
    assert [(t["language"], t["text"]) for t in got] == [("sv", "Svensk text")]
    after = fetch_truth()
    assert_message(api.delete("ProductDescriptions/NEW-1/Description/en"), 400)  # already gone
    assert_message(api.delete("ProductDescriptions/NO-SUCH/Description/sv"), 400, contains="NO-SUCH")
    assert fetch_truth() == after


def test_the_swedish_description_text_is_the_products_description(api: Xtnd) -> None:
    """Products' productDescription and ProductDescriptions' Description in sv are one text (chosen by the mock):
    posting the text changes the product, and a PUT of the product (or a back-office edit, the same path) changes
    the posted text; other texts are left alone."""
    create_product(api)

    def sv_text() -> str:
        items = api.ok("GET", "ProductDescriptions", params={"id": "NEW-1"})["productDescriptionItemList"]
        return next(t["text"] for t in items if (t["textType"], t["language"]) == ("Description", "sv"))

    api.ok("POST", "ProductDescriptions", json={"productNumber": "NEW-1", "productDescriptionItemList": [
        {"textType": "Description", "language": "sv", "text": "Svensk text"},
        {"textType": "Description", "language": "en", "text": "English text"}]})
    assert api.ok("GET", "Products/NEW-1")["productData"]["productDescription"] == "Svensk text"
    r = api.put("Products/NEW-1", json={"productNumber": "NEW-1", "productData": {"productDescription": "Ny text"}})
    assert r.status_code == 200, r.text
    assert sv_text() == "Ny text"
    items = api.ok("GET", "ProductDescriptions", params={"id": "NEW-1"})["productDescriptionItemList"]
    assert ("en", "English text") in [(t["language"], t["text"]) for t in items]
    api.ok("POST", "ProductDescriptions", json={"productNumber": "NEW-1", "productDescriptionItemList": [
        {"textType": "Description", "language": "en", "text": "Other"}]})
    assert api.ok("GET", "Products/NEW-1")["productData"]["productDescription"] == "Ny text"  # en is not it


def test_bad_descriptions_are_refused_and_change_nothing(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    create_product(api)
    before = fetch_truth()
    r = api.post("ProductDescriptions", json={"productNumber": "NO-SUCH", "productDescriptionItemList": [
        {"textType": "Description", "language": "sv", "text": "x"}]})
    assert r.status_code == 400 and "NO-SUCH" in r.text
    assert_invalid(api.post("ProductDescriptions", json={"productNumber": "NEW-1", "productDescriptionItemList": [
        {"textType": "Description", "text": "x"}]}), "newProductDescriptionList.productDescriptionItemList[0].language")
    assert_invalid(api.post("ProductDescriptions", json={"productNumber": "NEW-1", "productDescriptionItemList": [
        {"textType": "Description", "language": "sv", "text": {"sv": "x"}}]}),  # a number would do (Json.NET)
        "newProductDescriptionList.productDescriptionItemList[0].text")
    assert_invalid(api.post("ProductDescriptions", json={"productNumber": "NEW-1", "productDescriptionItemList": []}),
                   "newProductDescriptionList.productDescriptionItemList")
    assert_message(api.get("ProductDescriptions", params={"id": "NO-SUCH"}), 400, contains="NO-SUCH")
    assert fetch_truth() == before


# ---------------------------------------------------------------------------------------------- supplier agreements
def test_supplier_agreements_lifecycle(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    create_product(api, productGroupsAndCategories={"productFamily": "HOME"})
    (seeded,) = api.ok("GET", "ProductSupplierAgreements", params={"productNumber": "NEW-1"})[
        "productSupplierAgreementList"]
    assert_always_filled(seeded, "ProductSupplierAgreement")
    assert seeded["supplierAgreementName"] == "SA-HOME"
    assert api.ok("GET", f"ProductSupplierAgreements/NEW-1/{seeded['supplierAgreementNumber']}") == seeded
    before = fetch_truth()
    r = api.post("ProductSupplierAgreements", json=agreement_body("NEW-1", 7, manufacturingLeadTimeHour=48))
    assert r.status_code == 200, r.text
    assert new_events(fetch_truth, before) == [("ProductChanged", {"ProductNumber": "NEW-1"})]
    got = api.ok("GET", "ProductSupplierAgreements/NEW-1/7")
    assert (got["supplierAgreementName"], got["country"], got["price"], got["manufacturingLeadTimeHour"]) == (
        "SA-EXTRA", "DE", 42.5, 48)
    listed = api.ok("GET", "ProductSupplierAgreements", params={"productNumber": "NEW-1"})[
        "productSupplierAgreementList"]
    assert [a["supplierAgreementNumber"] for a in listed] == [seeded["supplierAgreementNumber"], 7]
    # a number that exists is refused
    same = fetch_truth()
    assert api.post("ProductSupplierAgreements", json=agreement_body("NEW-1", 7)).status_code == 400
    assert fetch_truth() == same
    # PUT replaces it
    r = api.put("ProductSupplierAgreements/NEW-1/7", json=agreement_body("NEW-1", 7, price=40.0, country="PL"))
    assert r.status_code == 200, r.text
    got = api.ok("GET", "ProductSupplierAgreements/NEW-1/7")
    assert (got["price"], got["country"], got["manufacturingLeadTimeHour"]) == (40.0, "PL", None)
    # DELETE removes it
    middle = fetch_truth()
    assert api.delete("ProductSupplierAgreements/NEW-1/7").status_code == 200
    assert new_events(fetch_truth, middle) == [("ProductChanged", {"ProductNumber": "NEW-1"})]
    assert_message(api.get("ProductSupplierAgreements/NEW-1/7"), 404)
    gone = fetch_truth()
    assert_message(api.delete("ProductSupplierAgreements/NEW-1/7"), 400)
    assert_message(api.put("ProductSupplierAgreements/NEW-1/7", json=agreement_body("NEW-1", 7)), 400)
    assert fetch_truth() == gone


def test_bad_supplier_agreements_are_refused_and_change_nothing(client: TestClient, api: Xtnd,
                                                                fetch_truth: Truth) -> None:
    create_product(api)
    api.ok("POST", "ProductSupplierAgreements", json=agreement_body("NEW-1", 7))
    before = fetch_truth()
    r = api.post("ProductSupplierAgreements", json=agreement_body("NO-SUCH", 8))
    assert r.status_code == 400 and "NO-SUCH" in r.text
    assert_invalid(api.post("ProductSupplierAgreements", json={**agreement_body("NEW-1", 8), "supplierAgreementNumber": "eight"}),
                   "newProductSupplierAgreement.supplierAgreementNumber")
    body = agreement_body("NEW-1", 8)
    del body["country"]
    assert_invalid(api.post("ProductSupplierAgreements", json=body), "newProductSupplierAgreement.country")
    assert_invalid(api.post("ProductSupplierAgreements", json=agreement_body("NEW-1", 8, price=-1)),
                   "newProductSupplierAgreement.price")
    r = api.put("ProductSupplierAgreements/NEW-1/7", json=agreement_body("NEW-1", 9))
    assert r.status_code == 400, r.text
    assert_invalid(api.put("ProductSupplierAgreements/NEW-1/7", json={**agreement_body("NEW-1", 7), "price": "dear"}),
                   "existingProductSupplierAgreement.price")
    missing = agreement_body("NEW-1", 7)
    del missing["supplierProductNumber"]
    assert_invalid(api.put("ProductSupplierAgreements/NEW-1/7", json=missing),
                   "existingProductSupplierAgreement.supplierProductNumber")
    assert_invalid(api.get("ProductSupplierAgreements/NEW-1/seven"), "id2")
    assert_message(api.get("ProductSupplierAgreements/NO-SUCH/1"), 404, contains="NO-SUCH")
    assert_message(api.delete("ProductSupplierAgreements/NO-SUCH/1"), 400, contains="NO-SUCH")
    assert fetch_truth() == before


# ---------------------------------------------------------------------------------------------- units and properties
def test_product_units(api: Xtnd, fetch_truth: Truth) -> None:
    units = api.ok("GET", "ProductUnits")
    items = units if isinstance(units, list) else next(v for v in units.values() if isinstance(v, list))
    names = [u["name"] for u in items]
    assert "st" in names and len(set(names)) == len(names)
    for u in items:
        assert_always_filled(u, "ProductUnit")
    used = {p["unit"] for p in fetch_truth()["records"]["product"].values()}
    assert used <= set(names)  # every unit the catalogue uses is listed


def test_product_properties_connect_and_disconnect(client: TestClient, api: Xtnd, fetch_truth: Truth) -> None:
    r = internal(client, "GET", "ProductProperties")
    assert r.status_code == 200, r.text
    values = r.json()
    assert [v["propertyValue"] for v in values] == [v[0] for v in PROPERTY_VALUES]
    for v in values:
        assert_always_filled(v, "ProductProperty")
    create_product(api)
    assert internal(client, "GET", "ProductProperties/NEW-1").json() == []
    value = values[0]
    before = fetch_truth()
    r = internal(client, "POST", f"ProductProperties/NEW-1/{value['propertyValue']}")
    assert r.status_code == 200, r.text
    assert new_events(fetch_truth, before) == [("ProductChanged", {"ProductNumber": "NEW-1"})]
    assert internal(client, "GET", "ProductProperties/NEW-1").json() == [value]
    again = fetch_truth()
    assert internal(client, "POST", f"ProductProperties/NEW-1/{value['propertyValue']}").status_code == 200
    assert new_events(fetch_truth, again) == []  # connecting it again changes nothing
    r = internal(client, "DELETE", f"ProductProperties/NEW-1/{value['propertyValue']}")
    assert r.status_code == 200, r.text
    assert internal(client, "GET", "ProductProperties/NEW-1").json() == []
    assert new_events(fetch_truth, again) == [("ProductChanged", {"ProductNumber": "NEW-1"})]


def test_bad_product_properties_are_refused_and_change_nothing(client: TestClient, api: Xtnd,
                                                               fetch_truth: Truth) -> None:
    create_product(api)
    value = internal(client, "GET", "ProductProperties").json()[0]["propertyValue"]
    before = fetch_truth()
    r = internal(client, "POST", "ProductProperties/NEW-1/not-a-guid")
    assert_invalid(r, "id2")
    r = internal(client, "POST", "ProductProperties/NEW-1/00000000-0000-0000-0000-000000000001")
    assert r.status_code == 400, r.text
    r = internal(client, "POST", f"ProductProperties/NO-SUCH/{value}")
    assert r.status_code == 400 and "NO-SUCH" in r.text
    r = internal(client, "DELETE", f"ProductProperties/NEW-1/{value}")  # not connected
    assert r.status_code == 400, r.text
    assert_message(internal(client, "GET", "ProductProperties/NO-SUCH"), 404, contains="NO-SUCH")
    assert fetch_truth() == before


def test_master_data_changes_show_in_the_products_modified_list(client: TestClient, api: Xtnd) -> None:
    start = utc_param(clock_now(client))
    for number in ("NEW-1", "NEW-2", "NEW-3", "NEW-4"):
        create_product(api, number)
    advance(client, 60)
    middle = utc_param(clock_now(client))
    api.ok("PUT", "Products/NEW-1", json={"productNumber": "NEW-1", "productData": {"productDescription": "Ny"}})
    api.ok("POST", "ProductDescriptions", json={"productNumber": "NEW-2", "productDescriptionItemList": [
        {"textType": "Description", "language": "en", "text": "New"}]})
    api.ok("POST", "ProductSupplierAgreements", json=agreement_body("NEW-3", 5))

    def modified(since: str) -> set[str]:
        return {p["productNumber"] for p in api.ok("GET", "Products", params={"modifiedDateFrom": since})}

    assert modified(middle) == {"NEW-1", "NEW-2", "NEW-3"}  # NEW-4 was not changed since
    assert {"NEW-1", "NEW-2", "NEW-3"} <= modified(start)


# ---------------------------------------------------------------------------------------------- Customers
def test_bad_customer_puts_change_nothing_and_fire_nothing(api: Xtnd, fetch_truth: Truth) -> None:
    original = api.ok("GET", "Customers/10002")
    before = fetch_truth()
    assert_invalid(api.put("Customers/10002", json=customer_body("X", customerLogisticsSettings="DAP")),
                   "existingCustomer.customerLogisticsSettings")
    assert_invalid(api.put("Customers/10002", json={"name": "Only a name"}),
                   "existingCustomer.customerDeliveryAddress")
    assert_invalid(api.put("Customers/10002", json={**customer_body("X"), "name": {"first": "X"}}), "existingCustomer.name")
    assert fetch_truth() == before
    assert api.ok("GET", "Customers/10002") == original
