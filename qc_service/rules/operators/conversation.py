"""Handlers of conversation-level operators over turns: sequence, unanswered, position, absent,
repetition (time-based ones live in ``timing``).

Turns (RULES.md): a turn is a maximal run of consecutive messages from one role; ``system``
messages are not turns, never count, and do not split a turn. Operators that take conditions
evaluate them with the evaluator's message-level evaluation (``ctx.evaluate_messages``); an
operator's own ``role`` (when not ``any``) further restricts where its conditions may match.

Provisional runs (``conversation.final`` false) decide only what later messages cannot change:
``last_*`` positions, ``absent`` and an ``unanswered`` trigger whose window runs past the end
are not held until the final run.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import UTC, datetime

from qc_service.rules.compiled import EvalContext, Leaf, Node
from qc_service.rules.model import Evidence
from qc_service.rules.operators import schemas  # noqa: F401  (specs are registered before handlers)
from qc_service.rules.operators.text import message_evidence
from qc_service.rules.registry import REGISTRY, MessageHits, OperatorUnavailable

Outcome = tuple[bool, list[Evidence]]
NOT_HELD: Outcome = (False, [])


# -- shared helpers (also used by ``timing``) ------------------------------------------------
def turns(ctx: EvalContext) -> list[list[int]]:
    """Message indexes of every turn, in order (system messages belong to none)."""
    cached: list[list[int]] | None = ctx.cache.get("turns")
    if cached is None:
        cached = []
        last_role = None
        for i, msg in enumerate(ctx.conversation.messages):
            if msg.role == "system":
                continue
            if msg.role != last_role:
                cached.append([])
                last_role = msg.role
            cached[-1].append(i)
        ctx.cache["turns"] = cached
    return cached


def turn_of(ctx: EvalContext) -> dict[int, int]:
    """Message index → turn number (system messages are absent)."""
    return {i: t for t, members in enumerate(turns(ctx)) for i in members}


def matches(node: Node, ctx: EvalContext, role: str = "any") -> MessageHits:
    """Where a message-level condition holds, restricted to ``role``'s messages."""
    if ctx.evaluate_messages is None:  # pragma: no cover - the evaluator always sets it
        raise RuntimeError("EvalContext.evaluate_messages is not set (use evaluator.evaluate)")
    msgs = ctx.conversation.messages
    hits = ctx.evaluate_messages(node, ctx)
    return {
        i: ev
        for i, ev in hits.items()
        if msgs[i].role != "system" and (role == "any" or msgs[i].role == role)
    }


def evidence_of(ctx: EvalContext, hits: MessageHits, i: int) -> list[Evidence]:
    """A matching message's evidence (the whole message where the condition gave none)."""
    return list(hits[i]) or [message_evidence(ctx, i)]


def window(ctx: EvalContext, indexes: list[int], anchor: int | None = None) -> Evidence:
    """A ``window`` evidence over these messages; ``anchor`` names the message it follows."""
    msgs = ctx.conversation.messages
    anchor_id = msgs[anchor].id if anchor is not None else None
    return Evidence("window", anchor_id, message_ids=[msgs[i].id for i in indexes])


def timestamps(ctx: EvalContext, op: str) -> dict[int, datetime]:
    """Every non-system message's ts; a missing one is a per-rule error, never a silent pass."""
    cached: dict[int, datetime] | None = ctx.cache.get("timestamps")
    if cached is not None:
        return cached
    out: dict[int, datetime] = {}
    aware: set[bool] = set()
    for i in ctx.eligible("any"):
        msg = ctx.conversation.messages[i]
        if msg.ts is None:
            raise OperatorUnavailable(f"{op}: message {msg.id} has no ts", stage="rules")
        out[i] = msg.ts
        aware.add(msg.ts.utcoffset() is not None)
    if len(aware) > 1:
        raise OperatorUnavailable(f"{op}: timestamps mix time zones and naive times")
    ctx.cache["timestamps"] = out
    return out


def seconds_between(a: datetime, b: datetime) -> float:
    """``b − a`` in seconds (aware times compared in UTC)."""
    if a.utcoffset() is not None:
        a, b = a.astimezone(UTC), b.astimezone(UTC)
    return (b - a).total_seconds()


# -- position and absent ------------------------------------------------------------------
def position_window(leaf: Leaf, ctx: EvalContext) -> list[int] | None:
    """Non-system message indexes inside a ``position``'s window (None: not decided yet)."""
    p = leaf.params
    every = ctx.eligible("any")
    if "first_turns" in p or "last_turns" in p:
        all_turns = turns(ctx)
        if "first_turns" in p:
            chosen = all_turns[: p["first_turns"]]
        else:
            if not ctx.conversation.final:
                return None
            chosen = all_turns[-p["last_turns"] :]
        return sorted(i for members in chosen for i in members)
    if "last_seconds" in p and not ctx.conversation.final:
        return None
    ts = timestamps(ctx, "position")
    if not every:
        return []
    if "first_seconds" in p:
        t0 = ts[every[0]]
        return [i for i in every if seconds_between(t0, ts[i]) <= p["first_seconds"]]
    t_end = ts[every[-1]]
    return [i for i in every if seconds_between(ts[i], t_end) <= p["last_seconds"]]


@REGISTRY.conversation_handler("position")
def position(leaf: Leaf, ctx: EvalContext) -> Outcome:
    """``cond`` matches inside the first/last turns or seconds (turns of all roles count)."""
    inside = position_window(leaf, ctx)
    if not inside:
        return NOT_HELD
    hits = matches(leaf.children["cond"], ctx, leaf.role)
    evidence = [e for i in inside if i in hits for e in evidence_of(ctx, hits, i)]
    return bool(evidence), evidence


@REGISTRY.conversation_handler("absent")
def absent(leaf: Leaf, ctx: EvalContext) -> Outcome:
    """``cond`` matches nowhere (or nowhere in a position's window): decided on the final run."""
    if not ctx.conversation.final:
        return NOT_HELD
    cond = leaf.children["cond"]
    if isinstance(cond, Leaf) and cond.op == "position":
        expected = position_window(cond, ctx) or []
        hits = matches(cond.children["cond"], ctx, cond.role)
    else:
        expected = ctx.eligible("any")
        hits = matches(cond, ctx)
    msgs = ctx.conversation.messages
    if leaf.role != "any":
        expected = [i for i in expected if msgs[i].role == leaf.role]
    if any(i in hits for i in expected):
        return NOT_HELD
    return True, [window(ctx, expected)]


# -- sequence and unanswered --------------------------------------------------------------
@REGISTRY.conversation_handler("sequence")
def sequence(leaf: Leaf, ctx: EvalContext) -> Outcome:
    """``first`` matches, then ``then`` matches a later message at most ``within_turns`` turns
    after first's turn (a later message of the same turn counts: 0 turns after)."""
    firsts = matches(leaf.children["first"], ctx, leaf.role)
    if not firsts:
        return NOT_HELD
    thens = matches(leaf.children["then"], ctx, leaf.role)
    turn = turn_of(ctx)
    limit = leaf.params["within_turns"]
    ordered = sorted(thens)
    evidence: list[Evidence] = []
    used: set[int] = set()
    for i in sorted(firsts):
        last_turn = turn[i] + limit
        later = [j for j in ordered[bisect_right(ordered, i) :] if turn[j] <= last_turn]
        if not later:
            continue
        evidence.extend(evidence_of(ctx, firsts, i))
        for j in later:
            if j not in used:
                used.add(j)
                evidence.extend(evidence_of(ctx, thens, j))
    return bool(evidence), evidence


@REGISTRY.conversation_handler("unanswered")
def unanswered(leaf: Leaf, ctx: EvalContext) -> Outcome:
    """``trigger`` matches and ``expect`` matches no message in the next ``within_turns`` turns.

    A trigger whose window reaches the conversation's last turn (which may still grow) is decided
    on the final run.
    """
    triggers = matches(leaf.children["trigger"], ctx, leaf.role)
    if not triggers:
        return NOT_HELD
    expects = matches(leaf.children["expect"], ctx, leaf.role)
    all_turns = turns(ctx)
    turn = turn_of(ctx)
    limit = leaf.params["within_turns"]
    evidence: list[Evidence] = []
    for i in sorted(triggers):
        following = all_turns[turn[i] + 1 : turn[i] + 1 + limit]
        expected = [j for members in following for j in members]
        if any(j in expects for j in expected):
            continue
        if turn[i] + limit >= len(all_turns) - 1 and not ctx.conversation.final:
            continue  # the window's last turn may still grow: the reply may still come
        evidence.extend(evidence_of(ctx, triggers, i))
        evidence.append(window(ctx, expected, anchor=i))
    return bool(evidence), evidence


# -- repetition -----------------------------------------------------------------------------
@REGISTRY.conversation_handler("repetition")
def repetition(leaf: Leaf, ctx: EvalContext) -> Outcome:
    """The same sentence (folded, punctuation ignored) sent ``min_times`` or more by one role."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    msgs = ctx.conversation.messages
    normalized = ctx.batch.message_texts()
    for i in ctx.eligible(leaf.role):
        key = normalized[i]
        if key:
            groups[(msgs[i].role, key)].append(i)
    evidence: list[Evidence] = []
    for indexes in groups.values():
        if len(indexes) >= leaf.params["min_times"]:
            for i in indexes:
                evidence.append(
                    Evidence(
                        "message",
                        msgs[i].id,
                        msgs[i].role,
                        text=msgs[i].text,
                        value=len(indexes),
                        unit="times",
                    )
                )
    return bool(evidence), evidence
