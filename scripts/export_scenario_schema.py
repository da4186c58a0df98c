#!/usr/bin/env python3
"""Write scenarios/scenario.schema.json from the scenario model (contracts/scenario.py).

Run after changing the model (or a rule's parameters, which the schema lists); tests/scenarios/test_schema.py
fails while the committed file differs. Same as ``mock-xtnd scenario schema -o scenarios/scenario.schema.json``.
"""

from __future__ import annotations

from pathlib import Path

from contracts.scenario_cli import schema_text

TARGET = Path(__file__).resolve().parents[1] / "scenarios" / "scenario.schema.json"


def main() -> None:
    TARGET.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
