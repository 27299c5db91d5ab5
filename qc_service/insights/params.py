"""The dashboard's filter parameters, read the same way by ``/dashboard`` and ``/v1/dashboard/*``
(UI.md: the API's parameter names on pages too), so one URL means one set of figures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from qc_service.identity.policy import Scope
from qc_service.insights.dashboard import DashFilter, last_days
from qc_service.web.dates import page_day

DEFAULT_DAYS = 7

Since = Annotated[
    str | None,
    Query(description="YYYY-MM-DD (tenant's zone) or ISO time; default 6 days before today"),
]
Until = Annotated[
    str | None, Query(description="YYYY-MM-DD inclusive or ISO time (exclusive); default today")
]
Team = Annotated[str | None, Query(description="only this team")]
Agent = Annotated[str | None, Query(description="only this agent (employee id)")]
RuleQ = Annotated[str | None, Query(description="only this rule id")]
Channel = Annotated[str | None, Query(description="only this channel (wecom, sms, im, call…)")]


def dash_filter(
    scope: Scope, tz: str, since: str | None, until: str | None, team: str | None,
    agent: str | None, rule: str | None, channel: str | None,
) -> DashFilter:  # fmt: skip
    """The filter of a request: the last 7 local days unless ``since``/``until`` say otherwise."""
    start, end = last_days(DEFAULT_DAYS, tz)
    lo = page_day(since, tz) or start
    hi = page_day(until, tz, end=True) or (end if not since else max(end, lo))
    return DashFilter(scope=scope, since=lo, until=hi, tz=tz, team=team or None,
                      agent=agent or None, rule=rule or None, channel=channel or None)  # fmt: skip
