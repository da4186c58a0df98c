"""The committed JSON Schema is the one the model generates, and it describes what editors need."""

from __future__ import annotations

import json

from contracts.rules import RULES_BY_ID
from contracts.scenario_cli import schema_text

from .support import SCENARIOS


def test_committed_schema_equals_the_generated_one() -> None:
    committed = (SCENARIOS / "scenario.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), (
        "scenarios/scenario.schema.json is stale: run `python scripts/export_scenario_schema.py` "
        "(or `mock-xtnd scenario schema -o scenarios/scenario.schema.json`)"
    )


def test_schema_lists_rule_ids_and_each_rules_parameters() -> None:
    schema = json.loads(schema_text())
    defs = schema["$defs"]
    assert schema["additionalProperties"] is False
    must_fail = defs["Expectations"]["properties"]["must_fail"]
    assert must_fail["items"]["enum"] == list(RULES_BY_ID)
    rule_params = defs["RuleParams"]["properties"]
    assert set(rule_params) == set(RULES_BY_ID)
    polling = defs["NoPerProductPollingParams"]["properties"]
    assert {"budget", "window_seconds", "severity", "enabled"} <= set(polling)
    # durations may be written as numbers or as "10m"
    at = defs["Step"]["properties"]["at"]
    assert {"type": "number", "minimum": 0} in at["anyOf"]
