"""The pytest plugin as a user meets it: the `xtnd` fixture, the auth header, back-office helpers, the clock,
users and quirks, assert_conduct()."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from contracts.pytest_plugin import ConductError, XtndFake
from tests.support.receiver import Receiver


def signed(secret: str, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().upper()
    return hmac.compare_digest(header, expected)


def balances(xtnd: XtndFake) -> dict[tuple[str, str], int]:
    return {(b["productNumber"], b["warehouse"]): b["physicalBalance"] for b in xtnd.state()["balances"]}


def test_fixture_is_reset_between_tests_part_one(xtnd: XtndFake) -> None:
    before = balances(xtnd)
    xtnd.stock("100000", "1", balance_difference=7)
    assert balances(xtnd)[("100000", "1")] == before[("100000", "1")] + 7


def test_fixture_is_reset_between_tests_part_two(xtnd: XtndFake) -> None:
    # the +7 of the previous test is gone: every test starts from the seeded truth
    fresh = XtndFake(xtnd.server)
    fresh.reset()
    assert balances(xtnd) == balances(fresh)
    assert xtnd.journal() == []
    fresh.close()


def test_api_url_and_the_auth_header(xtnd: XtndFake) -> None:
    assert xtnd.api_url.endswith("/RESTAPI/v1_0/demo") and not xtnd.api_url.endswith("/")
    header = xtnd.auth_header()
    assert header == {"ExtendBasicAuthorization": "Basic " + base64.b64encode(b"demo:demo-secret").decode()}
    xtnd.quirks(transientErrors=0)
    with xtnd.api() as api:
        r = api.get("ProductAvailability/100000/1")
        assert r.status_code == 200, r.text
        assert r.json()["productNumber"] == "100000" and r.json()["warehouse"] == "1"
        refused = api.get("ProductAvailability/100000/1", headers=xtnd.auth_header(password="wrong"))
        assert refused.status_code == 401
    (first, second) = xtnd.journal(kind="api")
    assert first["user"] == "demo" and first["operation"] == "ProductAvailability_GetSingleProductAvailability"
    assert second["user"] is None and second["errorKind"] == "Unauthorized"


def test_a_changed_password_refuses_the_old_one(xtnd: XtndFake) -> None:
    xtnd.quirks(transientErrors=0)
    old = xtnd.auth_header()
    xtnd.set_password("rotated")
    with xtnd.api() as api:
        assert api.get("Customers").status_code == 200  # the fixture follows its own change
        assert api.get("Customers", headers=old).status_code == 401


def test_the_password_is_back_for_the_next_test(xtnd: XtndFake) -> None:
    assert xtnd.password == "demo-secret"
    xtnd.quirks(transientErrors=0)
    with xtnd.api() as api:
        assert api.get("Customers").status_code == 200


def test_hooks_are_signed_and_retried_on_the_virtual_clock(xtnd: XtndFake) -> None:
    answers = iter([503, 204])
    with Receiver(lambda _r: next(answers, 204)) as receiver:
        xtnd.subscribe(receiver.url, "s3cret", triggers=["AvailableBalanceChanged"])
        xtnd.stock("100000", "2", balance_difference=3)
        xtnd.advance(0)
        assert len(receiver.received) == 1  # the first attempt was answered 503
        xtnd.advance(60)  # the retry falls due one minute later
        assert [e["Attempt"] for e in receiver.envelopes()] == [1, 2]
        note = receiver.envelopes()[0]["Notifications"][0]
        assert note["Action"] == "AvailableBalanceChanged"
        assert note["Details"]["ProductNumber"] == "100000" and note["Details"]["Warehouse"] == "2"
        assert all(signed("s3cret", r.body, r.headers["ms-signature"]) for r in receiver.received)


def test_an_injected_transient_400_by_a_relative_route(xtnd: XtndFake) -> None:
    xtnd.quirks(transientErrors=0)
    xtnd.fault(kind="transient", message="timeout", route="ProductAvailability/*", times=1)
    with xtnd.api() as api:
        first = api.get("ProductAvailability/100000/1")
        assert first.status_code == 400 and "Timeout" in first.json()["Message"]
        assert api.get("ProductAvailability/100000/1").status_code == 200
    record = xtnd.journal(kind="api")[0]
    assert record["errorKind"] == "Transient" and record["fault"] == "transient-timeout"


def test_assert_conduct_fails_with_the_report_for_a_polling_client(xtnd: XtndFake) -> None:
    xtnd.quirks(transientErrors=0)
    with xtnd.api() as api:
        for _ in range(5):  # every item, one by one, every 30 s: what XTND says it does not accept
            for pn in ("100000", "100002", "100003", "100004", "100005"):
                assert api.get(f"ProductAvailability/{pn}/1").status_code == 200
            xtnd.advance(30)
    with pytest.raises(ConductError) as failure:
        xtnd.assert_conduct(overrides={"no-per-product-polling": {"budget": 5}})
    assert "FAIL         no-per-product-polling" in str(failure.value)


def test_assert_conduct_passes_a_client_that_only_reads_after_hooks(xtnd: XtndFake) -> None:
    xtnd.quirks(transientErrors=0)
    with Receiver() as receiver:
        xtnd.subscribe(receiver.url, "k", triggers=["AvailableBalanceChanged"])
        xtnd.stock("100000", "1", balance_difference=2)
        xtnd.advance(1)
        assert receiver.received, "the hook should have been delivered"
        with xtnd.api() as api:
            assert api.get("ProductAvailability/100000/1").status_code == 200
        report = xtnd.assert_conduct()
    assert report.result("no-per-product-polling").status == "passed"
    assert report.result("hooks-are-triggers").status == "passed"
    # "not checked" never counts as passed: without a probe, converges cannot be required
    with pytest.raises(ConductError, match="required but not passed"):
        xtnd.assert_conduct(require=["converges"])
