"""The generated operations tables (README.md, docs/wire.md) match the route table, and say 57 of 57 only when the
route table really implements every operation of the vendor's facts (scripts/operations_table.py)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from mock_xtnd.api.routes import ROUTES
from mock_xtnd.domain.events import ACTIONS

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "operations_table.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("operations_table", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _facts_ids() -> set[str]:
    data = json.loads((ROOT / "mock_xtnd" / "api" / "xtnd_facts.json").read_text(encoding="utf-8"))
    return {op["id"] for op in data["operations"]}


def test_check_passes() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_vendor_operation_has_a_route_and_the_docs_say_57_of_57() -> None:
    facts_ids = _facts_ids()
    route_ids = {r.op_id for r in ROUTES}
    assert len(facts_ids) == 57
    assert facts_ids - route_ids == set()
    model = _script().load()
    assert model.missing == []
    assert model.implemented_from_facts == len(facts_ids & route_ids) == 57
    line = f"**{len(facts_ids & route_ids)} of {len(facts_ids)} operations implemented**"
    assert line == "**57 of 57 operations implemented**"
    assert line in (ROOT / "README.md").read_text(encoding="utf-8")
    assert line in (ROOT / "docs" / "wire.md").read_text(encoding="utf-8")


def test_a_missing_operation_is_counted_and_named() -> None:
    script = _script()
    model = script.load()
    gone = "Offers_PutExistingOffer"
    ops = tuple(dataclasses.replace(op, implemented=False) if op.op_id == gone else op for op in model.ops)
    fewer = dataclasses.replace(model, ops=ops, route_ids=model.route_ids - {gone})
    text = script.headline(fewer)
    assert "**56 of 57 operations implemented**" in text
    assert f"`{gone}`" in text and "answer 404" in text
    table = script.readme_operations(fewer)
    assert "57 of 57" not in table
    assert "| PUT | `/RESTAPI/v1_0/{client}/Offers/{id}` | **not implemented**: answers 404 |" in table


def test_the_kept_maps_name_only_what_the_code_has() -> None:
    script = _script()
    model = script.load()
    assert script.problems(model) == []
    assert {r.op_id for r in ROUTES} <= set(script.SUMMARY)
    for action in ACTIONS:
        op_ids, _source = script.FOLLOW_UP[action]
        assert op_ids and all(model.by_id(op_id).method == "GET" for op_id in op_ids), action
