"""The admin's segments pages in a real browser: the list shows a run's members and the last
run, the detail lists members with why and links to the customer, a draft's preview counts
without storing, and axe finds nothing serious or critical on any of them (UI.md, Tests)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import LiveServer, live_server, login, new_context, open_store_at
from rich.console import Console

from qc_service.cli import store_cmds
from qc_service.db.base import utcnow
from qc_service.db.session import write_transaction
from qc_service.rulesets.service import publish
from qc_service.segments.service import run_segments
from tests.segments.world import World

SEGMENT = {"id": "seg.quote", "name": "问价客户", "when": {"said": {"cond": {"keyword": {"words": ["报价"]}},
           "window": "7d"}}, "on_enter": [{"tag_customer": "问过价"}]}  # fmt: skip


@pytest.fixture
def segs(tmp_path: Path, browser: Any) -> Iterator[LiveServer]:
    store = open_store_at(tmp_path)
    try:
        store_cmds.print_demo_users(store, Console(quiet=True))
        with write_transaction(store.session_factory) as db:
            w = World(db)
            for cid in ("u-a", "u-b"):
                w.chat(cid, ("customer", "报价多少", utcnow() - timedelta(days=1)))
            w.chat("u-c", ("customer", "你好", utcnow() - timedelta(days=1)))
            publish(db_session=db, tenant_id="default", doc={"rules": [], "segments": [SEGMENT]},
                    source="api", source_name="test")  # fmt: skip
        run_segments(store.session_factory, "default")
        with live_server(store) as server:
            yield server
            assert server.offsite == [], f"pages asked other hosts: {server.offsite}"
    finally:
        store.close()


def test_admin_reads_a_segment_and_previews_a_draft(segs: LiveServer, browser: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = new_context(browser, segs).new_page()
    login(page, segs, "demo-admin")
    page.goto(segs.url + "/segments")
    row = page.locator('tr[data-segment="seg.quote"]')
    assert "+2 / −0" in row.inner_text()
    results = {"list": Axe().run(page)}
    row.get_by_role("link", name="问价客户").click()
    page.wait_for_url(re.compile(r"/segments/seg\.quote$"))
    assert page.get_by_role("link", name=re.compile("u-a")).count() >= 1
    results["detail"] = Axe().run(page)
    page.goto(segs.url + "/segments")
    page.get_by_label("分组草稿（规则文档 YAML）").fill(
        "rules: []\nsegments:\n  - id: seg.hello\n    name: 打招呼\n"
        "    when: {said: {cond: {keyword: {words: [你好]}}, window: 7d}}\n"
    )
    page.get_by_role("button", name="预览").click()
    preview = page.get_by_role("table", name="预览结果")
    assert preview.locator("tbody tr").inner_text().split() == ["seg.hello", "1", "1", "0"]
    results["preview"] = Axe().run(page)
    page.get_by_label("分组草稿（规则文档 YAML）").fill("rules: []\nsegments: [{id: seg.x}]\n")
    page.get_by_role("button", name="预览").click()
    assert "name" in page.get_by_role("alert").inner_text()  # the loader's error, with the path
    results["error"] = Axe().run(page)
    bad = {k: [(v["id"], v["impact"], v["help"]) for v in r.response["violations"]
               if v["impact"] in ("serious", "critical")] for k, r in results.items()}  # fmt: skip
    assert all(not v for v in bad.values()), bad
