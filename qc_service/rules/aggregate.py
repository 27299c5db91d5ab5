"""Aggregate tag rules: a tag only when the condition matched in enough distinct messages of one
customer within a window ending at the latest match, across conversations (聊天关键词自动打标签).

Why pure: ``qc analyze`` keeps the hits of the file in memory, the pipeline keeps them in the
store; both ask this one function whether the threshold is reached.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta


def reached(
    hits: Iterable[tuple[str, datetime]], window_days: int, min_hits: int
) -> list[str] | None:
    """The distinct hit keys inside the window ending at the latest hit, if there are enough."""
    latest_by_key: dict[str, datetime] = {}
    for key, ts in hits:
        latest_by_key[key] = ts
    if not latest_by_key:
        return None
    latest = max(latest_by_key.values())
    start = latest - timedelta(days=window_days)
    inside = sorted((ts, key) for key, ts in latest_by_key.items() if ts >= start)
    if len(inside) < min_hits:
        return None
    return [key for _, key in inside]
