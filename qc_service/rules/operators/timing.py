"""Handlers of time-based conversation-level operators: response_time and duration.

Why every non-system message must carry ``ts``: a time rule that silently skips messages without
one would report "no violation" where it could not look, so a missing ``ts`` is a per-rule error
(ARCHITECTURE: operators that need time report a per-rule error where it is missing).
Time is read in the time zone of the ``ts`` values themselves; aware times are compared in UTC.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from qc_service.rules.compiled import EvalContext, Leaf
from qc_service.rules.model import Evidence
from qc_service.rules.operators.conversation import (
    NOT_HELD,
    Outcome,
    seconds_between,
    timestamps,
    turns,
    window,
)
from qc_service.rules.operators.text import message_evidence
from qc_service.rules.registry import REGISTRY

_DAY_MINUTES = 24 * 60


def parse_hours(text: str) -> tuple[int, int]:
    """``"HH:MM-HH:MM"`` → (start, end) in minutes after midnight (``24:00`` = 1440)."""
    start, end = (part.strip().split(":") for part in text.split("-"))
    return int(start[0]) * 60 + int(start[1]), int(end[0]) * 60 + int(end[1])


def working_seconds(a: datetime, b: datetime, hours: tuple[int, int] | None) -> float:
    """Seconds from ``a`` to ``b`` (0 if b is not later), counting only business hours.

    The hours repeat every day in the wall-clock time of ``a``; a window whose end is before its
    start runs over midnight (``22:00-06:00``); equal ends mean the whole day.
    """
    total = seconds_between(a, b)
    if total <= 0:
        return 0.0
    if hours is None or hours[0] % _DAY_MINUTES == hours[1] % _DAY_MINUTES:
        return total
    if a.tzinfo is not None:
        b = b.astimezone(a.tzinfo)
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    start, end = hours
    if end < start:
        end += _DAY_MINUTES
    counted = 0.0
    day = a.date() - timedelta(days=1)
    while day <= b.date():
        midnight = datetime.combine(day, time())
        lo = max(a, midnight + timedelta(minutes=start))
        hi = min(b, midnight + timedelta(minutes=end))
        if hi > lo:
            counted += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return counted


def _timed(ctx: EvalContext, i: int, seconds: float) -> Evidence:
    ev = message_evidence(ctx, i)
    ev.value, ev.unit = round(seconds, 3), "s"
    return ev


@REGISTRY.conversation_handler("response_time")
def response_time(leaf: Leaf, ctx: EvalContext) -> Outcome:
    """The agent's first reply to a customer turn comes later than ``over_seconds``.

    The wait runs from the turn's **first** message (how long the customer has been waiting) to
    the first agent message after the turn; a turn never answered waits until the conversation's
    last message, decided on the final run. With ``business_hours`` only working time counts.
    """
    msgs = ctx.conversation.messages
    customer_turns = [members for members in turns(ctx) if msgs[members[0]].role == "customer"]
    if not customer_turns:
        return NOT_HELD
    ts = timestamps(ctx, "response_time")
    hours = leaf.params.get("business_hours")
    bounds = parse_hours(hours) if hours else None
    last = ctx.eligible("any")[-1]
    evidence: list[Evidence] = []
    for members in customer_turns:
        anchor = members[0]
        reply = next(
            (j for j in range(members[-1] + 1, len(msgs)) if msgs[j].role == "agent"), None
        )
        if reply is None and not ctx.conversation.final:
            continue  # the reply may still come
        wait = working_seconds(ts[anchor], ts[reply if reply is not None else last], bounds)
        if wait <= leaf.params["over_seconds"]:
            continue
        turn = [message_evidence(ctx, i) for i in members]
        if reply is None:
            turn[0] = _timed(ctx, anchor, wait)
            evidence.extend(turn)
        else:
            evidence.extend([*turn, _timed(ctx, reply, wait)])
    return bool(evidence), evidence


def _call_length(ctx: EvalContext, every: list[int]) -> float | None:
    """Calls: the audio length (``features["audio"].duration``), else the last segment's end."""
    if ctx.conversation.channel != "call":
        return None
    audio = ctx.features.get("audio")
    length = getattr(audio, "duration", None)
    if isinstance(length, float | int):
        return float(length)
    ends = [m.end for m in (ctx.conversation.messages[i] for i in every) if m.end is not None]
    return max(ends) if ends else None


@REGISTRY.conversation_handler("duration")
def duration(leaf: Leaf, ctx: EvalContext) -> Outcome:
    """The conversation lasts less than ``under_seconds`` / more than ``over_seconds`` (calls: the
    audio length, else the last segment's end; chats:
    last ts − first ts of its non-system messages, decided on the final run."""
    every = ctx.eligible("any")
    if not ctx.conversation.final or not every:
        return NOT_HELD
    length = _call_length(ctx, every)
    if length is None:
        ts = timestamps(ctx, "duration")
        offsets = [seconds_between(ts[every[0]], ts[i]) for i in every]
        length = max(offsets) - min(offsets)
    p = leaf.params
    held = length < p["under_seconds"] if "under_seconds" in p else length > p["over_seconds"]
    if not held:
        return NOT_HELD
    ev = window(ctx, every)
    ev.value, ev.unit = round(length, 3), "s"
    return True, [ev]
