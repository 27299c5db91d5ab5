"""The tenant's local calendar day of a timestamp, as SQL, on PostgreSQL and SQLite alike.

Why not a ``CASE`` branch per day (the first version): 90 comparisons per row made the trend
the dashboard's slowest query. PostgreSQL knows the zones (``timezone(tz, at)``); SQLite does
not, so there the expression shifts by the zone's UTC offset, with one branch per offset change
(DST) in the period: none for Asia/Shanghai.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func
from sqlalchemy.orm import Session


def _offset_minutes(at: datetime, zone: ZoneInfo) -> int:
    offset = at.astimezone(zone).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def offsets(tz: str, since: datetime, until: datetime) -> list[tuple[datetime, int]]:
    """``[(from, minutes)]``: the zone's UTC offset from each instant on, covering the period.

    Offset changes are found day by day, then to the second by bisection (zones change on whole seconds)."""
    zone = ZoneInfo(tz)
    out = [(since, _offset_minutes(since, zone))]
    day = timedelta(days=1)
    t = since
    while t < until:
        nxt = min(t + day, until)
        if _offset_minutes(nxt, zone) != out[-1][1]:
            lo, hi = int(t.timestamp()), int(nxt.timestamp())  # the change lies in (lo, hi]
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_minutes(datetime.fromtimestamp(mid, UTC), zone) == out[-1][1]:
                    lo = mid
                else:
                    hi = mid
            change = datetime.fromtimestamp(hi, UTC)
            out.append((change, _offset_minutes(change, zone)))
        t = nxt
    return out


def local_day(
    db: Session, at: Any, tz: str, since: datetime, until: datetime
) -> ColumnElement[str]:
    """``YYYY-MM-DD`` of ``at`` in ``tz`` (exact for instants in ``[since, until)``)."""
    if db.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(tz, at), "YYYY-MM-DD")
    segments = offsets(tz, since, until)

    def shifted(minutes: int) -> ColumnElement[str]:
        return func.date(at, f"{minutes:+d} minutes")

    if len(segments) == 1:
        return shifted(segments[0][1])
    later = [(at < start, shifted(prev)) for (start, _), (_, prev) in zip(segments[1:], segments, strict=False)]  # fmt: skip
    return case(*later, else_=shifted(segments[-1][1]))
