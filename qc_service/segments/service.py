"""Segments: publish immutable versions, and run them — diff, hold, guard, apply once.

Why a run applies in batches, each with its member rows, transitions and effects in one
transaction: a run killed at any point leaves only whole transitions behind, and the next run
(same or later ``as_of``) diffs against what committed, so every transition is applied exactly
once. A lease on the segment row keeps two runs of one segment from both applying.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm_bridge.outbox.service import enqueue
from qc_service.customers.models import Customer, CustomerRef
from qc_service.db.base import utcnow
from qc_service.db.session import insert_rows, write_transaction
from qc_service.rules.compiled import iter_leaves
from qc_service.rules.loader import index_leaves, load_rules_data
from qc_service.rules.segment_model import SegmentDef, run_order
from qc_service.rulesets.service import active_ruleset
from qc_service.segments.facts import StoreFacts
from qc_service.segments.leaves import Evaluator
from qc_service.segments.models import (
    Segment,
    SegmentMember,
    SegmentRun,
    SegmentTransition,
)
from qc_service.segments.versions import active_segments, known_refs
from qc_service.tagging.models import CustomerTag
from qc_service.tagging.service import add_tag_to_many, remove_tag, replace_in_group
from qc_service.tenancy.models import Employee

APPLY_BATCH = 2000
LEASE = timedelta(minutes=10)


class SegmentBusy(RuntimeError):
    """Another run holds the segment's lease."""


# -- runs ----------------------------------------------------------------------------------
@dataclass(slots=True)
class RunResult:
    """What one segment's run did (or would do, for a dry run), as ``qc segments run`` prints."""

    segment_id: str
    run_id: str
    as_of: datetime
    status: str
    members: int = 0
    entered: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    tags: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def lines(self) -> Iterator[dict[str, Any]]:
        """RULES.md's jsonl lines: the transitions, then the tag lines they caused."""
        when = self.as_of.isoformat()
        for action, ids in (("enter", self.entered), ("leave", self.left)):
            for cid in ids:
                yield {"type": "segment", "action": action, "segment_id": self.segment_id,
                       "customer_id": cid, "as_of": when}  # fmt: skip
        yield from self.tags
        if self.error:
            yield {"type": "error", "segment_id": self.segment_id, "status": self.status,
                   "error": self.error}  # fmt: skip


@dataclass(slots=True)
class Plan:
    """A segment's diff at ``as_of`` before anything is applied."""

    members: set[int]
    enter: list[int]
    leave: list[int]
    why: dict[int, list[str]]
    first_run: bool
    held: str | None = None


def plan(db_session: Session, row: Segment | None, seg: SegmentDef, evaluator: Evaluator) -> Plan:
    """Evaluate the segment and diff it against the stored members (hold and guard applied)."""
    if seg.index is not None:
        evaluator.prepare_said(seg.leaves(), seg.index)
    new = evaluator.members(seg.when)
    prev: dict[int, datetime] = {}
    if row is not None:
        prev = dict(db_session.execute(
            select(SegmentMember.customer_id, SegmentMember.entered_at)
            .where(SegmentMember.segment_pk == row.id)
        ).all())  # fmt: skip
    as_of = evaluator.as_of
    hold_edge = as_of - timedelta(days=seg.hold_days)
    held_in = {c for c, t in prev.items() if c not in new and t > hold_edge}
    enter = sorted(new - set(prev))
    leave = sorted(set(prev) - new - held_in)
    first = row is None or row.last_run_id is None
    out = Plan(new | held_in, enter, leave, {c: evaluator.why(seg.when, c) for c in enter}, first)
    change = len(enter) + len(leave)
    if seg.guard_pct is not None and not first and change * 100 > seg.guard_pct * max(len(prev), 1):
        out.held = (f"guard: the run would change {change} of {len(prev)} members "
                    f"(> {seg.guard_pct:g} %); held, nothing applied")  # fmt: skip
    return out


def _lease(db_session: Session, pk: int, owner: str, now: datetime) -> bool:
    got = db_session.execute(
        update(Segment)
        .where(Segment.id == pk, or_(Segment.lease_owner.is_(None), Segment.lease_until < now,
                                          Segment.lease_owner == owner))
        .values(lease_owner=owner, lease_until=now + LEASE)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    return bool(getattr(got, "rowcount", 0))


def run_segments(
    factory: sessionmaker[Session], tenant_id: str, *, as_of: datetime | None = None,
    only: str | None = None, dry_run: bool = False, trigger: str = "cli",
    due: Callable[[Segment, SegmentDef], bool] | None = None,
    on_batch: Callable[[], None] | None = None, publish: Callable[[dict[str, Any]], None] | None = None,
) -> list[RunResult]:  # fmt: skip
    """Run the tenant's enabled segments (or ``only``) at ``as_of`` (default now), in dependency
    order; ``due`` filters (the scheduler). A failure or a held guard is a result, not an
    exception: the other segments still run. ``publish`` puts each batch's ``notify`` alerts on
    the alert stream once that batch has committed (the outbox has them either way)."""
    as_of = as_of or utcnow()
    with factory() as db:
        segments = [(r, s) for r, s in active_segments(db, tenant_id)
                    if (only is None or s.id == only) and (only is not None or r.enabled)
                    and (due is None or due(r, s))]  # fmt: skip
    if only is not None and not segments:
        raise LookupError(f"no segment {only!r} in tenant {tenant_id!r}")
    shared = shared_facts(factory, tenant_id, as_of, [s for _, s in segments])
    results = []
    for row, seg in segments:
        run_id = uuid.uuid4().hex
        try:
            results.append(_run_one(factory, tenant_id, row.id, seg, as_of, run_id, dry_run,
                                    trigger, on_batch, shared, publish))  # fmt: skip
        except SegmentBusy as exc:
            results.append(RunResult(seg.id, run_id, as_of, "busy", error=str(exc)))
        except Exception as exc:  # noqa: BLE001 — a failed segment is reported; the others run
            _finish(factory, run_id, "failed", error=f"{type(exc).__name__}: {exc}")
            results.append(
                RunResult(seg.id, run_id, as_of, "failed", error=f"{type(exc).__name__}: {exc}")
            )
    return results


def shared_facts(
    factory: sessionmaker[Session], tenant_id: str, as_of: datetime, segments: list[SegmentDef]
) -> dict[str, Any]:
    """What every segment of one run shares: the ``said`` leaves of all of them counted in one
    pass over the messages (one automaton for all their words), and the facts no run changes."""
    said = [leaf for seg in segments for leaf in seg.leaves() if leaf.kind == "said"]
    with factory() as db:
        groups = active_ruleset(db_session=db, tenant_id=tenant_id).exclusive_groups()
    shared: dict[str, Any] = {"said": {}, "groups": groups}
    if said:
        index = index_leaves(
            [x for leaf in said if leaf.cond is not None for x in iter_leaves(leaf.cond)]
        )
        with factory() as db:
            counts = StoreFacts(db, tenant_id, as_of, shared).said_counts(said, index)
        shared["said"] = {
            id(leaf): {c for c, n in counts[leaf.path].items() if n >= leaf.params["min"]}
            for leaf in said
        }
    return shared


def _finish(factory: sessionmaker[Session], run_id: str, status: str, **values: Any) -> None:
    with write_transaction(factory) as db:
        run = db.get(SegmentRun, run_id)
        if run is None:
            return
        run.status, run.finished_at = status, utcnow()
        for k, v in values.items():
            setattr(run, k, v)
        db.execute(update(Segment).where(Segment.id == run.segment_pk, Segment.lease_owner == run_id)
                   .values(lease_owner=None, lease_until=None))  # fmt: skip


def _run_one(
    factory: sessionmaker[Session], tenant_id: str, pk: int, seg: SegmentDef, as_of: datetime,
    run_id: str, dry_run: bool, trigger: str, on_batch: Callable[[], None] | None,
    shared: dict[str, Any], publish: Callable[[dict[str, Any]], None] | None = None,
) -> RunResult:  # fmt: skip
    if not dry_run:
        with write_transaction(factory) as db:
            row = db.get(Segment, pk)
            assert row is not None
            if not _lease(db, pk, run_id, utcnow()):
                raise SegmentBusy(f"segment {seg.id} is being run by {row.lease_owner}; try later")
            db.add(SegmentRun(id=run_id, tenant_id=tenant_id, segment_pk=pk, version=seg.version,
                              as_of=as_of, trigger=trigger))  # fmt: skip
    with factory() as db:
        row = db.get(Segment, pk)
        evaluator = Evaluator(StoreFacts(db, tenant_id, as_of, shared), as_of)
        evaluator.leaf_sets.update(shared["said"])
        p = plan(db, row, seg, evaluator)
        external = _external_ids(db, p.enter + p.leave)
    result = RunResult(seg.id, run_id, as_of, "done", members=len(p.members),
                       entered=[external[c] for c in p.enter], left=[external[c] for c in p.leave])  # fmt: skip
    if p.held:
        result.status, result.error = "held", p.held
        if not dry_run:
            _finish(factory, run_id, "held", members=len(p.members), error=p.held)
        return result
    if dry_run:
        result.tags = [{"type": "tag", "action": "add", "customer_id": external[c], "tag": t,
                        "segment_id": seg.id} for c in p.enter for t in seg.tags]  # fmt: skip
        return result
    todo = [("enter", c) for c in p.enter] + [("leave", c) for c in p.leave]
    for i in range(0, len(todo), APPLY_BATCH):
        published = len(result.alerts)
        with write_transaction(factory) as db:
            if not _lease(db, pk, run_id, utcnow()):
                raise SegmentBusy(f"segment {seg.id}: the run lost its lease")
            _apply(db, tenant_id, pk, seg, run_id, as_of, todo[i : i + APPLY_BATCH], p, result,
                   shared.get("groups", {}))  # fmt: skip
        for event in result.alerts[published:] if publish is not None else ():
            publish(event)
        if on_batch is not None:
            on_batch()
    with write_transaction(factory) as db:
        row = db.get(Segment, pk)
        assert row is not None
        row.last_run_id, row.last_run_at, row.last_as_of = run_id, utcnow(), as_of
    _finish(
        factory, run_id, "done", members=len(p.members), entered=len(p.enter), left=len(p.leave)
    )
    return result


def _external_ids(db: Session, ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for i in range(0, len(ids), 5000):
        chunk = ids[i : i + 5000]
        out.update(
            db.execute(
                select(Customer.id, Customer.external_id).where(Customer.id.in_(chunk))
            ).all()
        )
    return out


def _apply(
    db: Session, tenant_id: str, pk: int, seg: SegmentDef, run_id: str, as_of: datetime,
    todo: list[tuple[str, int]], p: Plan, result: RunResult,
    groups: dict[str, set[str]] | None = None,
) -> None:  # fmt: skip
    """One batch of transitions with their effects. No re-check of the member rows per batch:
    the plan was made under the segment's lease from the members as committed (a killed run's
    batches included), the lease is re-checked per batch, and the members' primary key refuses
    a double entry (its batch rolls back whole)."""
    entering = [CustomerRef(*row) for row in db.execute(
        select(Customer.id, Customer.tenant_id, Customer.external_id, Customer.owner_external_id)
        .where(Customer.id.in_([c for a, c in todo if a == "enter"])).order_by(Customer.id))]  # fmt: skip
    now = utcnow()
    transitions = [{"tenant_id": tenant_id, "segment_pk": pk, "customer_id": c, "action": action, "run_id": run_id,
                    "version": seg.version, "as_of": as_of, "leaves": p.why.get(c, []), "created_at": now}
                   for action, c in todo]  # fmt: skip
    insert_rows(db, SegmentTransition, transitions)
    joined = [{"segment_pk": pk, "customer_id": c.id, "tenant_id": tenant_id, "entered_at": as_of, "run_id": run_id,
               "version": seg.version, "leaves": p.why.get(c.id, [])} for c in entering]  # fmt: skip
    insert_rows(db, SegmentMember, joined)
    leaving = [c for a, c in todo if a == "leave"]
    if leaving:
        db.execute(delete(SegmentMember).where(SegmentMember.segment_pk == pk,
                                               SegmentMember.customer_id.in_(leaving)))  # fmt: skip
    evidence = [{"kind": "segment", "segment_id": seg.id, "segment_version": seg.version,
                 "run_id": run_id, "as_of": as_of.isoformat()}]  # fmt: skip
    for tag in seg.tags:
        group = set().union(*(g for g in (groups or {}).values() if tag in g))
        for customer in add_tag_to_many(db_session=db, customers=entering, tag=tag, source="segment",
                                        rule_id=seg.id, rule_version=seg.version, evidence=evidence):  # fmt: skip
            result.tags.append({"type": "tag", "action": "add", "customer_id": customer.external_id,
                                "tag": tag, "segment_id": seg.id})  # fmt: skip
            for other in (
                replace_in_group(db_session=db, customer=customer, tag=tag, group_tags=group)
                if group
                else ()
            ):
                result.tags.append({"type": "tag", "action": "remove", "customer_id": customer.external_id,
                                    "tag": other, "segment_id": seg.id})  # fmt: skip
    if not (p.first_run and seg.first_run == "tag_only"):
        targets = [a.target for a in seg.on_enter if a.type == "notify"]
        for customer in entering:
            _notify(db, seg, customer, "enter", targets, as_of, result)
    for customer in db.scalars(
        select(Customer).where(Customer.id.in_(leaving)).order_by(Customer.id)
    ):
        if seg.on_leave == "default":
            _untag(db, seg, customer, result)
        _notify(db, seg, customer, "leave", [a.target for a in seg.on_leave_actions], as_of, result)
    db.flush()


def _untag(db: Session, seg: SegmentDef, customer: Customer, result: RunResult) -> None:
    """On leave: the tags this segment put on (not a person's, not a locked one) come off."""
    for tag in seg.tags:
        row = db.scalars(select(CustomerTag).where(
            CustomerTag.customer_id == customer.id, CustomerTag.tag == tag,
            CustomerTag.removed_at.is_(None), CustomerTag.source == "segment",
            CustomerTag.rule_id == seg.id)).one_or_none()  # fmt: skip
        if row is not None and remove_tag(db_session=db, customer=customer, tag=tag, actor="system",
                                          reason=f"left segment {seg.id}"):  # fmt: skip
            result.tags.append({"type": "tag", "action": "remove", "customer_id": customer.external_id,
                                "tag": tag, "segment_id": seg.id})  # fmt: skip


def _notify(
    db: Session, seg: SegmentDef, customer: Customer | CustomerRef, action: str, targets: list[str],
    as_of: datetime, result: RunResult,
) -> None:  # fmt: skip
    """An alert per target, in the stream's shape (``employee_id``, ``supervisor_id``, ``team``:
    whom it is for, as ``alerts.router.in_scope`` reads it): an ``alert.raised`` outbox event
    now, and on the SSE stream once the batch commits (``run_segments``' ``publish``)."""
    if not targets:
        return
    owner = customer.owner_external_id
    emp = db.scalars(select(Employee).where(Employee.tenant_id == customer.tenant_id,
                                            Employee.external_id == owner)).one_or_none() if owner else None  # fmt: skip
    for target in targets:
        employee = owner if target in ("owner", "supervisor") else target
        payload = {"kind": "segment", "tenant": customer.tenant_id, "segment_id": seg.id,
                   "segment_name": seg.name, "segment_version": seg.version, "run_id": result.run_id,
                   "action": action, "target": target, "employee_id": employee,
                   "supervisor_id": emp.supervisor_external_id if emp else None,
                   "team": emp.team if emp else None, "as_of": as_of.isoformat(),
                   "id": f"segment:{result.run_id}:{customer.external_id}:{target}"}  # fmt: skip
        enqueue(db_session=db, tenant_id=customer.tenant_id, event_type="alert.raised",
                customer_external_id=customer.external_id, data=payload)  # fmt: skip
        result.alerts.append({**payload, "customer_id": customer.external_id})


def preview(db_session: Session, tenant_id: str, doc: Any, segment_id: str | None = None,
            as_of: datetime | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Counts a real run would apply for a draft document's segments (nothing stored)."""
    known_rules, known_segments = known_refs(db_session, tenant_id)
    ruleset = load_rules_data(doc, source_name="draft", known_rules=known_rules,
                              known_segments=known_segments)  # fmt: skip
    as_of = as_of or utcnow()
    evaluator = Evaluator(StoreFacts(db_session, tenant_id, as_of), as_of)
    out = []
    for seg in run_order(ruleset.segments):
        if segment_id is not None and seg.id != segment_id:
            continue
        row = db_session.scalars(select(Segment).where(Segment.tenant_id == tenant_id,
                                                       Segment.segment_id == seg.id)).one_or_none()  # fmt: skip
        p = plan(db_session, row, seg, evaluator)
        out.append({"segment_id": seg.id, "members": len(p.members), "enter": len(p.enter),
                    "leave": len(p.leave), "held": p.held, "as_of": as_of.isoformat()})  # fmt: skip
    return out
