"""The manager's and the QC admin's journeys in a real browser (UI part 2): the KPI tiles equal
the seeded counts, a trend cell opens exactly its hits, rule health flags the unreasonable rule;
the admin switches a rule off, sees an invalid YAML's line, tries a draft on a pasted dialogue,
cannot publish before a matching backtest, publishes after it, and axe finds nothing serious."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_seed import MANAGER, seed_dashboard
from harness import LiveServer, live_server, login, new_context, open_store_at
from rich.console import Console

from qc_service.cli import store_cmds

BAD = """rules:
  - id: dash.d
    name: 看板规则丁
    kind: violation
    severity: high
    when:
      keyword:
        words: [看板丁]
        min_count: abc
"""
GOOD = BAD.replace("min_count: abc", "min_count: 1")


@pytest.fixture
def dash(tmp_path: Path, browser: Any) -> Iterator[LiveServer]:
    store = open_store_at(tmp_path)
    try:
        store_cmds.print_demo_users(store, Console(quiet=True))
        seed_dashboard(store)
        with live_server(store) as server:
            yield server
            assert server.offsite == [], f"pages asked other hosts: {server.offsite}"
    finally:
        store.close()


def test_manager_sees_the_seeded_figures_and_drills_into_a_trend_cell(
    dash: LiveServer, browser: Any
) -> None:
    page = new_context(browser, dash).new_page()
    login(page, dash, "demo-manager")
    assert page.url.endswith("/dashboard")  # the manager's home
    for name, value in MANAGER.items():
        assert page.get_by_role("group", name=name).locator(".tile-value").inner_text() == value, (
            name
        )
    assert re.search(r"数据更新于 \d\d:\d\d", page.locator("#as-of").inner_text())
    health = page.locator("#rule-health")
    assert "可能不合理" in health.locator('tr[data-rule="dash.a"]').inner_text()
    assert "可能不合理" not in health.locator('tr[data-rule="dash.b"]').inner_text()
    cell = page.locator('#trend-table a[href*="rule=dash.a"]')
    assert (
        cell.count() == 1 and cell.inner_text() == "8"
    )  # all seeded today: 8 standing dash.a hits
    cell.click()
    page.wait_for_url(re.compile(r"/violations\?"))
    assert page.locator("#list-total").inner_text() == "共 8 条"
    rules = page.locator("#violations tbody tr td:first-child a").all_inner_texts()
    assert rules == ["dash.a"] * 8
    page.go_back()
    page.wait_for_url(re.compile(r"/dashboard"))
    page.get_by_role("group", name="超时申诉").get_by_role("link").click()
    assert page.locator("#list-total").inner_text() == "共 1 条"
    page.goto(f"{dash.url}/rules")  # managers read the rules: no switch, no editor
    assert page.get_by_role("switch").count() == 0
    assert page.goto(f"{dash.url}/rules/new").status == 403  # type: ignore[union-attr]


def test_admin_writes_tries_backtests_and_publishes_a_rule(dash: LiveServer, browser: Any) -> None:
    page = new_context(browser, dash).new_page()
    login(page, dash, "demo-admin")
    assert page.url.endswith("/rules")  # the admin's home
    switch = page.get_by_role("switch", name="启用 dash.c")
    assert switch.get_attribute("aria-checked") == "true"
    switch.click()
    page.wait_for_load_state()
    assert page.get_by_role("switch", name="启用 dash.c").get_attribute("aria-checked") == "false"
    assert "停用" in page.locator('tr[data-rule="dash.c"]').inner_text()

    page.get_by_role("link", name="新建规则").click()
    editor = page.get_by_label("规则 YAML")
    editor.fill(BAD)
    page.get_by_role("button", name="校验").click()
    assert (
        page.get_by_role("alert").inner_text() == "第 9 行，第 9 列：min_count must be an integer"
    )
    assert editor.get_attribute("aria-invalid") == "true"
    editor.fill(GOOD)
    page.get_by_role("button", name="校验").click()
    page.get_by_text("校验通过").wait_for()
    assert editor.get_attribute("aria-invalid") is None

    page.get_by_label("试运行对话").fill("客户: 在吗\n坐席: 这个就是看板丁的说法")
    page.get_by_role("button", name="试运行").click()
    assert page.locator("#trial-result mark").inner_text() == "看板丁"

    publish = page.get_by_role("button", name="发布", exact=True)
    assert publish.is_disabled()  # no backtest of this draft yet
    page.get_by_role("button", name="回测").click()
    page.locator('[data-status="finished"]').wait_for(timeout=20_000)
    assert publish.is_enabled()
    editor.press("End")
    editor.type("#")  # the draft changed after its backtest: 发布 is off again
    assert publish.is_disabled()
    editor.press("Backspace")
    assert publish.is_enabled()
    publish.click()
    dialog = page.get_by_role("dialog")
    assert "+- id: dash.d" in dialog.locator("pre").inner_text()
    dialog.get_by_role("button", name="确认发布").click()
    page.wait_for_url(re.compile(r"/rules/dash\.d/edit"))
    assert page.get_by_role("status").filter(has_text="已发布").count() == 1
    assert "发布" in page.locator(".timeline").inner_text()


def test_axe_on_the_manager_and_admin_pages(dash: LiveServer, browser: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = new_context(browser, dash).new_page()
    results = {}
    login(page, dash, "demo-admin")
    for path in (
        "/dashboard",
        "/violations?rule=dash.a",
        "/rules",
        "/rules/new",
        "/rules/dash.a/edit",
    ):
        page.goto(dash.url + path)
        results[path] = Axe().run(page)
    page.get_by_role("button", name="回测").click()  # the editor with a finished backtest's report
    page.locator('[data-status="finished"]').wait_for(timeout=20_000)
    results["backtest"] = Axe().run(page)
    bad = {path: [(v["id"], v["impact"], v["help"]) for v in r.response["violations"]
                  if v["impact"] in ("serious", "critical")] for path, r in results.items()}  # fmt: skip
    assert all(not v for v in bad.values()), bad
