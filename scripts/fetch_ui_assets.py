"""Fetch the dashboard's third-party files (mock_xtnd/ui/static/vendor/) from the npm registry, pinned and checked.

The fake serves its dashboard and writes its HTML reports offline: every third-party file ships in the package.
``mock_xtnd/ui/static/vendor/assets.json`` pins each package's version, its npm ``integrity`` (the SHA-512 of the
tarball the registry serves) and the SHA-256 of every file taken from it. This script is how those files change:

    python scripts/fetch_ui_assets.py --check     # offline: the vendored files match their pinned SHA-256
    python scripts/fetch_ui_assets.py             # npm pack each pinned version, check the tarball's integrity
                                                  # and each file's SHA-256, write the files
    python scripts/fetch_ui_assets.py --update    # after editing a version in assets.json: take the new tarball,
                                                  # record its integrity and the files' SHA-256

It uses the machine's ``npm`` (``npm pack``, the ordinary client and its configured registry) and nothing else from
the network. Review the diff of the vendored files and assets.json before committing an update.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "mock_xtnd" / "ui" / "static" / "vendor"
MANIFEST = VENDOR / "assets.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check(manifest: dict) -> list[str]:
    """Problems with the vendored files, offline: missing files and SHA-256 mismatches."""
    problems = []
    for pkg in manifest["packages"]:
        sums = pkg.get("sha256", {})
        for dest in pkg["files"].values():
            path = VENDOR / dest
            if not path.is_file():
                problems.append(f"{pkg['name']}@{pkg['version']}: {dest} is missing")
            elif dest not in sums:
                problems.append(f"{pkg['name']}@{pkg['version']}: {dest} has no pinned sha256 (run --update)")
            elif sha256(path.read_bytes()) != sums[dest]:
                problems.append(f"{pkg['name']}@{pkg['version']}: {dest} does not match its pinned sha256")
    return problems


def pack(name: str, version: str, workdir: Path) -> tuple[Path, str]:
    """``npm pack name@version``: the tarball and the integrity the registry reported for it."""
    out = subprocess.run(["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", str(workdir)],
                         check=True, capture_output=True, text=True).stdout
    info = json.loads(out)[0]
    tarball = workdir / info["filename"]
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if info.get("integrity") != f"sha512-{digest}":
        raise SystemExit(f"{name}@{version}: the tarball does not match the integrity npm reported")
    return tarball, info["integrity"]


def fetch(manifest: dict, update: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="mock-xtnd-ui-assets-") as tmp:
        for pkg in manifest["packages"]:
            name, version = pkg["name"], pkg["version"]
            tarball, integrity = pack(name, version, Path(tmp))
            if pkg.get("integrity") not in (None, integrity) and not update:
                raise SystemExit(f"{name}@{version}: integrity {integrity} differs from the pinned "
                                 f"{pkg['integrity']} (a changed version needs --update)")
            pkg["integrity"] = integrity
            sums = pkg.setdefault("sha256", {})
            with tarfile.open(tarball) as tar:
                for source, dest in pkg["files"].items():
                    member = tar.extractfile(f"package/{source}")
                    if member is None:
                        raise SystemExit(f"{name}@{version}: no {source} in the package")
                    data = member.read()
                    digest = sha256(data)
                    if dest in sums and sums[dest] != digest and not update:
                        raise SystemExit(f"{name}@{version}: {source} differs from the pinned sha256")
                    sums[dest] = digest
                    target = VENDOR / dest
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
            print(f"{name}@{version}: {len(pkg['files'])} file(s) ok")
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="verify the vendored files offline")
    mode.add_argument("--update", action="store_true", help="accept new tarballs after a version change")
    args = parser.parse_args()
    manifest = json.loads(MANIFEST.read_text())
    if args.check:
        problems = check(manifest)
        for p in problems:
            print(p, file=sys.stderr)
        sys.exit(1 if problems else 0)
    fetch(manifest, args.update)


if __name__ == "__main__":
    main()
