"""The agent's appeal, the salesperson's remove and lock (respected by a re-analysis), axe-core on
every page (no serious or critical violation) and the customer page at 360 px."""

from __future__ import annotations

from typing import Any

import pytest
from harness import LiveServer, login, new_context, sales_chat
from sqlalchemy import select

from qc_service.pipeline.files import ingest_one
from qc_service.review.models import Violation


def test_agent_appeals_an_open_finding(live: LiveServer, browser: Any) -> None:
    page = new_context(browser, live).new_page()
    login(page, live, "demo-caller")
    assert page.url.endswith("/me")
    row = page.get_by_role("row").filter(has_text="待申诉")
    row.get_by_role("link", name="申诉").first.click()
    page.get_by_role("button", name="提交申诉").click()  # empty: an inline error, nothing sent
    assert "请填写申诉理由" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("申诉理由").get_attribute("aria-invalid") == "true"
    page.get_by_label("申诉理由").fill("客户主动要的联系方式，我没有承诺返现")
    page.get_by_role("button", name="提交申诉").click()
    page.wait_for_url(f"{live.url}/me")
    assert (
        page.get_by_role("row").filter(has_text="申诉中").count() == 2
    )  # the demo call's and this one
    with live.store.session_factory() as db:
        appealed = db.scalars(select(Violation).where(Violation.status == "appealed")).all()
        assert len(appealed) == 2 and appealed[-1].appeals[0].appellant == "demo-caller"


def _chip(page: Any, tag: str) -> Any:
    return page.locator("li.chip").filter(has=page.locator("strong", has_text=tag))


def test_sales_removes_and_locks_tags_and_a_reanalysis_respects_both(
    live: LiveServer, browser: Any
) -> None:
    page = new_context(browser, live).new_page()
    login(page, live, "demo-sales")
    assert page.url.endswith("/customers")
    page.get_by_role("link", name="王妈妈").click()
    chip = _chip(page, "小学")
    chip.get_by_text("依据").click()
    assert chip.locator("mark").first.inner_text() == "四年级"
    assert chip.get_by_text("规则").count() >= 1  # the source badge
    chip.get_by_role("link", name="查看会话").click()
    page.wait_for_url("**/conversations/web-sales-1?m=m2")
    page.wait_for_load_state("load")
    page.wait_for_function(
        "document.activeElement && document.activeElement.id === 'm-m2'"
    )  # ?m= focuses it
    page.go_back()

    price = _chip(page, "关注价格")
    price.get_by_role("button", name="移除").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("移除理由").fill("客户是替朋友问的")
    dialog.get_by_role("button", name="确认移除").click()
    page.wait_for_load_state()
    assert _chip(page, "关注价格").count() == 0
    _chip(page, "小学").get_by_role("button", name="锁定 小学").click()
    page.wait_for_load_state()
    assert _chip(page, "小学").get_by_text("已锁定").count() == 1

    # new evidence for both: 初一 would replace 小学 (exclusive group), 多少钱 would re-add 关注价格
    ingest_one(live.store, sales_chat("web-sales-2", "现在上初一了，这个课多少钱"), final=True)
    page.reload()
    assert _chip(page, "小学").count() == 1  # locked: not taken off
    assert _chip(page, "关注价格").count() == 0  # removed by a person: not put back
    history = page.locator("#history-h").locator("xpath=..").inner_text()
    assert "去掉 关注价格" in history and "tag.locked 小学" in history

    narrow = new_context(browser, live, viewport={"width": 360, "height": 740}).new_page()
    login(narrow, live, "demo-sales")
    narrow.goto(f"{live.url}/customers/u-wang")
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 360


PAGES = {
    "demo-reviewer": ["/review", "/review/{vid}", "/conversations/demo-call-audio-1?m=s1", "/customers",
                      "/customers/u-wang", "/review/999999999", "/me"],
    "demo-caller": ["/me", "{appeal_form}"],
    "demo-sales": ["/customers", "/customers/u-wang"],
}  # fmt: skip


@pytest.mark.parametrize("user", sorted(PAGES))
def test_axe_finds_no_serious_or_critical_violation(
    live: LiveServer, browser: Any, user: str
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = new_context(browser, live).new_page()
    page.goto(f"{live.url}/login")
    pages = ["/login"] if user == "demo-reviewer" else []
    results = {p: Axe().run(page) for p in pages}
    login(page, live, user)
    with live.store.session_factory() as db:
        open_vid = db.scalars(select(Violation.id).where(Violation.status == "open")).first()
    for path in PAGES[user]:
        path = path.format(vid=live.appealed, appeal_form=f"/me/violations/{open_vid}/appeal")  # type: ignore[attr-defined]
        page.goto(live.url + path)
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        results[path] = Axe().run(page)
    bad = {path: [(v["id"], v["impact"], v["help"]) for v in r.response["violations"]
                  if v["impact"] in ("serious", "critical")] for path, r in results.items()}  # fmt: skip
    assert all(not v for v in bad.values()), bad
