"""What the API and the pages show of segments: the list, one segment with its runs, members
with why, and the segments a customer is in — scoped like customers (ACCESS.md: managers their
teams' customers, sales their own, membership only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qc_service.conversations.scope import customer_clause
from qc_service.customers.models import Customer
from qc_service.errors import NotFound
from qc_service.identity.policy import Access, Scope
from qc_service.segments.models import Segment, SegmentMember, SegmentRun, SegmentVersion

RUNS_SHOWN = 30


def _visible_members(scope: Scope) -> Any:
    return select(Customer.id).where(customer_clause(scope))


def list_segments(db: Session, scope: Scope) -> list[dict[str, Any]]:
    """Every segment of the tenant with its member count (within the scope) and last run."""
    counts = dict(db.execute(
        select(SegmentMember.segment_pk, func.count())
        .where(SegmentMember.tenant_id == scope.tenant_id,
               SegmentMember.customer_id.in_(_visible_members(scope)))
        .group_by(SegmentMember.segment_pk)
    ).all())  # fmt: skip
    rows = db.scalars(
        select(Segment).where(Segment.tenant_id == scope.tenant_id).order_by(Segment.segment_id)
    )
    return [_summary(db, s, counts.get(s.id, 0)) for s in rows]


def _summary(db: Session, seg: Segment, members: int) -> dict[str, Any]:
    last = db.get(SegmentRun, seg.last_run_id) if seg.last_run_id else None
    return {"id": seg.segment_id, "name": seg.name, "enabled": seg.enabled, "version": seg.current_version,
            "members": members, "last_run": _run(last) if last else None}  # fmt: skip


def _run(run: SegmentRun) -> dict[str, Any]:
    return {"id": run.id, "as_of": run.as_of, "status": run.status, "members": run.members,
            "entered": run.entered, "left": run.left, "trigger": run.trigger, "error": run.error,
            "started_at": run.started_at, "finished_at": run.finished_at}  # fmt: skip


def get_segment_row(db: Session, scope: Scope, segment_id: str) -> Segment:
    """The tenant's segment, else 404."""
    seg = db.scalars(select(Segment).where(Segment.tenant_id == scope.tenant_id,
                                           Segment.segment_id == segment_id)).one_or_none()  # fmt: skip
    if seg is None:
        raise NotFound(f"segment {segment_id!r} not found", record_id=segment_id)
    return seg


def get_segment(db: Session, scope: Scope, segment_id: str) -> dict[str, Any]:
    """Definition (not for sales: membership only), last run, and member counts over the runs."""
    seg = get_segment_row(db, scope, segment_id)
    members = db.scalar(select(func.count()).select_from(SegmentMember).where(
        SegmentMember.segment_pk == seg.id, SegmentMember.customer_id.in_(_visible_members(scope))))  # fmt: skip
    out = _summary(db, seg, int(members or 0))
    version = db.scalars(select(SegmentVersion).where(SegmentVersion.segment_pk == seg.id,
                                                      SegmentVersion.version == seg.current_version)).one()  # fmt: skip
    out["definition"] = None if scope.access is Access.CUSTOMERS else version.definition
    runs = db.scalars(select(SegmentRun).where(SegmentRun.segment_pk == seg.id)
                      .order_by(SegmentRun.started_at.desc()).limit(RUNS_SHOWN)).all()  # fmt: skip
    out["runs"] = [_run(r) for r in reversed(runs)]
    return out


def list_members(
    db: Session, scope: Scope, segment_id: str, *, limit: int, after: int | None
) -> tuple[list[dict[str, Any]], int | None]:
    """One page of members (oldest customer first) with why they are in; the next cursor."""
    seg = get_segment_row(db, scope, segment_id)
    stmt = (select(SegmentMember, Customer).join(Customer, Customer.id == SegmentMember.customer_id)
            .where(SegmentMember.segment_pk == seg.id, customer_clause(scope))
            .order_by(SegmentMember.customer_id).limit(limit + 1))  # fmt: skip
    if after is not None:
        stmt = stmt.where(SegmentMember.customer_id > after)
    rows = db.execute(stmt).all()
    items = [{"customer_id": c.external_id, "name": c.name, "entered_at": m.entered_at, "version": m.version,
              "run_id": m.run_id, "why": m.leaves} for m, c in rows[:limit]]  # fmt: skip
    return items, (rows[limit - 1][0].customer_id if len(rows) > limit else None)


def customer_segments(db: Session, customer: Customer) -> list[dict[str, Any]]:
    """The segments a customer is in, since when and why (the customer page's 分组)."""
    rows = db.execute(select(SegmentMember, Segment).join(Segment, Segment.id == SegmentMember.segment_pk)
                      .where(SegmentMember.customer_id == customer.id).order_by(Segment.segment_id)).all()  # fmt: skip
    return [
        {"id": s.segment_id, "name": s.name, "entered_at": m.entered_at, "why": m.leaves}
        for m, s in rows
    ]
