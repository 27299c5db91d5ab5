"""``/v1/violations`` (read, appeal, decide, confirm), ``/v1/review/precision`` and ``/v1/scores``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from qc_service.audit.service import record
from qc_service.conversations.schemas import ErrorOut
from qc_service.db.session import write_transaction
from qc_service.errors import NotFound
from qc_service.identity.policy import Op, Scope
from qc_service.review import feedback, flows, queries, reasons
from qc_service.review import schemas as s
from qc_service.review.models import Violation
from qc_service.tenancy.models import Tenant
from qc_service.web.deps import CurrentUser, StoreDep, require
from qc_service.web.deps import DbSession as DbDep
from qc_service.web.masking import MaskingRoute

router = APIRouter(tags=["review"], route_class=MaskingRoute)
ReadViolations = Annotated[Scope, require(Op.VIOLATIONS_READ)]
Dashboards = Annotated[Scope, require(Op.DASHBOARDS_READ)]
ViolationId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _read(v: Violation, window_days: int) -> dict[str, object]:
    conv = v.conversation
    return {
        "id": v.id, "conversation_id": conv.external_id, "rule_id": v.rule_id, "rule_version": v.rule_version,
        "severity": v.severity, "status": v.status, "created_at": v.created_at, "decided_at": v.decided_at,
        "employee_id": conv.employee.external_id, "team": conv.employee.team, "customer_id": conv.customer.external_id,
        "appeal_window_closes_at": v.created_at + timedelta(days=window_days),
    }  # fmt: skip


@router.get("/v1/violations", response_model=s.ViolationPage, summary="List violations")
def list_violations(
    db: DbDep,
    scope: ReadViolations,
    store: StoreDep,
    status: str | None = None,
    rule: str | None = None,
    severity: str | None = None,
    agent: Annotated[str | None, Query(description="employee id")] = None,
    team: str | None = None,
    customer: str | None = None,
    conversation: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
    dated: Annotated[
        Literal["created", "decided", "appealed"],
        Query(description="what since/until bound: when found, decided, or appealed"),
    ] = "created",
    order: Annotated[
        Literal["newest", "overturn_risk"],
        Query(
            description="`newest` first, or `overturn_risk`: open and appealed violations by "
            "P(overturned) from the tenant's feedback model (`qc train feedback`), then the "
            "decided ones newest first; with no usable model the page is newest first and "
            "`ranking.reason` says why"
        ),
    ] = "newest",
    cursor: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="`next` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> s.ViolationPage:
    """Newest first (or by overturn risk); a page `{"items", "total", "next", "ranking"}`.
    ``status`` may list several (``open,appealed,upheld``: the dashboard's standing violations)."""
    tenant = scope.tenant_id
    f = queries.ViolationFilter(
        status, rule, severity, agent, team, customer, conversation, since, until, scope,
        channel, dated,
    )  # fmt: skip
    window = store.settings.appeal_window_days
    risks: dict[int, float] = {}
    ranking = None
    current = (
        feedback.queue_model(db_session=db, tenant_id=tenant) if order == "overturn_risk" else None
    )
    if current is not None and current.model is not None:
        model = current.model
        rows, total, nxt, risks = queries.list_violations_ranked(
            db_session=db, tenant_id=tenant, filters=f, cursor=cursor, limit=limit,
            risk=lambda ids: feedback.score_violations(db_session=db, tenant_id=tenant, model=model, violation_ids=ids),
        )  # fmt: skip
        ranking = s.QueueRanking(order="overturn_risk", model_version=current.version, reason=None)
    else:
        rows, total, nxt = queries.list_violations(
            db_session=db, tenant_id=tenant, filters=f, cursor=cursor, limit=limit
        )
        if current is not None:
            ranking = s.QueueRanking(
                order="newest", model_version=current.version, reason=current.reason
            )
    items = [
        s.ViolationQueueItem(**_read(v, window), overturn_risk=_risk(risks.get(v.id)))  # type: ignore[arg-type]
        for v, *_ in rows
    ]
    return s.ViolationPage(
        items=items, total=total, next=str(nxt) if nxt is not None else None, ranking=ranking
    )


def _risk(p: float | None) -> float | None:
    return round(p, 4) if p is not None else None


def _detail(db: DbDep, scope: Scope, violation_id: int, window_days: int) -> s.ViolationDetail:
    violation = queries.load_for_detail(db_session=db, violation_id=violation_id, scope=scope)
    if violation is None:
        raise NotFound(f"violation {violation_id} not found")
    return s.ViolationDetail(
        **_read(violation, window_days),  # type: ignore[arg-type]
        deduct=violation.deduct, fatal=violation.fatal, actions=violation.actions,
        decided_by=violation.decided_by, reason_code=violation.reason_code,
        evidence=[s.EvidenceWithContext(**e) for e in queries.evidence_with_context(violation, violation.conversation)],
        appeals=[s.AppealRead.model_validate(a, from_attributes=True) for a in violation.appeals],
        history=[s.HistoryItem.model_validate(h, from_attributes=True) for h in queries.history(db_session=db, violation=violation)],
    )  # fmt: skip


@router.get("/v1/violations/counts", summary="Violation counts by rule, team, agent or day")
def violation_counts(
    db: DbDep,
    scope: Dashboards,
    store: StoreDep,
    group_by: Annotated[str, Query(pattern="^(rule|team|agent|day)$")] = "rule",
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, object]:
    """Standing violations per group, counts by status, and the overturn rate among judged ones —
    a rule with a high overturn rate is one managers should question."""
    items = queries.violation_counts(db_session=db, tenant_id=scope.tenant_id, group_by=group_by, tz=store.settings.timezone,
                                     since=since, until=until, scope=scope)  # fmt: skip
    return {"group_by": group_by, "items": items, "total": len(items), "next": None}


@router.get(
    "/v1/review/precision", response_model=s.PrecisionPage, summary="Live precision per rule"
)
def rule_precision(
    db: DbDep,
    scope: Dashboards,
    rule: str | None = None,
    since: Annotated[datetime | None, Query(description="findings created at or after")] = None,
    until: Annotated[datetime | None, Query(description="findings created before")] = None,
) -> s.PrecisionPage:
    """Per rule: findings by status, and precision with a Wilson 95 % interval — `reviewed`
    (upheld vs overturned, reviewer decisions only) and `with_confirmed` (confirmed findings,
    unappealed when the window closed or spot-checked, counted as correct)."""
    f = queries.ViolationFilter(rule=rule, since=since, until=until, scope=scope)
    items = queries.rule_precision(db_session=db, tenant_id=scope.tenant_id, filters=f)
    return s.PrecisionPage(items=[s.RulePrecision(**i) for i in items], total=len(items))


def _act(
    store: StoreDep, scope: Scope, violation_id: int, move: Callable[[Session, Violation], object]
) -> s.ViolationDetail:
    """Load the violation (404 outside the caller's scope), move it through ``flows`` in one
    write transaction, show the result as the caller may see it."""
    with write_transaction(store.session_factory) as db:
        move(
            db,
            queries.visible_violation(
                db_session=db, scope=scope, violation_id=violation_id, lock=True
            ),
        )
    with store.session_factory() as db:
        return _detail(db, scope, violation_id, store.settings.appeal_window_days)


@router.get(
    "/v1/violations/{violation_id}",
    response_model=s.ViolationDetail,
    responses={404: {"model": ErrorOut}},
    summary="Get a violation with evidence in context, appeals and history",
)
def get_violation(
    violation_id: ViolationId, db: DbDep, scope: ReadViolations, store: StoreDep
) -> s.ViolationDetail:
    """The evidence with the surrounding messages, the appeal, the decisions and the audit trail."""
    return _detail(db, scope, violation_id, store.settings.appeal_window_days)


@router.post(
    "/v1/violations/{violation_id}/appeal",
    response_model=s.ViolationDetail,
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
    summary="Appeal a violation (agent)",
)
def appeal_violation(
    violation_id: ViolationId,
    body: s.AppealIn,
    store: StoreDep,
    user: CurrentUser,
    scope: Annotated[Scope, require(Op.VIOLATIONS_APPEAL)],
) -> s.ViolationDetail:
    """open → appealed, within the appeal window (`QC_APPEAL_WINDOW_DAYS`); anything else is 409.
    Only the agent whose violation it is may appeal; the appellant recorded is that user."""
    window = store.settings.appeal_window_days
    return _act(store, scope, violation_id, lambda db, v: flows.appeal(
        db_session=db, violation=v, reason=body.reason, appellant=user.username, window_days=window))  # fmt: skip


@router.post(
    "/v1/violations/{violation_id}/decision",
    response_model=s.ViolationDetail,
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
    summary="Uphold or overturn a violation (reviewer)",
)
def decide_violation(
    violation_id: ViolationId,
    body: s.DecisionIn,
    store: StoreDep,
    user: CurrentUser,
    scope: Annotated[Scope, require(Op.VIOLATIONS_DECIDE)],
) -> s.ViolationDetail:
    """open or appealed → upheld | overturned, with a reason code (required for an overturn: 422
    `REASON_REQUIRED`). An overturn gives the conversation's points back and
    removes the violation from the customer's CRM summary."""
    return _act(store, scope, violation_id, lambda db, v: flows.decide(
        db_session=db, violation=v, decision=body.decision, reviewer=user.username, comment=body.comment,
        severity=body.severity, reason_code=body.reason_code, expected_status=body.expected_status))  # fmt: skip


@router.post(
    "/v1/violations/{violation_id}/confirm",
    response_model=s.ViolationDetail,
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
    summary="Confirm an open violation (reviewer's spot check)",
)
def confirm_violation(
    violation_id: ViolationId,
    body: s.ConfirmIn,
    store: StoreDep,
    user: CurrentUser,
    scope: Annotated[Scope, require(Op.VIOLATIONS_DECIDE)],
) -> s.ViolationDetail:
    """open → confirmed (the same happens by itself when the appeal window closes)."""
    reason = body.comment or "spot check"
    return _act(store, scope, violation_id,
                lambda db, v: flows.confirm(db_session=db, violation=v, actor=user.username, reason=reason))  # fmt: skip


@router.get("/v1/scores", response_model=s.ScorePage, summary="Scores by agent, team or day")
def list_scores(
    db: DbDep,
    scope: Dashboards,
    store: StoreDep,
    group_by: Annotated[str, Query(pattern="^(agent|team|day)$")] = "agent",
    since: datetime | None = None,
    until: datetime | None = None,
) -> s.ScorePage:
    """Mean score, pass rate and standing violations per group; days in the tenant's time zone
    (`QC_TIMEZONE`)."""
    items = queries.score_groups(db_session=db, tenant_id=scope.tenant_id, group_by=group_by, tz=store.settings.timezone,
                                 since=since, until=until, scope=scope)  # fmt: skip
    return s.ScorePage(
        group_by=group_by, items=[s.ScoreGroup(**i) for i in items], total=len(items)
    )


class ReasonsIn(BaseModel):
    """``{"reasons": {code: label}}``: the tenant's decision reason codes, in display order."""

    model_config = ConfigDict(extra="forbid")
    reasons: dict[str, str] = Field(min_length=1, max_length=50)


@router.get("/v1/review/reasons", summary="The tenant's decision reason codes")
def get_reasons(db: DbDep, scope: ReadViolations) -> dict[str, str]:
    """Code → label, in the order the review page lists them."""
    return reasons.tenant_reasons(db.get(Tenant, scope.tenant_id))


@router.put("/v1/admin/review-reasons", responses={422: {"model": ErrorOut}},
            summary="Replace the tenant's decision reason codes (admin)")  # fmt: skip
def put_reasons(
    body: ReasonsIn, store: StoreDep, user: CurrentUser,
    scope: Annotated[Scope, require(Op.TENANT_ADMIN)],
) -> dict[str, str]:  # fmt: skip
    """Codes are lower-case identifiers; `confirmed` must stay (a bare uphold records it). Audited."""
    with write_transaction(store.session_factory) as db:
        tenant = db.get(Tenant, scope.tenant_id)
        if tenant is None:  # pragma: no cover - a user's tenant exists
            raise NotFound(f"tenant {scope.tenant_id!r} not found")
        before = reasons.tenant_reasons(tenant)
        after = reasons.set_reasons(db_session=db, tenant=tenant, reasons=body.reasons)
        record(db, tenant_id=scope.tenant_id, actor=user.username, action="review_reasons.changed",
               entity_type="tenant", entity_id=scope.tenant_id, before=before, after=after)  # fmt: skip
    return after
