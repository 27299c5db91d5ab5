"""Ingest stores before it analyses, merges by message id, and loses nothing a bad record touches."""

from __future__ import annotations

from factories import record
from sqlalchemy import func, select

from crm_bridge.outbox.models import OutboxEvent
from qc_service.conversations.models import Conversation, Message
from qc_service.conversations.service import get_by_external_id
from qc_service.pipeline.files import ingest_one
from qc_service.review.models import Evidence, Score, Violation
from qc_service.rulesets.models import Rule, RuleVersion
from qc_service.store import Store
from qc_service.tagging.models import CustomerTag


def _violations(store: Store) -> list[Violation]:
    with store.session_factory() as s:
        return list(s.scalars(select(Violation).order_by(Violation.id)))


def test_fresh_store_runs_the_builtin_pack_once(store: Store) -> None:
    with store.session_factory() as s:
        rules = s.scalars(select(Rule)).all()
        assert {"redline.red-packet", "redline.private-contact"} <= {r.rule_id for r in rules}
        assert all(r.current_version == 1 for r in rules)
        n_versions = s.scalar(select(func.count()).select_from(RuleVersion))
    from qc_service.store import open_store

    again = open_store(store.settings)
    again.close()
    with store.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(RuleVersion)) == n_versions


def test_red_line_is_stored_with_evidence_score_and_tag(store: Store) -> None:
    rec = record("c1", ("m1", "customer", "这个课多少钱？"), ("m2", "agent", "报名就给您发个红*包"))
    answer = ingest_one(store, rec, final=True)
    assert (answer.status, answer.conversation_status) == ("accepted", "analysed")
    (violation,) = _violations(store)
    assert violation.rule_id == "redline.red-packet" and violation.status == "open"
    with store.session_factory() as s:
        ev = s.scalars(select(Evidence)).one()
        assert (ev.message_external_id, ev.start, ev.end, ev.text) == ("m2", 7, 10, "红*包")
        score = s.scalars(select(Score)).one()
        assert (score.score, score.passed, score.items) == (
            0,
            False,
            [{"rule_id": "redline.red-packet", "deduct": 0, "fatal": True}],
        )
        tags = {t.tag: t for t in s.scalars(select(CustomerTag))}
        assert set(tags) == {
            "询价客户",
            "红包敏感",
        }  # a tag rule, and the red line's tag_customer action
        assert tags["询价客户"].evidence[0]["message_id"] == "m1"
        assert (tags["红包敏感"].source, tags["红包敏感"].evidence[0]["text"]) == ("rule", "红*包")
        events = [e.event_type for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]
        assert events == ["violation.opened", "tag.added", "tag.added", "alert.raised"]
        conv = get_by_external_id(db_session=s, tenant_id="default", external_id="c1")
        assert conv is not None and conv.status == "analysed" and conv.closed


def test_resending_merges_by_message_id_without_duplicate_findings(store: Store) -> None:
    first = record("c1", ("m1", "agent", "给您发个红包"))
    assert ingest_one(store, first, final=False).status == "accepted"
    assert ingest_one(store, first, final=False).status == "unchanged"
    longer = record(
        "c1",
        ("m1", "agent", "给您发个红包"),
        ("m2", "customer", "好"),
        ("m3", "agent", "下单返现50"),
    )
    assert ingest_one(store, longer, final=False).status == "accepted"
    (violation,) = _violations(store)
    with store.session_factory() as s:
        texts = [
            e.text
            for e in s.scalars(
                select(Evidence).where(Evidence.violation_id == violation.id).order_by(Evidence.id)
            )
        ]
        assert texts == ["红包", "返现"]
        seqs = s.scalars(select(Message.seq).order_by(Message.seq)).all()
        assert seqs == [0, 1, 2]


def test_known_message_with_different_text_is_a_conflict_and_changes_nothing(store: Store) -> None:
    ingest_one(store, record("c1", ("m1", "agent", "您好")), final=False)
    answer = ingest_one(
        store,
        record("c1", ("m1", "agent", "加我微信 abc_12345"), ("m2", "agent", "在吗")),
        final=False,
    )
    assert answer.status == "rejected"
    assert answer.error is not None
    assert (answer.error["code"], answer.error["record_id"], answer.error["field"]) == (
        "CONFLICT",
        "c1",
        "messages[0].text",
    )
    with store.session_factory() as s:
        assert s.scalars(select(Message.text)).all() == ["您好"]
    assert _violations(store) == []


def test_a_bad_record_loses_nothing_already_accepted(store: Store) -> None:
    good = record("c1", ("m1", "agent", "您好"))
    bad = {"id": "c2", "channel": "wecom", "employee": {}, "customer": {"id": "u"}, "messages": []}
    answers = [ingest_one(store, r, line=i, final=True) for i, r in enumerate([good, bad], start=1)]
    assert [a.status for a in answers] == ["accepted", "rejected"]
    assert answers[1].error is not None
    assert (answers[1].error["field"], answers[1].error["record_id"], answers[1].line) == (
        "employee.id",
        "c2",
        2,
    )
    with store.session_factory() as s:
        assert s.scalars(select(Conversation.external_id)).all() == ["c1"]


def test_unknown_fields_are_kept(store: Store) -> None:
    rec = record("c1", ("m1", "agent", "您好"), source_system="wecom-archive")
    rec["messages"][0]["msgtime"] = 1763600000
    ingest_one(store, rec, final=True)
    with store.session_factory() as s:
        conv = s.scalars(select(Conversation)).one()
        assert conv.extra == {"source_system": "wecom-archive"}
        assert s.scalars(select(Message)).one().extra == {"msgtime": 1763600000}


def test_call_segments_become_messages(store: Store) -> None:
    rec = {
        "id": "call-1", "channel": "call", "employee": {"id": "e1"}, "customer": {"id": "u1"},
        "started_at": "2026-11-20T09:00:00+08:00",
        "call": {"segments": [{"role": "agent", "start": 0.4, "end": 2.0, "text": "您好"},
                              {"role": "agent", "start": 2.5, "end": 5.0, "text": "这个产品保本保息的"}]},
    }  # fmt: skip
    assert ingest_one(store, rec, final=True).conversation_status == "analysed"
    (violation,) = _violations(store)
    assert violation.rule_id == "redline.guaranteed-returns"
    with store.session_factory() as s:
        ev = s.scalars(select(Evidence)).one()
        assert ev.message_external_id == "seg-1"
        ts = s.scalars(select(Message.ts).where(Message.external_id == "seg-1")).one()
        assert ts is not None and ts.isoformat() == "2026-11-20T01:00:02.500000+00:00"


def test_decided_violation_is_never_rewritten_by_reanalysis(store: Store) -> None:
    from qc_service.pipeline.service import analyze_conversation

    ingest_one(store, record("c1", ("m1", "agent", "给您发个红包")), final=False)
    with store.session_factory() as s, s.begin():
        v = s.scalars(select(Violation)).one()
        v.status = "overturned"
    ingest_one(
        store, record("c1", ("m1", "agent", "给您发个红包"), ("m2", "agent", "返现50")), final=False
    )
    with store.session_factory() as s:
        conv = s.scalars(select(Conversation)).one()
        analyze_conversation(session_factory=store.session_factory, conversation_pk=conv.id)
        v = s.scalars(select(Violation)).one()
        assert v.status == "overturned"
        assert [e.text for e in s.scalars(select(Evidence))] == ["红包"]
        score = s.scalars(select(Score)).one()
        assert (score.score, score.items) == (100, [])
