"""Write the public /api contract to contracts/openapi.json (sorted keys, indent 2).

    python scripts/export_openapi.py          # regenerate after changing the API
    python scripts/export_openapi.py --check  # exit 1 if the committed file is stale

The document is exactly what the app serves at /openapi.json with default settings (create_app(Settings())).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "contracts" / "openapi.json"


def render() -> str:
    sys.path.insert(0, str(ROOT))
    from mock_xtnd.app import create_app
    from mock_xtnd.settings import Settings

    spec: dict[str, Any] = create_app(Settings()).openapi()
    return json.dumps(spec, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


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
