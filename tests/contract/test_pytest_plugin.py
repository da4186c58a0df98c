"""The pytest plugin as a user meets it: the `xtnd` fixture, back-office helpers, the clock, assert_conduct()."""

from __future__ import annotations

import pytest

from contracts.pytest_plugin import ConductError, XtndFake
from mock_xtnd.webhooks.signing import verify
from tests.support.receiver import Receiver


def test_fixture_is_reset_between_tests_part_one(xtnd: XtndFake) -> None:
    before = {(b["ProductNumber"], b["WarehouseNumber"]): b["OnHand"] for b in xtnd.state()["Balances"]}
    xtnd.stock("100000", "1", delta=7)
    after = {(b["ProductNumber"], b["WarehouseNumber"]): b["OnHand"] for b in xtnd.state()["Balances"]}
    assert after[("100000", "1")] == before[("100000", "1")] + 7


def test_fixture_is_reset_between_tests_part_two(xtnd: XtndFake) -> None:
    # the +7 of the previous test is gone: every test starts from the seeded truth
    fresh = XtndFake(xtnd.server)
    fresh.reset()
    seeded = {(b["ProductNumber"], b["WarehouseNumber"]): b["OnHand"] for b in fresh.state()["Balances"]}
    assert {(b["ProductNumber"], b["WarehouseNumber"]): b["OnHand"] for b in xtnd.state()["Balances"]} == seeded
    assert xtnd.journal() == []
    fresh.close()


def test_hooks_are_signed_and_retried_on_the_virtual_clock(xtnd: XtndFake) -> None:
    answers = iter([503, 204])
    with Receiver(lambda _r: next(answers, 204)) as receiver:
        xtnd.subscribe(receiver.url, "s3cret", triggers=["AvailableBalanceChanged"])
        xtnd.stock("100000", "2", delta=3)
        xtnd.advance(0)
        assert len(receiver.received) == 1  # first attempt failed with 503
        xtnd.advance(60)  # the retry falls due one minute later
        assert [e["Attempt"] for e in receiver.envelopes()] == [1, 2]
        assert all(verify("s3cret", r.body, r.headers["ms-signature"]) for r in receiver.received)


def test_assert_conduct_fails_with_the_report_for_a_polling_client(xtnd: XtndFake) -> None:
    with xtnd.api() as api:
        for _ in range(5):  # every product, one by one, every 30 s: what XTND says it does not accept
            for pn in ("100000", "100002", "100003", "100004", "100005"):
                assert api.get("/api/ProductAvailability", params={"productNumber": pn}).status_code == 200
            xtnd.advance(30)
    with pytest.raises(ConductError) as failure:
        xtnd.assert_conduct(overrides={"no-per-product-polling": {"budget": 5}})
    assert "no-per-product-polling" in str(failure.value)
    assert "FAIL" in str(failure.value)


def test_assert_conduct_passes_a_client_that_only_fetches_after_hooks(xtnd: XtndFake) -> None:
    with Receiver() as receiver:
        xtnd.subscribe(receiver.url, "k", triggers=["AvailableBalanceChanged"])
        xtnd.stock("100000", "1", delta=2)
        xtnd.advance(1)
        assert receiver.received, "the hook should have been delivered"
        with xtnd.api() as api:
            r = api.get("/api/ProductAvailability", params={"productNumber": "100000", "warehouseNumber": "1"})
            assert r.status_code == 200
        report = xtnd.assert_conduct()
    assert report.result("no-per-product-polling").status == "passed"
    # "not checked" never counts as passed: without a probe, converges cannot be required
    with pytest.raises(ConductError, match="required but not passed"):
        xtnd.assert_conduct(require=["converges"])
