"""The reviewer's journey in a real browser: log in → queue → open → seek by click and by key →
decide without a reason (inline error, nothing changed) → decide with one (status, timeline,
count) → a second reviewer's stale form gets 已由 … 处理 and no second write."""

from __future__ import annotations

import re
from typing import Any

from harness import LiveServer, login, new_context
from sqlalchemy import func, select

from qc_service.audit.models import AuditEvent
from qc_service.review.models import Evidence, Violation


def _current_time_near(page: Any, target: float, tolerance: float = 1.0) -> None:
    """Poll the player's currentTime (never await play(): autoplay may be slow to start)."""
    page.wait_for_function(
        "([t, tol]) => { const a = document.getElementById('player');"
        " return a && Math.abs(a.currentTime - t) <= tol; }",
        arg=[target, tolerance], timeout=10_000,
    )  # fmt: skip


def _decisions(live: LiveServer, vid: int) -> int:
    with live.store.session_factory() as db:
        return db.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.entity_type == "violation", AuditEvent.entity_id == str(vid),
            AuditEvent.action.in_(("status.upheld", "status.overturned")))) or 0  # fmt: skip


def test_reviewer_decides_an_appeal_at_the_second_of_the_evidence(
    live: LiveServer, browser: Any
) -> None:
    vid = live.appealed  # type: ignore[attr-defined]
    with live.store.session_factory() as db:
        starts = sorted(t for t in db.scalars(select(Evidence.t_start).where(
            Evidence.violation_id == vid, Evidence.t_start.is_not(None))))  # fmt: skip
    ctx = new_context(browser, live)
    page = ctx.new_page()
    login(page, live, "demo-reviewer")
    assert page.url.endswith("/review")  # the reviewer's home
    row = page.get_by_role("row").filter(has_text="申诉中")
    assert "剩余 4" in row.inner_text()  # 48 h SLA, just submitted: 剩余 47 小时
    row.get_by_role("link").first.click()
    page.wait_for_url(re.compile(rf"/review/{vid}"))
    assert page.locator("mark").count() >= 1
    first = starts[0]
    label = f"跳转到 {int(first) // 60:02d}:{int(first) % 60:02d} 命中"
    page.get_by_role("button", name=label).first.click()
    _current_time_near(page, first)
    page.locator("#player").evaluate("a => { a.pause(); a.currentTime = 0; }")
    page.locator("body").click(position={"x": 1, "y": 1})
    page.keyboard.press("j")  # the first hit again, by keyboard
    _current_time_near(page, first)
    page.keyboard.press("ArrowRight")
    _current_time_near(page, first + 5, 1.5)

    page.get_by_label("撤销").check()
    page.get_by_role("button", name="提交").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "撤销须选择理由" in alert.inner_text()
    assert page.get_by_label("理由").get_attribute("aria-invalid") == "true"
    with live.store.session_factory() as db:
        assert db.get(Violation, vid).status == "appealed"  # nothing changed

    stale = new_context(browser, live).new_page()  # a second reviewer opens the same form
    login(stale, live, "demo-admin")
    stale.goto(f"{live.url}/review/{vid}")

    page.get_by_label("撤销").check()
    page.get_by_label("理由").select_option("rule_too_strict")
    page.get_by_label("备注").fill("听了录音，客户先喊")
    page.get_by_role("button", name="提交").click()
    page.get_by_text("已撤销").first.wait_for()
    assert "撤销" in page.locator("#timeline").inner_text()
    assert "规则过严" in page.locator("#timeline").inner_text()
    assert page.locator("#pending").inner_text() == "待审申诉：0"

    stale.get_by_label("维持").check()
    stale.get_by_role("button", name="提交").click()
    stale.get_by_text("已由 demo reviewer 处理").wait_for()
    with live.store.session_factory() as db:
        v = db.get(Violation, vid)
        assert (v.status, v.reason_code, v.decided_by) == (
            "overturned",
            "rule_too_strict",
            "demo-reviewer",
        )
    assert _decisions(live, vid) == 1  # no double write
