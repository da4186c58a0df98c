"""Write the fake's OpenAPI document to contracts/openapi.json (sorted keys, indent 2).

    python scripts/export_openapi.py          # regenerate after changing the route table or the facts
    python scripts/export_openapi.py --check  # exit 1 if the committed file is stale

The document is mock_xtnd/api/openapi.py's build_openapi() for default settings: exactly what the app serves at
/RESTAPI/swagger/docs/v1 with create_app(Settings()).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "contracts" / "openapi.json"


def render() -> str:
    sys.path.insert(0, str(ROOT))
    from mock_xtnd.api.openapi import build_openapi
    from mock_xtnd.settings import Settings

    return json.dumps(build_openapi(Settings()), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file is stale")
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run python scripts/export_openapi.py", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
