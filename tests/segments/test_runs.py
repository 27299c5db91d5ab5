"""Segment runs: transitions applied once (re-runs, a run killed at any point), hold, guard,
first_run, sticky overrides, the lease, and a dry run that counts what a run applies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from crm_bridge.outbox.models import OutboxEvent
from qc_service.customers.models import Customer
from qc_service.db.session import write_transaction
from qc_service.rulesets.service import publish
from qc_service.segments import service as segments
from qc_service.segments.models import Segment, SegmentMember, SegmentRun, SegmentTransition
from qc_service.store import Store
from qc_service.tagging.models import CustomerTag
from qc_service.tagging.service import add_tag, clear_override, lock_tag, remove_by_person
from tests.segments.world import AS_OF, World, ago

DAY = timedelta(days=1)


def segment(**extra: Any) -> dict[str, Any]:
    return {"id": "seg.quote", "name": "问价", "when": {"said": {"cond": {"keyword": {"words": ["报价"]}},
            "window": "7d"}}, "on_enter": [{"tag_customer": "问过价"}, {"notify": "owner"}], **extra}  # fmt: skip


def setup(store: Store, customers: int = 3, **extra: Any) -> None:
    with write_transaction(store.session_factory) as db:
        w = World(db)
        for i in range(customers):
            w.chat(f"u{i}", ("customer", "报价多少", ago(days=1)))
        w.chat("quiet", ("customer", "你好", ago(days=1)))
        publish(db_session=db, tenant_id="default", doc={"rules": [], "segments": [segment(**extra)]},
                source="api", source_name="test")  # fmt: skip


def run(store: Store, at: Any = AS_OF, **kw: Any) -> segments.RunResult:
    (result,) = segments.run_segments(store.session_factory, "default", as_of=at, **kw)
    return result


def count(store: Store, model: Any, *where: Any) -> int:
    with store.session_factory() as db:
        return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def tag_on(store: Store, cid: str, tag: str = "问过价") -> bool:
    with store.session_factory() as db:
        return db.scalar(select(CustomerTag.id).join(Customer).where(
            Customer.external_id == cid, CustomerTag.tag == tag, CustomerTag.removed_at.is_(None))) is not None  # fmt: skip


def test_enter_tags_once_and_the_same_as_of_twice_changes_nothing(store: Store) -> None:
    setup(store)
    first = run(store)
    assert first.status == "done" and sorted(first.entered) == ["u0", "u1", "u2"]
    lines = list(first.lines())
    assert lines[0] == {"type": "segment", "action": "enter", "segment_id": "seg.quote",
                        "customer_id": "u0", "as_of": AS_OF.isoformat()}  # fmt: skip
    assert [ln["action"] for ln in lines if ln["type"] == "tag"] == ["add"] * 3
    assert not first.alerts  # first_run: tag_only notifies nobody
    again = run(store)
    assert again.status == "done" and not again.entered and not again.left and not again.tags
    assert count(store, SegmentTransition) == 3
    assert count(store, OutboxEvent, OutboxEvent.event_type == "tag.added") == 3
    with store.session_factory() as db:
        member = db.scalars(select(SegmentMember)).first()
        assert (
            member is not None
            and member.version == 1
            and member.leaves == ["segments[0].when.said"]
        )


def test_leaving_removes_the_segments_tag_but_not_a_manual_one(store: Store) -> None:
    setup(store, customers=2)
    run(store)
    with write_transaction(store.session_factory) as db:
        u1 = db.scalars(select(Customer).where(Customer.external_id == "u1")).one()
        db.add(
            CustomerTag(
                tenant_id="default", customer_id=u1.id, tag="手动", source="manual", evidence=[]
            )
        )
        row = db.scalars(select(CustomerTag).where(CustomerTag.customer_id == u1.id,
                                                   CustomerTag.tag == "问过价")).one()  # fmt: skip
        row.source = "manual"  # a person put the same tag on by hand: not the segment's to remove
    later = run(store, AS_OF + 7 * DAY)  # the 报价 message is now exactly 8 days old
    assert sorted(later.left) == ["u0", "u1"]
    assert [(t["customer_id"], t["action"]) for t in later.tags] == [("u0", "remove")]
    assert not tag_on(store, "u0") and tag_on(store, "u1")


def test_a_persons_removal_is_sticky_while_the_customer_stays_a_member(store: Store) -> None:
    setup(store, customers=1)
    run(store)
    with write_transaction(store.session_factory) as db:
        u0 = db.scalars(select(Customer).where(Customer.external_id == "u0")).one()
        assert remove_by_person(
            db_session=db, customer=u0, tag="问过价", actor="sales-1", reason="不准"
        )
    run(store, AS_OF + DAY)
    assert count(store, SegmentMember) == 1 and not tag_on(store, "u0")
    run(store, AS_OF + 8 * DAY)  # leaves
    with write_transaction(store.session_factory) as db:  # says it again: enters again
        World(db).chat("u0", ("customer", "再报价一次", AS_OF + 8 * DAY + timedelta(hours=1)))
    again = run(store, AS_OF + 9 * DAY)
    assert again.entered == ["u0"] and not again.tags and not tag_on(store, "u0")
    with write_transaction(store.session_factory) as db:
        u0 = db.scalars(select(Customer).where(Customer.external_id == "u0")).one()
        assert clear_override(db_session=db, customer=u0, tag="问过价")
        add_tag(db_session=db, customer=u0, tag="问过价", source="segment", rule_id="seg.quote",
                rule_version=1, evidence=[])  # fmt: skip
    assert tag_on(store, "u0")


def test_hold_keeps_a_member_for_min_days(store: Store) -> None:
    setup(store, customers=1, hold={"min_days": 10})
    run(store)
    assert not run(store, AS_OF + 7 * DAY).left  # condition false, entered 7 days ago: held in
    assert run(store, AS_OF + 10 * DAY).left == ["u0"]


def test_guard_holds_a_run_that_would_drop_most_members_but_never_the_first(store: Store) -> None:
    setup(store, customers=4, guard={"max_change_pct": 20})
    assert run(store).status == "done"  # first run: 4 enter, not held
    held = run(store, AS_OF + 7 * DAY)  # an empty feed: every member would leave
    assert held.status == "held" and "guard" in (held.error or "")
    assert count(store, SegmentMember) == 4 and count(store, SegmentTransition) == 4
    assert any(line["type"] == "error" for line in held.lines())
    assert count(store, SegmentRun, SegmentRun.status == "held") == 1


def test_a_segment_tag_replaces_the_other_tags_of_its_exclusive_group(store: Store) -> None:
    """RULES.md: "exclusive groups apply" to a segment's tag as to a tag rule's: entering puts
    高意向 on and takes 新客 (same group, by a rule) off; a locked one would stay."""
    setup(store, customers=2, on_enter=[{"tag_customer": "高意向"}])
    stage = {"kind": "tag", "exclusive_group": "阶段", "when": {"keyword": {"words": ["无关词"]}}}
    with write_transaction(store.session_factory) as db:
        publish(db_session=db, tenant_id="default", source="api", source_name="test", doc={"rules": [
            {**stage, "id": "stage.new", "name": "新客", "tag": "新客"},
            {**stage, "id": "stage.hot", "name": "高意向", "tag": "高意向"}]})  # fmt: skip
        w = World(db)
        for cid in ("u0", "u1"):
            add_tag(db_session=db, customer=w.customer(cid), tag="新客", source="rule", rule_id="stage.new",
                    rule_version=1, evidence=[])  # fmt: skip
        lock_tag(db_session=db, customer=w.customer("u1"), tag="新客", actor="s1", reason="checked")
    result = run(store)
    assert tag_on(store, "u0", "高意向") and not tag_on(store, "u0", "新客")
    assert tag_on(store, "u1", "高意向") and tag_on(store, "u1", "新客")  # a person locked it
    assert {"type": "tag", "action": "remove", "customer_id": "u0", "tag": "新客",
            "segment_id": "seg.quote"} in result.tags  # fmt: skip
    assert count(store, OutboxEvent, OutboxEvent.event_type == "tag.removed") == 1


def test_notify_after_the_first_run(store: Store) -> None:
    setup(store, customers=1)
    run(store)
    with write_transaction(store.session_factory) as db:
        World(db).chat("late", ("customer", "报价", AS_OF + timedelta(hours=1)))
    second = run(store, AS_OF + DAY)
    assert second.entered == ["late"] and [a["employee_id"] for a in second.alerts] == ["e1"]
    assert count(store, OutboxEvent, OutboxEvent.event_type == "alert.raised") == 1
    published: list[dict[str, Any]] = []
    with write_transaction(store.session_factory) as db:
        World(db).chat("later", ("customer", "报价", AS_OF + DAY + timedelta(hours=1)))
    third = run(store, AS_OF + 2 * DAY, publish=published.append)
    assert [(a["customer_id"], a["employee_id"], a["supervisor_id"], a["team"]) for a in published] == [
        ("later", "e1", "e9", "销售一组")] and published == third.alerts  # fmt: skip


@pytest.mark.parametrize("killed_after", [0, 1, 2, 3])
def test_a_run_killed_at_any_point_and_rerun_applies_each_transition_once(
    store: Store, monkeypatch: pytest.MonkeyPatch, killed_after: int
) -> None:
    setup(store, customers=4)
    monkeypatch.setattr(segments, "APPLY_BATCH", 1)
    real = segments._apply
    calls = {"n": 0}

    def dying(*args: Any) -> None:
        if calls["n"] == killed_after:
            raise KeyboardInterrupt("killed")  # not an Exception: nothing in the run catches it
        calls["n"] += 1
        real(*args)

    monkeypatch.setattr(segments, "_apply", dying)
    with pytest.raises(KeyboardInterrupt):
        run(store)
    monkeypatch.setattr(segments, "_apply", real)
    with write_transaction(store.session_factory) as db:  # the dead run's lease expires
        db.execute(Segment.__table__.update().values(lease_until=AS_OF - DAY))
    result = run(store)
    assert len(result.entered) == 4 - killed_after
    assert count(store, SegmentTransition, SegmentTransition.action == "enter") == 4
    assert count(store, OutboxEvent, OutboxEvent.event_type == "tag.added") == 4
    assert not run(store).entered


def test_two_runs_of_one_segment_cannot_both_apply(store: Store) -> None:
    setup(store, customers=2)
    with write_transaction(store.session_factory) as db:
        db.execute(
            Segment.__table__.update().values(
                lease_owner="other-run", lease_until=AS_OF + 365 * DAY
            )
        )
    busy = run(store)
    assert busy.status == "busy" and "other-run" in (busy.error or "")
    assert count(store, SegmentMember) == 0


def test_dry_run_previews_what_a_run_applies(store: Store) -> None:
    setup(store, customers=3)
    preview = run(store, dry_run=True)
    assert count(store, SegmentMember) == 0 and count(store, SegmentRun) == 0
    real = run(store)
    assert (sorted(preview.entered), len(preview.tags)) == (sorted(real.entered), len(real.tags))
