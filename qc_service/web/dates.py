"""Filter dates as pages and the dashboard API read them (UI.md "Definitions": ``since``/``until``
as ISO 8601 or ``YYYY-MM-DD`` in the tenant's zone, ``until`` inclusive)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from qc_service.errors import QCError


def page_day(value: str | None, tz: str, *, end: bool = False) -> datetime | None:
    """A filter date: ``YYYY-MM-DD`` in the tenant's zone (``until`` inclusive) or ISO 8601."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(tz))
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise QCError(
            f"{value!r} is not a date (YYYY-MM-DD)", field="until" if end else "since"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(tz))


def day_text(moment: datetime, tz: str, *, end: bool = False) -> str:
    """The ``YYYY-MM-DD`` a page shows for a bound (``end``: the inclusive last day)."""
    local = moment.astimezone(ZoneInfo(tz))
    if end:
        local -= timedelta(microseconds=1)
    return local.date().isoformat()
