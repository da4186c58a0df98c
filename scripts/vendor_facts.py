#!/usr/bin/env python3
"""Copy the vendor Swagger's facts into the package: operations (method, path, parameter names, places, types and
required flags, response type, statuses), schemas (field names, types, required flags, max lengths) and enums.

Names and facts only: the summaries and notes (the vendor's prose) stay behind. The fake validates bodies and
queries against this copy and builds its OpenAPI document from it; tests/contract/test_conformance.py checks that it
still equals ../shared/xtnd-api-facts.json for every fact it keeps.

    python scripts/vendor_facts.py [../shared/xtnd-api-facts.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "mock_xtnd" / "api" / "xtnd_facts.json"


def distil(facts: dict) -> dict:
    operations = [
        {"id": op["id"], "method": op["method"], "path": op["path"], "response": op["response"],
         "statuses": op["statuses"],
         "params": [{"in": p["in"], "name": p["name"], "type": p["type"], "required": p["required"]}
                    for p in op["params"]]}
        for op in facts["operations"]
    ]
    schemas = {name: [{k: v for k, v in f.items() if k in ("name", "type", "required", "maxLength")} for f in fields]
               for name, fields in facts["schemas"].items()}
    return {"operations": operations, "schemas": schemas, "enums": facts["enums"], "auth": facts["auth"]}


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "xtnd-api-facts.json"
    data = distil(json.loads(source.read_text(encoding="utf-8")))
    TARGET.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{TARGET.relative_to(ROOT)}: {len(data['operations'])} operations, {len(data['schemas'])} schemas, "
          f"{len(data['enums'])} enums")


if __name__ == "__main__":
    main()
