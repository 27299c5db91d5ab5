"""The manager's pages (UI.md): ``/dashboard`` with its CSV exports, and ``/violations``, the
filtered list behind every number of the dashboard.

Why the drill-down is its own list: the appeal queue (``/review``) is the reviewers' and shows
appealed findings only; a manager clicking "day D × rule R" must see exactly the hits counted
there, with the same filter parameters as ``GET /v1/violations``.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from qc_service.identity.policy import Op, Scope
from qc_service.insights import dashboard
from qc_service.insights.chart import stacked_bars
from qc_service.insights.dashboard import DashFilter
from qc_service.insights.params import Agent, Channel, RuleQ, Since, Team, Until, dash_filter
from qc_service.review import queries, reasons
from qc_service.review.queue import PAGE
from qc_service.tenancy.models import Tenant
from qc_service.web import messages as msg
from qc_service.web.dates import day_text, page_day
from qc_service.web.deps import DbSession, StoreDep, require
from qc_service.web.masking import MaskingRoute
from qc_service.web.templating import query_string, render

router = APIRouter(include_in_schema=False, route_class=MaskingRoute)
Read = Annotated[Scope, require(Op.DASHBOARDS_READ)]
STANDING = "open,appealed,upheld,confirmed"
TABLES = ("trend", "rules", "agents", "reviewers")


def drill(f: DashFilter, **over: str | None) -> str:
    """``/violations`` for the dashboard's filter, narrowed by ``over`` (a day, a rule, a status)."""
    params: dict[str, str | None] = {
        "since": day_text(f.since, f.tz), "until": day_text(f.until, f.tz, end=True),
        "team": f.team, "agent": f.agent, "rule": f.rule, "channel": f.channel,
    }  # fmt: skip
    params.update(over)
    return "/violations?" + urlencode({k: v for k, v in params.items() if v})


def links(f: DashFilter) -> dict[str, str]:
    """Where each KPI tile leads."""
    return {
        "violations": drill(f, status=STANDING),
        "appeals": drill(f, dated="appealed"),
        "overturned": drill(f, status="overturned", dated="decided"),
        "decided": drill(f, status="upheld,overturned", dated="decided"),
        "overdue": drill(f, dated="appealed", overdue="1"),
    }


def _figures(db: DbSession, store: Any, f: DashFilter) -> dict[str, Any]:
    s = store.settings
    now = datetime.now(UTC)
    t = dashboard.trend(db, f)
    return {
        "k": dashboard.kpis(db, f, sla_hours=s.review_sla_hours, now=now), "now": now,
        "trend": t, "health": dashboard.rule_health(db, f, threshold=s.rule_health_overturn,
                                                    min_decisions=s.rule_health_min_decisions),
        "agents": dashboard.agents(db, f), "reviewers": dashboard.reviewers(db, f),
    }  # fmt: skip


@router.get("/dashboard")
def dashboard_page(
    request: Request, db: DbSession, store: StoreDep, scope: Read, since: Since = None,
    until: Until = None, team: Team = None, agent: Agent = None, rule: RuleQ = None,
    channel: Channel = None,
) -> Response:  # fmt: skip
    """Filter bar, 数据更新于, six KPI tiles, trend by rule with its table, rule health, agents and
    reviewers; every number links to the list behind it."""
    tz = store.settings.timezone
    f = dash_filter(scope, tz, since, until, team, agent, rule, channel)
    fig = _figures(db, store, f)
    query = query_string(request)
    return render(request, "insights/dashboard.html", {
        **fig, "f": f, "tz": tz, "links": links(f), "drill": lambda **o: drill(f, **o),
        "chart": stacked_bars(fig["trend"], lambda d, r: drill(f, since=d, until=d, rule=r,
                                                                 status=STANDING)),
        "raw": {"since": day_text(f.since, tz), "until": day_text(f.until, tz, end=True)},
        "query": query, "settings": store.settings, "standing": STANDING,
        "reason_label": reasons.tenant_reasons(db.get(Tenant, scope.tenant_id)),
    })  # fmt: skip


def _csv(table: str, db: DbSession, store: Any, f: DashFilter) -> list[list[Any]]:
    """One table's rows, computing only that table (not the whole page)."""
    s = store.settings
    if table == "trend":
        t = dashboard.trend(db, f)
        return [["day", *t.rules, "total"]] + [
            [d.isoformat(), *(t.counts.get((d, r), 0) for r in t.rules), t.total(d)] for d in t.days
        ]
    if table == "rules":
        return [["rule", "hits", "appeals", "decided", "overturned", "overturn_rate", "doubtful",
                 "reasons"]] + [
            [r.rule_id, r.hits, r.appeals, r.decided, r.overturned, r.overturn_rate, r.doubtful,
             ";".join(f"{k}={n}" for k, n in sorted(r.reasons.items()))]
            for r in dashboard.rule_health(db, f, threshold=s.rule_health_overturn,
                                             min_decisions=s.rule_health_min_decisions)
        ]  # fmt: skip
    if table == "agents":
        return [["agent", "name", "team", "conversations", "violations", "violation_rate",
                 "appeals", "overturned"]] + [
            [a.agent, a.name, a.team or "", a.conversations, a.violations, a.violation_rate,
             a.appeals, a.overturned] for a in dashboard.agents(db, f)
        ]  # fmt: skip
    return [["reviewer", "decisions", "median_hours", "overturned", "overturn_share"]] + [
        [r.reviewer, r.decisions, r.median_hours, r.overturned, r.overturn_share]
        for r in dashboard.reviewers(db, f)
    ]


@router.get("/dashboard/{table}.csv")
def dashboard_csv(
    table: Annotated[str, Path(pattern="^(trend|rules|agents|reviewers)$")], db: DbSession,
    store: StoreDep, scope: Read, since: Since = None, until: Until = None, team: Team = None,
    agent: Agent = None, rule: RuleQ = None, channel: Channel = None,
) -> Response:  # fmt: skip
    """One table of the dashboard as CSV (UTF-8 with BOM: Excel opens Chinese names right)."""
    f = dash_filter(scope, store.settings.timezone, since, until, team, agent, rule, channel)
    out = io.StringIO()
    out.write("\ufeff")
    csv.writer(out).writerows(_csv(table, db, store, f))
    name = f"{table}-{day_text(f.since, f.tz)}-{day_text(f.until, f.tz, end=True)}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@router.get("/violations")
def violations_page(
    request: Request, db: DbSession, store: StoreDep,
    scope: Annotated[Scope, require(Op.VIOLATIONS_READ)], status: str | None = None,
    rule: str | None = None, team: str | None = None, agent: str | None = None,
    channel: str | None = None, since: str | None = None, until: str | None = None,
    dated: str = "created", overdue: str | None = None, cursor: int | None = None,
) -> Response:  # fmt: skip
    """Violations matching the filter, newest first (keyset pages of 50)."""
    s = store.settings
    tz = s.timezone
    f = queries.ViolationFilter(
        status=status or None, rule=rule or None, team=team or None, agent=agent or None,
        since=page_day(since, tz), until=page_day(until, tz, end=True), scope=scope,
        channel=channel or None, dated=dated,
        overdue_before=(datetime.now(UTC) - timedelta(hours=s.review_sla_hours)) if overdue else None,
    )  # fmt: skip
    rows, total, nxt = queries.list_violations(db_session=db, tenant_id=scope.tenant_id,
                                               filters=f, cursor=cursor, limit=PAGE)  # fmt: skip
    query = query_string(request, drop="cursor")
    return render(request, "insights/violations.html", {
        "rows": rows, "total": total, "next": nxt, "tz": tz, "query": query,
        "filters": [(k, v) for k, v in request.query_params.multi_items() if v and k != "cursor"],
        "status_text": lambda st: "、".join(msg.STATUS.get(x, x) for x in st.split(",")),
    })  # fmt: skip
