"""Regenerate ``docs/screenshots/*.png``: each page of the web UI on the seeded demo data.

    make screenshots        # or: .venv/bin/python tools/screenshots.py

Uses the browser tests' harness (Debian chromium via Playwright, a seeded SQLite store in a
temporary folder, the real app under uvicorn on 127.0.0.1).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
sys.path.insert(0, str(ROOT / "tests"))

from harness import ARGS, CHROMIUM, live_server, login, new_context, open_store_at, seed  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store_at(Path(tmp))
        vid = seed(store)
        with live_server(store) as live, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            shots = [
                ("demo-reviewer", "login", None, None),
                ("demo-reviewer", "review-queue", "/review", None),
                ("demo-reviewer", "review-page", f"/review/{vid}", "button.seek"),
                ("demo-reviewer", "conversation", "/conversations/demo-call-audio-1", None),
                ("demo-caller", "agent-me", "/me", None),
                ("demo-caller", "agent-appeal", "/me", "a.button"),
                ("demo-sales", "sales-customers", "/customers", None),
                ("demo-sales", "sales-customer", "/customers/u-wang", "summary"),
                ("demo-integration", "docs", "/docs", None),
            ]
            for user, name, path, click in shots:
                page = new_context(
                    browser, live, viewport={"width": 1280, "height": 800}
                ).new_page()
                if path is None:
                    page.goto(f"{live.url}/login")
                else:
                    login(page, live, user)
                    page.goto(live.url + path)
                if click:
                    page.locator(click).first.click()
                    page.wait_for_load_state()
                if name == "docs":
                    page.locator(".opblock").first.wait_for()
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=name != "docs")
                sys.stdout.write(f"wrote {OUT / name}.png\n")
            narrow = new_context(browser, live, viewport={"width": 360, "height": 740}).new_page()
            login(narrow, live, "demo-sales")
            narrow.goto(f"{live.url}/customers/u-wang")
            narrow.screenshot(path=str(OUT / "sales-customer-360px.png"), full_page=True)
            _manager_and_admin(browser, Path(tmp) / "dash")
            browser.close()
            assert not live.offsite, live.offsite
        store.close()
    return 0


def _manager_and_admin(browser: object, tmp: Path) -> None:
    """The dashboard and the rule pages on the dashboard tests' seeded store."""
    from dashboard_seed import seed_dashboard
    from rich.console import Console

    from qc_service.cli import store_cmds

    tmp.mkdir()
    store = open_store_at(tmp)
    store_cmds.print_demo_users(store, Console(quiet=True))
    seed_dashboard(store)
    with live_server(store) as live:
        for user, name, path in (("demo-manager", "manager-dashboard", "/dashboard"),
                                 ("demo-manager", "manager-drilldown", "/violations?rule=dash.a&status=open,appealed,upheld,confirmed"),
                                 ("demo-admin", "admin-rules", "/rules"),
                                 ("demo-admin", "admin-rule-editor", "/rules/dash.a/edit")):  # fmt: skip
            page = new_context(browser, live, viewport={"width": 1280, "height": 800}).new_page()
            login(page, live, user)
            page.goto(live.url + path)
            if name == "admin-rule-editor":
                page.get_by_label("试运行对话").fill("客户: 在吗\n坐席: 这就是看板甲")
                page.get_by_role("button", name="试运行").click()
                page.locator("#trial-result mark").wait_for()
                page.get_by_role("button", name="回测").click()
                page.locator('[data-status="finished"]').wait_for(timeout=20_000)
            page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
            sys.stdout.write(f"wrote {OUT / name}.png\n")
        assert not live.offsite, live.offsite
    store.close()


if __name__ == "__main__":
    raise SystemExit(main())
