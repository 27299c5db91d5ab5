"""The rule editor's server side: located errors, 试运行 storing nothing, 回测 in the background
with cancel, 发布 refused without a finished backtest of exactly the draft, rollback audited."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from factories import bearer, chat
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from qc_service.conversations.models import Conversation
from qc_service.main import create_app
from qc_service.pipeline.files import ingest_one
from qc_service.rulesets import backtest_runs
from qc_service.rulesets.models import BacktestRun, Rule
from qc_service.rulesets.positions import draft_errors
from qc_service.store import Store

DRAFT = """rules:
  - id: page.x
    name: 页面规则
    kind: violation
    severity: high
    when: {keyword: {words: [页面词], role: agent}}
"""


@pytest.fixture
def admin(store: Store) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with TestClient(create_app(store.settings, store=store)) as client:
        yield client, bearer(store, "admin")


def test_errors_carry_line_and_column_for_syntax_and_for_key_paths() -> None:
    (syntax,) = draft_errors("rules:\n  - id: a\n    name: [x\n")
    assert (syntax.line, syntax.column) == (4, 1) and "not valid YAML" in syntax.message
    bad = DRAFT.replace("severity: high", "severity: huge")
    (e,) = draft_errors(bad)
    assert (e.line, e.column, e.rule_id) == (5, 5, "page.x") and "severity" in e.message
    missing = draft_errors("rules:\n  - id: b\n    kind: violation\n")
    assert [(x.line, x.column) for x in missing][:1] == [(2, 5)]  # where the missing key belongs
    assert draft_errors(DRAFT) == []


def test_try_marks_the_hit_and_stores_nothing(
    store: Store, admin: tuple[TestClient, dict[str, str]]
) -> None:
    client, auth = admin
    with store.session_factory() as db:
        before = db.scalar(select(func.count()).select_from(Conversation))
    r = client.post(
        "/rules/try",
        data={"yaml": DRAFT, "dialogue": "客户: 你好\n坐席: 这是页面词呀"},
        headers=auth,
    )
    assert re.findall(r"<mark>(.*?)</mark>", r.text) == ["页面词"]
    r = client.post("/rules/try", data={"yaml": DRAFT, "dialogue": "随便写的一行"}, headers=auth)
    assert 'role="alert"' in r.text and "line 1" in r.text
    with store.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(Conversation)) == before


def test_publish_is_refused_without_a_finished_backtest_of_exactly_this_draft(
    store: Store, admin: tuple[TestClient, dict[str, str]]
) -> None:
    client, auth = admin
    r = client.post("/rules/publish", data={"yaml": DRAFT}, headers=auth, follow_redirects=False)
    assert r.status_code == 409 and "须先完成与当前草稿一致的回测" in r.text
    run = backtest_runs.start(
        store.session_factory, tenant_id="default", text=DRAFT, actor="t", background=False
    )
    with store.session_factory() as db:
        assert db.get(BacktestRun, run.id).status == "finished"
    edited = DRAFT.replace("页面词", "页面词2")
    r = client.post("/rules/publish", data={"yaml": edited}, headers=auth, follow_redirects=False)
    assert r.status_code == 409  # the draft changed after its backtest
    crlf = DRAFT.replace("\n", "\r\n")  # a browser's textarea: the same draft
    r = client.post("/rules/publish", data={"yaml": crlf}, headers=auth, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/rules/page.x/edit?published=1")
    page = client.get("/rules/page.x/edit", headers=auth).text
    assert "已发布" not in page  # the notice only right after publishing
    assert re.search(r"<li>[^<]*发布 · [^<]*v1</li>", page)


def test_a_backtest_runs_in_the_background_and_can_be_cancelled(
    store: Store, admin: tuple[TestClient, dict[str, str]]
) -> None:
    client, auth = admin
    for i in range(3):
        ingest_one(store, chat(f"bt-{i}", "e1", "销售一组", "u1", "这是页面词"), final=True)
    r = client.post("/rules/backtests", data={"yaml": DRAFT}, headers=auth)
    run_id = re.search(r'id="run-(\w+)"', r.text).group(1)
    status = ""
    for _ in range(200):
        status = re.search(
            r'data-status="(\w+)"', client.get(f"/rules/backtests/{run_id}", headers=auth).text
        ).group(1)
        if status != "running":
            break
        backtest_runs._executor.submit(lambda: None).result()  # wait for the runner's queue to move
    assert status == "finished"
    assert "<td>3</td>" in client.get(f"/rules/backtests/{run_id}", headers=auth).text  # 3 new hits
    with store.session_factory() as db:  # a run asked to stop stops at its next beat
        run = BacktestRun(id="c" * 32, tenant_id="default", draft=DRAFT, draft_hash="h", rule_ids=["page.x"],
                          status="running", total=10, done=0, cancel_requested=False, created_by="t")  # fmt: skip
        db.add(run)
        db.commit()
    client.post(f"/rules/backtests/{'c' * 32}/cancel", headers=auth)
    with store.session_factory() as db:
        assert db.get(BacktestRun, "c" * 32).cancel_requested is True
    backtest_runs.BEAT_SECONDS, beat = 0.0, backtest_runs.BEAT_SECONDS
    try:
        backtest_runs.execute(store.session_factory, "c" * 32)
    finally:
        backtest_runs.BEAT_SECONDS = beat
    with store.session_factory() as db:
        assert db.get(BacktestRun, "c" * 32).status == "cancelled"
    r = client.post("/rules/backtests", data={"yaml": "rules: [{id: q}]"}, headers=auth)
    assert 'role="alert"' in r.text  # an invalid draft starts nothing


def test_rollback_and_the_switch_are_audited_on_the_timeline(
    store: Store, admin: tuple[TestClient, dict[str, str]]
) -> None:
    client, auth = admin
    for words in ("页面词", "页面词2"):
        text = DRAFT.replace("页面词", words)
        backtest_runs.start(
            store.session_factory, tenant_id="default", text=text, actor="t", background=False
        )
        assert (
            client.post(
                "/rules/publish", data={"yaml": text}, headers=auth, follow_redirects=False
            ).status_code
            == 303
        )
    assert (
        client.post(
            "/rules/page.x/rollback", data={"version": "1"}, headers=auth, follow_redirects=False
        ).status_code
        == 303
    )
    assert (
        client.post(
            "/rules/page.x/toggle", data={"enabled": "0"}, headers=auth, follow_redirects=False
        ).status_code
        == 303
    )
    with store.session_factory() as db:
        rule = db.scalars(select(Rule).where(Rule.rule_id == "page.x")).one()
        assert (rule.current_version, rule.enabled) == (1, False)
    timeline = re.search(
        r'<ol class="timeline">(.*?)</ol>',
        client.get("/rules/page.x/edit", headers=auth).text,
        re.S,
    ).group(1)
    assert [
        re.search(r"· (\S+) ·", li).group(1) for li in re.findall(r"<li>(.*?)</li>", timeline)
    ] == ["停用", "回滚", "发布", "发布"]
    listing = client.get("/rules", params={"q": "page"}, headers=auth).text
    assert listing.count("data-rule=") == 1 and "停用" in listing
    manager = bearer(store, "manager", teams=["销售一组"])
    assert (
        client.post("/rules/page.x/toggle", data={"enabled": "1"}, headers=manager).status_code
        == 403
    )
    assert client.get("/rules/page.x/edit", headers=manager).status_code == 403
