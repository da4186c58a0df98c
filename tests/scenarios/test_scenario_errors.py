"""A bad scenario file is refused before anything runs, with the file, the line, the field and what was
expected - one line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.scenario import Scenario, ScenarioError, load_scenario, load_scenarios, parse_duration

HEAD = "# yaml-language-server: $schema=./scenario.schema.json\nname: bad\n"

BAD: dict[str, tuple[str, list[str]]] = {
    "unknown key, with a suggestion and the keys allowed there": (
        "timeline:\n  - at: 1\n    stock: {balanceDiference: 3}\n",
        [":5: timeline[0].stock.balanceDiference: unknown key 'balanceDiference'; did you mean 'balanceDifference'?",
         "allowed here: productNumber, warehouse, balanceDifference, physicalBalance, count"]),
    "an old snake_case record field, with the API's name suggested": (
        "timeline:\n  - at: 1\n    stock: {product: '100001'}\n",
        [":5: timeline[0].stock.product: unknown key 'product'", "allowed here: productNumber, warehouse"]),
    "unknown top-level key": (
        "timline: []\n", [":3: timline: unknown key 'timline'; did you mean 'timeline'?"]),
    "wrong type": (
        "seed: seven\n", [":3: seed: expected a whole number; got 'seven'"]),
    "wrong type deep down": (
        "timeline:\n  - at: 1\n    shop_order: {rows: [{quantity: two}]}\n",
        ["timeline[0].shop_order.rows[0].quantity: expected a whole number; got 'two'"]),
    "a value out of range": (
        "delivery_faults: {duplicate: 1.5}\n", ["delivery_faults.duplicate: expected a value <= 1; got 1.5"]),
    "a choice that does not exist": (
        "timeline:\n  - at: 1\n    storm: {shape: square, rate: 10, count: 5}\n",
        ["timeline[0].storm.shape: expected 'constant', 'ramp', 'burst' or 'poisson'; got 'square'"]),
    "a union: one message for both branches": (
        "timeline:\n  - at: 1\n    order: {action: pick, which: middle}\n",
        ["timeline[0].order.which: expected 'first', 'last' or 'all' or a whole number; got 'middle'"]),
    "steps out of order": (
        "timeline:\n  - {at: 5, clear_api_faults: true}\n  - {at: 3, clear_api_faults: true}\n",
        [":5: timeline[1].at: at 3s comes before the previous step's at 5s: steps must be in time order"]),
    "a step doing two things": (
        "timeline:\n  - at: 1\n    stock: {balanceDifference: 1}\n    clear_api_faults: true\n",
        [":4: timeline[0]: a step does exactly one thing; this one does 2 things (stock, clear_api_faults)"]),
    "a step of the old dialect": (
        "timeline:\n  - {at: 1, expire_tokens: true}\n",
        ["timeline[0].expire_tokens: unknown key 'expire_tokens'"]),
    "a step doing nothing": (
        "timeline:\n  - {at: 1, note: hello}\n", ["timeline[0]: a step does exactly one thing; this one does nothing"]),
    "a bad duration": (
        "timeline:\n  - {at: soon, clear_api_faults: true}\n",
        ["timeline[0].at: expected seconds or a duration such as '90s', '10m', '1h30m', '2d'; got 'soon'"]),
    "unknown rule id in must_fail": (
        "expect: {must_fail: [no-per-product-poling]}\n",
        [":3: expect.must_fail[0]: unknown rule 'no-per-product-poling' (did you mean 'no-per-product-polling'?)"]),
    "unknown rule id in must_pass": (
        "expect: {must_pass: [converge]}\n", ["expect.must_pass[0]: unknown rule 'converge'"]),
    "unknown rule id in require": (
        "expect: {require: [signatures]}\n", ["expect.require[0]: unknown rule 'signatures'"]),
    "unknown rule id in rule_params": (
        "expect:\n  rule_params:\n    hooks-are-trigger: {window_seconds: 5}\n",
        [":5: expect.rule_params.hooks-are-trigger: unknown rule 'hooks-are-trigger'; "
         "did you mean 'hooks-are-triggers'?"]),
    "unknown parameter of a rule": (
        "expect:\n  rule_params:\n    no-per-product-polling: {budgett: 5}\n",
        [":5: expect.rule_params.no-per-product-polling.budgett: unknown key 'budgett'; did you mean 'budget'?"]),
    "a rule parameter of the wrong type": (
        "expect:\n  rule_params:\n    converges: {require_seen_items: maybe}\n",
        ["expect.rule_params.converges.require_seen_items: expected true or false; got 'maybe'"]),
    "a bad severity": (
        "expect:\n  rule_params:\n    converges: {severity: fatal}\n",
        ["expect.rule_params.converges.severity: expected 'error' or 'warning'; got 'fatal'"]),
    "a rule both required and expected to fail": (
        "expect: {require: [converges], must_fail: [converges]}\n",
        ["expect.must_fail: converges cannot be in both require and must_fail"]),
    "a storm the fake would refuse": (
        "timeline:\n  - at: 1\n    storm: {rate: 0.01, count: 1000}\n",
        ["timeline[0].storm: the fake would refuse this storm: That storm would last 100,000 s; at most 3600."]),
    "a storm without count or duration": (
        "timeline:\n  - at: 1\n    storm: {rate: 10}\n",
        ["timeline[0].storm.count: give count or duration_seconds (exactly one)"]),
    "an API fault the fake would refuse": (
        "api_faults: [{kind: status, status: 503}]\n",
        ["api_faults[0].status: kind status needs status: 429 or 500"]),
    "a fault kind of the old dialect's paths": (
        "api_faults: [{kind: transient, route: /api/ProductAvailability*}]\n",
        ["api_faults[0].route: '/api/ProductAvailability*': the /api paths are gone"]),
    "a message on a fault that is not transient": (
        "api_faults: [{kind: drop, message: deadlock}]\n",
        ["api_faults[0].message: message only goes with kind transient (this is kind drop)"]),
    "an unknown endpoint family": (
        "rate_limits: {families: {ProductAvailabilty: 10}}\n",
        ["rate_limits.families.ProductAvailabilty: unknown endpoint family 'ProductAvailabilty' "
         "(did you mean 'ProductAvailability'?)"]),
    "a quirk share out of range": (
        "quirks: {transient_errors: 2}\n", ["quirks.transient_errors: expected a value <= 1; got 2"]),
    "a harness variable in client_env": (
        "client_env: {XTND_WEBHOOK_PORT: '1'}\n",
        ["client_env.XTND_WEBHOOK_PORT: XTND_WEBHOOK_PORT is set by the harness (it cannot be overridden)"]),
    "virtual settings on a real clock": (
        "virtual: {tick_seconds: 0.1}\n", ["virtual: virtual settings need clock: virtual"]),
    "forging hooks without webhooks": (
        "webhooks: false\ntimeline:\n  - {at: 1, forge: {}}\n",
        ["timeline[0].forge: forge needs webhooks (this scenario has webhooks: false)"]),
    "a real-clock timeline too long to sleep through": (
        "timeline:\n  - {at: 2h, clear_api_faults: true}\n",
        ["timeline[0].at: a real-clock timeline of 7200s (2h) is too long to sleep through"]),
    "a missing required field": (
        "timeline:\n  - {clear_api_faults: true}\n", ["timeline[0].at: required, but missing"]),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_file_message(case: str, tmp_path: Path) -> None:
    body, expected = BAD[case]
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    with pytest.raises(ScenarioError) as failure:
        load_scenario(path)
    message = str(failure.value)
    assert message.startswith(f"{path}: invalid scenario")
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_every_problem_is_listed_not_just_the_first(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(HEAD + "seed: x\ncatalogue: {products: 0}\nexpect: {must_fail: [nope]}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as failure:
        load_scenario(path)
    message = str(failure.value)
    assert "(3 problems)" in message
    assert [line.split(": ", 2)[1] for line in message.splitlines()[1:]] == \
        ["seed", "catalogue.products", "expect.must_fail[0]"]


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\ntimeline:\n  - {at: 1, stock: {delta: 1}\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"broken\.yaml:\d+: not valid YAML"):
        load_scenario(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- name: x\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="a scenario is a mapping"):
        load_scenario(listed)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_duplicate_names_across_files_are_refused(tmp_path: Path) -> None:
    for stem in ("a", "b"):
        (tmp_path / f"{stem}.yaml").write_text(HEAD, encoding="utf-8")
    loaded, problems = load_scenarios([tmp_path])
    assert len(loaded) == 2
    assert len(problems) == 1 and "name 'bad' is also the name of" in problems[0]


def test_durations_and_the_model_used_directly() -> None:
    assert parse_duration("1h30m") == 5400
    assert parse_duration("1d 2h") == 93_600
    assert parse_duration("500ms") == 0.5
    assert parse_duration("90") == 90
    assert parse_duration(12) == 12
    scenario = Scenario.model_validate({"name": "direct", "clock": "virtual",
                                        "timeline": [{"at": "2d", "password_change": {"duration_seconds": "10m"}}],
                                        "expect": {"rule_params": {"no-per-product-polling": {"budget": 3}}}})
    assert scenario.timeline[0].at == 172_800
    assert scenario.duration == 172_800 + 600  # a password change lasts
    assert scenario.expect.rule_overrides() == {"no-per-product-polling": {"budget": 3}}
    assert Scenario.model_validate({"name": "plain"}).expect.rule_overrides() == {}
