"""``/v1/segments``: list, one segment with its runs, members with why, a draft's preview, a run.

Why the preview takes a whole rule document: a draft segment may name rules and other segments
of the same draft; the counts are those a real run at the same ``as_of`` would apply.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from qc_service.conversations.schemas import ErrorOut
from qc_service.errors import RuleInvalid
from qc_service.identity.policy import Op, Scope
from qc_service.rules.errors import RuleValidationError
from qc_service.segments import views
from qc_service.segments.service import preview, run_segments
from qc_service.web.deps import DbSession, StoreDep, require
from qc_service.web.masking import MaskingRoute

router = APIRouter(prefix="/v1/segments", tags=["segments"], route_class=MaskingRoute)
ReadSegments = Annotated[Scope, require(Op.SEGMENTS_READ)]
WriteSegments = Annotated[Scope, require(Op.SEGMENTS_WRITE)]
DRAFT = {"requestBody": {"content": {"application/yaml": {"schema": {"type": "string"}},
                                     "application/json": {"schema": {"type": "object"}}}, "required": True}}  # fmt: skip


class RunOut(BaseModel):
    """One run of a segment."""

    id: str
    as_of: datetime
    status: str
    members: int
    entered: int
    left: int
    trigger: str
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class SegmentSummary(BaseModel):
    """A segment in the list."""

    id: str
    name: str
    enabled: bool
    version: int
    members: int
    last_run: RunOut | None


class SegmentOut(SegmentSummary):
    """One segment: its definition (not for sales) and its recent runs (member count over time)."""

    definition: dict[str, Any] | None
    runs: list[RunOut]


class MemberOut(BaseModel):
    """A member and why: the key paths of the leaves true when they entered."""

    customer_id: str
    name: str | None
    entered_at: datetime
    version: int
    run_id: str
    why: list[str]


class MembersPage(BaseModel):
    items: list[MemberOut]
    next_cursor: int | None


class PreviewOut(BaseModel):
    """What a run of the draft at ``as_of`` would do (nothing is stored)."""

    segment_id: str
    members: int
    enter: int
    leave: int
    held: str | None
    as_of: datetime


class RunResultOut(BaseModel):
    segment_id: str
    run_id: str
    status: str
    members: int
    entered: int
    left: int
    tags: int
    error: str | None


@router.get("", response_model=list[SegmentSummary], summary="List segments")
def list_segments(db: DbSession, scope: ReadSegments) -> list[dict[str, Any]]:
    """Every segment with the member count you may see and its last run."""
    return views.list_segments(db, scope)


@router.get("/{segment_id}", response_model=SegmentOut, responses={404: {"model": ErrorOut}},
            summary="Get a segment")  # fmt: skip
def get_segment(segment_id: str, db: DbSession, scope: ReadSegments) -> dict[str, Any]:
    """Definition, last run, and the runs with their member counts."""
    return views.get_segment(db, scope, segment_id)


@router.get("/{segment_id}/members", response_model=MembersPage, responses={404: {"model": ErrorOut}},
            summary="List a segment's members")  # fmt: skip
def get_members(
    segment_id: str, db: DbSession, scope: ReadSegments,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> MembersPage:  # fmt: skip
    """Members within your scope, with why; ``next_cursor`` pages on."""
    items, nxt = views.list_members(db, scope, segment_id, limit=limit, after=cursor)
    return MembersPage(items=[MemberOut(**i) for i in items], next_cursor=nxt)


async def _draft(request: Request) -> Any:
    try:
        text = (await request.body()).decode("utf-8")
        return yaml.safe_load(text)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleInvalid(f"the draft is not a YAML or JSON rule document: {exc}") from None


@router.post("/{segment_id}/preview", response_model=list[PreviewOut], openapi_extra=DRAFT,
             responses={422: {"model": ErrorOut}}, summary="Preview a draft segment")  # fmt: skip
async def preview_segment(
    segment_id: str, request: Request, db: DbSession, scope: WriteSegments,
    as_of: Annotated[datetime | None, Query()] = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """A rule document with the draft segment (``segments:``): the member count and the
    enter/leave counts a run at ``as_of`` (default now) would apply. Nothing is stored."""
    doc = await _draft(request)
    try:
        out = preview(db, scope.tenant_id, doc, segment_id, as_of)
    except RuleValidationError as exc:
        raise RuleInvalid(str(exc), field=exc.first.path, rule_id=exc.first.rule_id) from None
    if not out:
        raise RuleInvalid(f"the draft has no segment {segment_id!r}", field="segments")
    return out


@router.post("/{segment_id}/run", response_model=RunResultOut, responses={404: {"model": ErrorOut}},
             summary="Run a segment now")  # fmt: skip
def run_segment(
    segment_id: str, store: StoreDep, db: DbSession, scope: WriteSegments, request: Request,
    dry_run: Annotated[bool, Query()] = False,
) -> RunResultOut:  # fmt: skip
    """Run one published segment now (``dry_run``: count only), as ``qc segments run`` does."""
    views.get_segment_row(db, scope, segment_id)
    db.rollback()  # release this request's read before the run writes (SQLite)
    (r,) = run_segments(
        store.session_factory,
        scope.tenant_id,
        only=segment_id,
        dry_run=dry_run,
        trigger="api",
        publish=request.app.state.hub.publish,
    )
    return RunResultOut(segment_id=r.segment_id, run_id=r.run_id, status=r.status, members=r.members,
                        entered=len(r.entered), left=len(r.left), tags=len(r.tags), error=r.error)  # fmt: skip
