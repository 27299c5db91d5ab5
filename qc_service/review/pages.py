"""The reviewer's and the agent's pages (UI.md): ``/review``, ``/review/{id}``, ``/me``.

Why thin: every read goes through the same queries as ``/v1/violations`` and every change through
``flows`` in one write transaction, behind the same ``require``; this module only turns form
fields into those calls and results into templates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from qc_service.db.session import write_transaction
from qc_service.errors import AlreadyDecided, InvalidTransition, NotFound, QCError, ReasonRequired
from qc_service.identity.models import User
from qc_service.identity.policy import Op, Principal, Scope, allowed
from qc_service.review import flows, queries, queue, reasons
from qc_service.review.transcript import transcript_lines
from qc_service.rulesets.service import active_ruleset
from qc_service.tenancy.models import Tenant
from qc_service.web import messages as msg
from qc_service.web.dates import page_day
from qc_service.web.deps import CurrentUser, DbSession, StoreDep, require
from qc_service.web.masking import MaskingRoute
from qc_service.web.templating import query_string, render

router = APIRouter(include_in_schema=False, route_class=MaskingRoute)
Queue = Annotated[Scope, require(Op.VIOLATIONS_DECIDE)]
Read = Annotated[Scope, require(Op.VIOLATIONS_READ)]
ViolationId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _filters(tz: str, status: str, rule: str | None, team: str | None, agent: str | None,
             since: str | None, until: str | None) -> queue.QueueFilter:  # fmt: skip
    return queue.QueueFilter(status or "appealed", rule or None, team or None, agent or None,
                             page_day(since, tz), page_day(until, tz, end=True))  # fmt: skip


@router.get("/review")
def review_queue(
    request: Request, db: DbSession, store: StoreDep, scope: Queue,
    status: str = "appealed", rule: str | None = None, team: str | None = None,
    agent: str | None = None, since: str | None = None, until: str | None = None,
    cursor: str | None = None,
) -> Response:  # fmt: skip
    """The appeal queue, overdue first; every filter is a GET parameter (a shareable URL)."""
    tz = store.settings.timezone
    f = _filters(tz, status, rule, team, agent, since, until)
    rows, total, nxt = queue.appeal_queue(db_session=db, scope=scope, filters=f,
                                          sla_hours=store.settings.review_sla_hours, cursor=cursor)  # fmt: skip
    now = datetime.now(ZoneInfo(tz))
    return render(request, "review/queue.html", {
        "rows": rows, "total": total, "next": nxt, "f": f, "tz": tz,
        "remaining": lambda d: msg.remaining(d, now), "query": query_string(request, drop="cursor"),
        "raw": {"since": since or "", "until": until or ""},
    })  # fmt: skip


def _user_names(db: DbSession, tenant_id: str, usernames: set[str]) -> dict[str, str]:
    rows = db.execute(select(User.username, User.display_name)
                      .where(User.tenant_id == tenant_id, User.username.in_(usernames))).all()  # fmt: skip
    return {u: (d or u) for u, d in rows}


def _rule_facts(db: DbSession, tenant_id: str, rule_id: str) -> dict[str, Any]:
    """The rule's name, operators and their numeric parameters (the thresholds shown by a hit)."""
    try:
        rule = active_ruleset(db_session=db, tenant_id=tenant_id).get(rule_id)
    except (KeyError, QCError):
        return {"name": rule_id, "ops": [], "thresholds": {}}
    leaves = rule.leaves
    ops = [leaf.op for leaf in leaves]
    thresholds = {k: v for leaf in leaves for k, v in leaf.params.items()
                  if isinstance(v, int | float) and not isinstance(v, bool)}  # fmt: skip
    return {"name": rule.name, "ops": ops, "thresholds": thresholds}


def review_context(db: DbSession, store: Any, scope: Scope, user: Principal, violation_id: int,
                   f: queue.QueueFilter | None = None) -> dict[str, Any]:  # fmt: skip
    """Everything the review page shows (also rebuilt after a decision for the fragments)."""
    v = queries.load_for_detail(db_session=db, violation_id=violation_id, scope=scope)
    if v is None:
        raise NotFound(f"violation {violation_id} not found")
    conv = v.conversation
    history = queries.history(db_session=db, violation=v)
    names = _user_names(db, v.tenant_id, {h.actor for h in history} | {v.decided_by or ""})
    may_decide = allowed(user.role, Op.VIOLATIONS_DECIDE) is not None
    prev_id, next_id = (queue.neighbours(db_session=db, scope=scope, filters=f, violation_id=v.id)
                        if f is not None and may_decide else (None, None))  # fmt: skip
    pending = queue.pending_count(db_session=db, scope=scope) if may_decide else None
    return {
        "v": v, "conv": conv, "rule": _rule_facts(db, v.tenant_id, v.rule_id),
        "lines": transcript_lines(conv, [v]), "hits": list(v.evidence),
        "appeal": v.appeals[-1] if v.appeals else None, "history": history, "names": names,
        "reasons": reasons.tenant_reasons(db.get(Tenant, v.tenant_id)),
        "may_decide": may_decide and v.status in ("open", "appealed"),
        "decided_by": names.get(v.decided_by or "", v.decided_by),
        "tz": store.settings.timezone, "is_call": bool((conv.call or {}).get("audio")),
        "prev_id": prev_id, "next_id": next_id, "pending": pending, "error": None, "form": {},
        "notice": None,
    }  # fmt: skip


@router.get("/review/{violation_id}")
def review_page(
    request: Request, violation_id: ViolationId, db: DbSession, store: StoreDep, scope: Read,
    user: CurrentUser, status: str = "appealed", rule: str | None = None, team: str | None = None,
    agent: str | None = None, since: str | None = None, until: str | None = None,
) -> Response:  # fmt: skip
    """Hits, transcript with marks, the player for calls, the appeal, the decision form, the
    timeline; ← → walk the same filtered queue."""
    f = _filters(store.settings.timezone, status, rule, team, agent, since, until)
    ctx = review_context(db, store, scope, user, violation_id, f)
    ctx["query"] = query_string(request)
    return render(request, "review/page.html", ctx)


@router.post("/review/{violation_id}/decision")
def review_decide(
    request: Request, violation_id: ViolationId, store: StoreDep, scope: Queue, user: CurrentUser,
    decision: Annotated[str, Form()] = "", reason_code: Annotated[str, Form()] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
    expected_status: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """维持 / 撤销 through ``flows.decide`` (the API's rules: an overturn needs a reason; a stale
    form changes nothing and says who decided). htmx gets the decision pane and the timeline;
    a plain form post is redirected back to the page."""
    error, notice, status = None, None, 200
    try:
        with write_transaction(store.session_factory) as db:
            v = queries.visible_violation(
                db_session=db, scope=scope, violation_id=violation_id, lock=True
            )
            flows.decide(db_session=db, violation=v, decision=decision, reviewer=user.username,
                         comment=comment or None, reason_code=reason_code or None,
                         expected_status=expected_status or None)  # fmt: skip
    except ReasonRequired:
        error, status = msg.REASON_REQUIRED, 422
    except (AlreadyDecided, InvalidTransition):
        notice, status = "stale", 409
    if status == 200 and "hx-request" not in request.headers:
        return RedirectResponse(f"/review/{violation_id}", status_code=303)
    with store.session_factory() as db:
        ctx = review_context(db, store, scope, user, violation_id)
    if notice:
        ctx["notice"] = msg.already_decided(ctx["decided_by"] or "他人")
    ctx.update(
        error=error, form={"decision": decision, "reason_code": reason_code, "comment": comment}
    )
    template = "review/_decided.html" if "hx-request" in request.headers else "review/page.html"
    return render(request, template, ctx, status=status)


@router.get("/me")
def my_violations(
    request: Request, db: DbSession, store: StoreDep,
    scope: Annotated[Scope, require(Op.VIOLATIONS_APPEAL)], cursor: int | None = None,
) -> Response:  # fmt: skip
    """The agent's own violations, newest first; an open one can be appealed."""
    rows, total, nxt = queries.list_violations(
        db_session=db, tenant_id=scope.tenant_id, filters=queries.ViolationFilter(scope=scope),
        cursor=cursor, limit=queue.PAGE,
    )  # fmt: skip
    window, now = store.settings.appeal_window_days, datetime.now(ZoneInfo("UTC"))
    violations = [r[0] for r in rows]
    appealable = {v.id for v in violations
                  if v.status == "open" and flows.window_closes_at(v, window) > now}  # fmt: skip
    return render(request, "review/me.html", {
        "rows": violations, "total": total, "next": nxt, "tz": store.settings.timezone,
        "appealable": appealable,
    })  # fmt: skip


def _appeal_form(request: Request, db: DbSession, scope: Scope, store: Any, violation_id: int,
                 error: str | None = None, reason: str = "", status: int = 200) -> Response:  # fmt: skip
    v = queries.load_for_detail(db_session=db, violation_id=violation_id, scope=scope)
    if v is None:
        raise NotFound(f"violation {violation_id} not found")
    return render(request, "review/appeal.html", {
        "v": v, "lines": transcript_lines(v.conversation, [v]), "error": error, "reason": reason,
        "tz": store.settings.timezone,
    }, status=status)  # fmt: skip


@router.get("/me/violations/{violation_id}/appeal")
def appeal_form(request: Request, violation_id: ViolationId, db: DbSession, store: StoreDep,
                scope: Annotated[Scope, require(Op.VIOLATIONS_APPEAL)]) -> Response:  # fmt: skip
    """The finding with its evidence and the 申诉理由 form."""
    return _appeal_form(request, db, scope, store, violation_id)


@router.post("/me/violations/{violation_id}/appeal")
def appeal_submit(
    request: Request, violation_id: ViolationId, store: StoreDep, user: CurrentUser,
    scope: Annotated[Scope, require(Op.VIOLATIONS_APPEAL)],
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:  # fmt: skip
    """``flows.appeal`` (the API's rules); an empty reason shows an inline error."""
    if not reason.strip():
        with store.session_factory() as db:
            return _appeal_form(request, db, scope, store, violation_id,
                                error=msg.APPEAL_REASON_REQUIRED, status=422)  # fmt: skip
    with write_transaction(store.session_factory) as db:
        v = queries.visible_violation(
            db_session=db, scope=scope, violation_id=violation_id, lock=True
        )
        flows.appeal(db_session=db, violation=v, reason=reason, appellant=user.username,
                     window_days=store.settings.appeal_window_days)  # fmt: skip
    return RedirectResponse("/me", status_code=303)
