"""Copy the pinned front-end packages from the npm registry into the package's static folder.

Why a script and committed output: the service must run on a closed network and never fetch an
asset at run time (UI.md), so the files live in ``qc_service/web/static/vendor`` with their
licences and a ``SHA256SUMS`` that a test checks. This script is the only way they change:
``frontend/package.json`` pins exact versions, ``frontend/package-lock.json`` records the
registry's integrity hashes, and ``npm ci --ignore-scripts`` installs exactly that (no install
scripts run: swagger-ui-dist's telemetry dependency stays inert).

    python tools/vendor_assets.py          # npm ci, copy, rewrite SHA256SUMS
    python tools/vendor_assets.py --check  # verify the committed files against SHA256SUMS
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
VENDOR = ROOT / "qc_service" / "web" / "static" / "vendor"
FILES: dict[str, list[str]] = {
    "htmx.org": ["dist/htmx.min.js", "LICENSE"],
    "swagger-ui-dist": ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"],
}
"""What each package contributes (paths inside the package); licences always travel along."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_lines() -> list[str]:
    return [
        f"{sha256(p)}  {p.relative_to(VENDOR).as_posix()}"
        for p in sorted(VENDOR.rglob("*"))
        if p.is_file() and p.name != "SHA256SUMS"
    ]


def vendor() -> None:
    subprocess.run(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True
    )
    lock = json.loads((FRONTEND / "package-lock.json").read_text(encoding="utf-8"))
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    for package, files in FILES.items():
        version = lock["packages"][f"node_modules/{package}"]["version"]
        target = VENDOR / f"{package}@{version}"
        for rel in files:
            dest = target / Path(rel).name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(FRONTEND / "node_modules" / package / rel, dest)
    (VENDOR / "SHA256SUMS").write_text("\n".join(manifest_lines()) + "\n", encoding="utf-8")
    sys.stdout.write((VENDOR / "SHA256SUMS").read_text(encoding="utf-8"))


def check() -> int:
    expected = (VENDOR / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    actual = manifest_lines()
    if expected != actual:
        sys.stderr.write("vendored assets differ from SHA256SUMS\n")
        return 1
    sys.stdout.write(f"{len(actual)} vendored files match SHA256SUMS\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify, do not rebuild")
    args = parser.parse_args()
    if args.check:
        return check()
    vendor()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
