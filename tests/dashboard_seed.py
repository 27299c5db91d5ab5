"""A store whose dashboard figures are known by construction (issue: "seeded data with known
counts → KPI tiles equal them"). Shared by the dashboard tests, the browser journeys and
``tools/screenshots.py``.

Only three rules run (the built-in pack is switched off): ``dash.a`` on 看板甲, ``dash.b`` on
看板乙, ``dash.c`` on 看板丙. In 销售一组 (the demo manager's team): 20 chats fire dash.a (12
overturned, 8 upheld: 60 % over 20 decisions → 可能不合理), 3 fire dash.b (all overturned: 100 %
but n = 3 → no flag), 4 fire dash.c (2 appealed and undecided, one of them past the 48 h
deadline), 7 are clean. In 售后服务组 one more chat fires dash.a (open): the admin sees it, the
manager does not.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from qc_service.db.base import utcnow
from qc_service.db.session import write_transaction
from qc_service.pipeline.files import ingest_one
from qc_service.review import flows
from qc_service.review.models import Appeal, Violation
from qc_service.rulesets import authoring
from qc_service.store import Store

RULES = """
rules:
  - {id: dash.a, name: 看板规则甲, kind: violation, severity: high, when: {keyword: {words: [看板甲], role: agent}}}
  - {id: dash.b, name: 看板规则乙, kind: violation, severity: medium, when: {keyword: {words: [看板乙], role: agent}}}
  - {id: dash.c, name: 看板规则丙, kind: violation, severity: low, when: {keyword: {words: [看板丙], role: agent}}}
"""
SALES, SERVICE = "销售一组", "售后服务组"

# what the manager (销售一组) and the admin (everything) must see for the last 7 days
MANAGER = {"质检会话数": "34", "违规数": "12", "违规率": "35.3%", "申诉数": "2", "撤销率": "65.2%",
           "超时申诉": "1"}  # fmt: skip
ADMIN = {**MANAGER, "质检会话数": "35", "违规数": "13", "违规率": "37.1%"}


def _chat(rid: str, employee: str, team: str, text: str) -> dict[str, Any]:
    return {"id": rid, "channel": "wecom",
            "employee": {"id": employee, "name": f"坐席{employee}", "team": team},
            "customer": {"id": f"u-{rid}", "name": "客户"},
            "messages": [{"id": "m1", "role": "customer", "text": "你好，想了解一下"},
                         {"id": "m2", "role": "agent", "text": text}]}  # fmt: skip


def seed_dashboard(store: Store) -> None:
    """The store described in the module docstring (idempotent on record ids, not on decisions:
    call it once per store)."""
    with write_transaction(store.session_factory) as db:
        authoring.publish_text(
            db_session=db, tenant_id="default", text=RULES, source="test", actor="test"
        )
        for rule in authoring.list_rules(db_session=db, tenant_id="default"):
            if not rule.rule_id.startswith("dash."):
                authoring.set_enabled(db_session=db, tenant_id="default", rule_id=rule.rule_id,
                                      enabled=False, actor="test")  # fmt: skip
    plan = ([("a", "d1", SALES, "看板甲")] * 20 + [("b", "d2", SALES, "看板乙")] * 3
            + [("c", "d2", SALES, "看板丙")] * 4 + [("n", "d1", SALES, "您好，请问有什么可以帮您")] * 7
            + [("x", "d5", SERVICE, "看板甲")])  # fmt: skip
    for i, (kind, employee, team, text) in enumerate(plan):
        assert (
            ingest_one(
                store, _chat(f"dash-{kind}-{i}", employee, team, text), final=True
            ).conversation_status
            == "analysed"
        )
    with write_transaction(store.session_factory) as db:
        by_rule: dict[str, list[Violation]] = {}
        for v in db.scalars(select(Violation).order_by(Violation.id)):
            by_rule.setdefault(v.rule_id, []).append(v)
        a = [v for v in by_rule["dash.a"] if v.conversation.employee.team == SALES]
        for n, v in enumerate(a):
            overturn = n < 12
            flows.decide(db_session=db, violation=v, decision="overturn" if overturn else "uphold",
                         reviewer="demo-reviewer", comment=None,
                         reason_code="rule_too_strict" if overturn else None)  # fmt: skip
        for v in by_rule["dash.b"]:
            flows.decide(db_session=db, violation=v, decision="overturn", reviewer="demo-reviewer",
                         comment=None, reason_code="context_ok")  # fmt: skip
        for v in by_rule["dash.c"][:2]:
            flows.appeal(db_session=db, violation=v, reason="客户先提到的", appellant="d2",
                         window_days=store.settings.appeal_window_days)  # fmt: skip
        db.flush()
        first = by_rule["dash.c"][0].id
        db.execute(update(Appeal).where(Appeal.violation_id == first)
                   .values(created_at=utcnow() - timedelta(hours=50)))  # fmt: skip
