"""/docs renders Swagger UI from the vendored assets on a closed network; the vendored files
match their SHA256SUMS; static files carry long cache headers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from harness import LiveServer, login, new_context

ROOT = Path(__file__).resolve().parents[2]


def test_docs_page_renders_the_spec_without_any_other_host(live: LiveServer, browser: Any) -> None:
    page = new_context(browser, live).new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    login(page, live, "demo-integration")
    assert page.url.endswith("/docs")  # the integration user's home
    page.locator(".opblock").first.wait_for(
        timeout=15_000
    )  # operations rendered from /openapi.json
    assert page.get_by_text("/v1/violations/{violation_id}/decision").count() >= 1
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_vendored_assets_match_their_sha256sums() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "vendor_assets.py"), "--check"],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    sums = (ROOT / "qc_service/web/static/vendor/SHA256SUMS").read_text(encoding="utf-8")
    assert "htmx.org@2.0.11/LICENSE" in sums and "swagger-ui-dist@5.35.0/LICENSE" in sums


def test_static_assets_are_cached_for_a_year(live: LiveServer) -> None:
    import httpx

    r = httpx.get(f"{live.url}/static/vendor/htmx.org@2.0.11/htmx.min.js")
    assert r.status_code == 200 and "max-age=31536000" in r.headers["cache-control"]
