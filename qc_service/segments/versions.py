"""Segment versions: publish an immutable version of every changed segment, and compile the
tenant's current ones.

Why a checksum per version: re-importing an identical document creates no version, and a run
names the version it applied.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from qc_service.rules.loader import load_rules_data
from qc_service.rules.segment_model import SegmentDef, run_order
from qc_service.rulesets.models import Rule
from qc_service.segments.models import Segment, SegmentVersion


def _checksum(seg: SegmentDef) -> str:
    blob = json.dumps({"d": seg.definition, "l": seg.lexicons}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def publish_segments(
    *, db_session: Session, tenant_id: str, segments: list[SegmentDef]
) -> list[tuple[str, int, bool]]:
    """A new immutable version of every segment that changed; ``(id, version, created)``."""
    out = []
    for seg in segments:
        row = db_session.scalars(
            select(Segment).where(Segment.tenant_id == tenant_id, Segment.segment_id == seg.id)
        ).one_or_none()
        if row is None:
            row = Segment(tenant_id=tenant_id, segment_id=seg.id, name=seg.name, enabled=seg.enabled,
                          current_version=0)  # fmt: skip
            db_session.add(row)
            db_session.flush()
        checksum = _checksum(seg)
        latest = db_session.scalars(
            select(SegmentVersion).where(SegmentVersion.segment_pk == row.id)
            .order_by(SegmentVersion.version.desc()).limit(1)
        ).one_or_none()  # fmt: skip
        if latest is not None and latest.checksum == checksum:
            out.append((seg.id, latest.version, False))
            continue
        version = (latest.version if latest else 0) + 1
        db_session.add(SegmentVersion(segment_pk=row.id, version=version, definition=seg.definition,
                                      lexicons=seg.lexicons, checksum=checksum))  # fmt: skip
        row.current_version, row.name, row.enabled = version, seg.name, seg.enabled
        out.append((seg.id, version, True))
    db_session.flush()
    return out


def known_refs(db_session: Session, tenant_id: str) -> tuple[set[str], set[str]]:
    """The tenant's stored rule ids and segment ids, which a new document's ``hit`` and
    ``in_segment`` may name."""
    rules = set(db_session.scalars(select(Rule.rule_id).where(Rule.tenant_id == tenant_id)))
    return rules, set(
        db_session.scalars(select(Segment.segment_id).where(Segment.tenant_id == tenant_id))
    )


def active_segments(db_session: Session, tenant_id: str) -> list[tuple[Segment, SegmentDef]]:
    """The tenant's segments at their current versions, compiled, in run order."""
    rows = db_session.execute(
        select(Segment, SegmentVersion)
        .join(SegmentVersion, (SegmentVersion.segment_pk == Segment.id)
              & (SegmentVersion.version == Segment.current_version))
        .where(Segment.tenant_id == tenant_id).order_by(Segment.id)
    ).all()  # fmt: skip
    if not rows:
        return []
    doc = {"rules": [], "segments": [v.definition for _, v in rows]}
    snapshot = {s.segment_id: v.lexicons for s, v in rows}
    ruleset = load_rules_data(doc, source_name=f"tenant {tenant_id}", snapshot={},
                              segment_snapshot=snapshot)  # fmt: skip
    by_id = {s.segment_id: (s, v) for s, v in rows}
    out = []
    for seg in run_order(ruleset.segments):
        row, version = by_id[seg.id]
        seg.version, seg.enabled = version.version, row.enabled
        out.append((row, seg))
    return out
