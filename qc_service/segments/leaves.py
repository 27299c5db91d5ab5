"""Segment membership as sets: every leaf of RULES.md over plain facts at a frozen ``as_of``.

Why sets and a ``FactSource``: the store answers each leaf's question for every customer at once
(grouped SQL in ``segments.facts``: last message per role, standing violations, tags, group
events), and this module only applies the leaf's predicate and window to those rows and combines
the sets (``all`` = ∩, ``any`` = ∪, ``not`` = complement). Pure — no database: the unit tests
feed dicts. Windows are ``as_of − W < t ≤ as_of``; nothing after ``as_of`` counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any, Protocol

from qc_service.rules.compiled import LexicalIndex, build_context
from qc_service.rules.evaluator import eval_message_level
from qc_service.rules.model import SEVERITIES, Conversation, Message
from qc_service.rules.segment_model import SegAll, SegAny, SegLeaf, SegNode, SegNot, iter_seg_leaves

SAID_BATCH = 2000
"""Messages normalized and matched together (one automaton scan per batch)."""


@dataclass(frozen=True, slots=True)
class SaidRow:
    """One message a ``said`` leaf may count."""

    customer_id: int
    key: str
    """Distinct per message across conversations (``conversation pk/message id``)."""
    role: str
    text: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class ViolationRow:
    """A violation still standing, at the time of its first evidence message."""

    customer_id: int
    rule_id: str
    severity: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class EventRow:
    """A customer event (``group_join`` …) with its group."""

    customer_id: int
    type: str
    group: str | None
    data: dict[str, Any]
    ts: datetime


class FactSource(Protocol):
    """What the leaves read, each for every customer of the tenant at ``as_of``."""

    def customers(self) -> set[int]:
        """Every customer of the tenant (the universe a ``not`` complements)."""

    def first_seen(self) -> dict[int, datetime]:
        """Each customer's earliest message at or before ``as_of``."""

    def last_message(self, role: str) -> dict[int, datetime]:
        """Each customer's last message of ``role`` at or before ``as_of``."""

    def said_counts(self, leaves: list[SegLeaf], index: LexicalIndex) -> dict[str, dict[int, int]]:
        """Leaf path → customer → distinct matching messages in the leaf's window."""

    def violations(self) -> list[ViolationRow]:
        """Standing violations (not overturned) at or before ``as_of``."""

    def tags(self) -> dict[int, dict[str, str]]:
        """Customer → tag → source, of the tags on now."""

    def attr(self, field: str) -> dict[int, Any]:
        """Customer → the field's value (absent: missing)."""

    def events(self) -> list[EventRow]:
        """Customer events at or before ``as_of``, oldest first."""

    def members(self, segment_id: str) -> dict[int, datetime]:
        """Members of another segment now → when they entered."""


def since(as_of: datetime, seconds: float | None) -> datetime | None:
    """The exclusive start of a window (None: all history)."""
    return None if seconds is None else as_of - timedelta(seconds=seconds)


def in_window(ts: datetime, start: datetime | None, as_of: datetime) -> bool:
    """``start < ts ≤ as_of`` (RULES.md: an event at exactly as_of − 30 d is out)."""
    return ts <= as_of and (start is None or ts > start)


def said_counts(rows: Iterable[SaidRow], leaves: list[SegLeaf], index: LexicalIndex,
                as_of: datetime) -> dict[str, dict[int, int]]:  # fmt: skip
    """Count, per ``said`` leaf, each customer's distinct messages that match its condition in
    its window. Messages go through the rule engine in batches (one normalization and automaton
    scan per batch); message-level conditions hold per message, so batching cannot mix them."""
    out: dict[str, dict[int, int]] = {leaf.path: {} for leaf in leaves}
    seen: dict[str, set[str]] = {leaf.path: set() for leaf in leaves}
    starts = {leaf.path: since(as_of, leaf.window_seconds) for leaf in leaves}
    batch: list[SaidRow] = []

    def flush() -> None:
        conv = Conversation(
            "said", "im", [Message(str(i), r.role, r.text) for i, r in enumerate(batch)]
        )
        ctx = build_context(conv, index)
        ctx.evaluate_messages = eval_message_level
        for leaf in leaves:
            assert leaf.cond is not None
            role, start = leaf.params["role"], starts[leaf.path]
            counts, keys = out[leaf.path], seen[leaf.path]
            for i in eval_message_level(leaf.cond, ctx):
                row = batch[i]
                if row.role != role or not in_window(row.ts, start, as_of) or row.key in keys:
                    continue
                keys.add(row.key)
                counts[row.customer_id] = counts.get(row.customer_id, 0) + 1
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) >= SAID_BATCH:
            flush()
    if batch:
        flush()
    return out


def group_memberships(
    events: Iterable[EventRow], as_of: datetime
) -> dict[int, dict[str, datetime]]:
    """Customer → group → joined at, for groups the customer is in at ``as_of`` (the last
    join/leave event of each group decides)."""
    state: dict[int, dict[str, datetime | None]] = {}
    for ev in sorted((e for e in events if e.ts <= as_of and e.group), key=lambda e: e.ts):
        groups = state.setdefault(ev.customer_id, {})
        if ev.type == "group_join":
            groups[str(ev.group)] = ev.ts
        elif ev.type == "group_leave":
            groups[str(ev.group)] = None
    return {c: {g: t for g, t in gs.items() if t is not None} for c, gs in state.items()}


def _attr_true(op: str, have: Any, want: Any) -> bool:
    if op == "exists":
        return have is not None
    if op == "missing":
        return have is None
    if have is None:
        return False
    if op == "eq":
        return bool(have == want or str(have) == str(want))
    if op == "ne":
        return not (have == want or str(have) == str(want))
    if op == "in":
        return bool(have in want or str(have) in {str(w) for w in want})
    if op == "not_in":
        return bool(have not in want and str(have) not in {str(w) for w in want})
    try:
        number = float(have)
    except (TypeError, ValueError):
        return False
    if op == "between":
        return float(want[0]) <= number <= float(want[1])
    bound = float(want)
    checks = {
        "gt": number > bound,
        "gte": number >= bound,
        "lt": number < bound,
        "lte": number <= bound,
    }
    return checks[op]


class Evaluator:
    """Evaluates segment conditions at one ``as_of`` over one ``FactSource``; the facts a leaf
    reads are fetched once and shared by every segment of the run."""

    def __init__(self, facts: FactSource, as_of: datetime) -> None:
        self.facts = facts
        self.as_of = as_of
        self._memo: dict[str, Any] = {}
        self.leaf_sets: dict[int, set[int]] = {}
        """id(leaf) → customers for whom it is true (the "why" of a membership)."""

    def _get(self, key: str, fetch: Any) -> Any:
        if key not in self._memo:
            self._memo[key] = fetch()
        return self._memo[key]

    @property
    def universe(self) -> set[int]:
        """Every customer of the tenant (read once; callers never change it)."""
        found: set[int] = self._get("customers", self.facts.customers)
        return found

    def known_for(self, seconds: float) -> set[int]:
        """Customers first seen at least ``seconds`` before ``as_of``."""
        first = self._get("first_seen", self.facts.first_seen)
        edge = self.as_of - timedelta(seconds=seconds)
        return {c for c, t in first.items() if t <= edge}

    def prepare_said(self, leaves: list[SegLeaf], index: LexicalIndex) -> None:
        """Count every ``said`` leaf of a segment in one pass (before ``members``)."""
        todo = [leaf for leaf in leaves if leaf.kind == "said" and id(leaf) not in self.leaf_sets]
        if not todo:
            return
        counts = self.facts.said_counts(todo, index)
        for leaf in todo:
            n = leaf.params["min"]
            self.leaf_sets[id(leaf)] = {c for c, k in counts[leaf.path].items() if k >= n}

    def members(self, node: SegNode) -> set[int]:
        """The customers for whom the condition holds."""
        if isinstance(node, SegAll):
            sets = [self.members(c) for c in node.children]
            return set.intersection(*sets)
        if isinstance(node, SegAny):
            return set().union(*(self.members(c) for c in node.children))
        if isinstance(node, SegNot):
            out = self.universe - self.members(node.child)
            horizons = [h for leaf in iter_seg_leaves(node.child) if (h := leaf.horizon_seconds)]
            if horizons:  # first seen less than the window ago: a negative leaf is false
                out &= self.known_for(max(horizons))
            return out
        found = self.leaf_sets.get(id(node))
        if found is None:
            found = self.leaf(node)
            self.leaf_sets[id(node)] = found
        return found

    def leaf(self, leaf: SegLeaf) -> set[int]:
        """One leaf's customers (``said`` is counted by ``prepare_said``)."""
        p, as_of = leaf.params, self.as_of
        if leaf.kind == "said":
            raise RuntimeError("said leaves are counted by prepare_said first")
        if leaf.kind == "hit":
            start = since(as_of, leaf.window_seconds)
            floor = SEVERITIES.index(p["severity_at_least"])
            counts: dict[int, int] = {}
            for v in self._get("violations", self.facts.violations):
                if (
                    fnmatchcase(v.rule_id, p["rule"])
                    and SEVERITIES.index(v.severity) >= floor
                    and in_window(v.ts, start, as_of)
                ):
                    counts[v.customer_id] = counts.get(v.customer_id, 0) + 1
            return {c for c, n in counts.items() if n >= p["min"]}
        if leaf.kind == "tag":
            return self._tag(p)
        if leaf.kind == "attr":
            values = self._get(f"attr:{p['field']}", lambda: self.facts.attr(p["field"]))
            if p["op"] == "missing":
                return {c for c in self.universe if values.get(c) is None}
            return {c for c, v in values.items() if _attr_true(p["op"], v, p.get("value"))}
        if leaf.kind == "last":
            last = self._get(f"last:{p['role']}", lambda: self.facts.last_message(p["role"]))
            if p.get("within_days") is not None:
                edge = as_of - timedelta(days=p["within_days"])
                return {c for c, t in last.items() if t > edge}
            edge = as_of - timedelta(days=p["before_days"])
            return {
                c for c in self.known_for(p["before_days"] * 86400) if last.get(c, edge) <= edge
            }
        if leaf.kind == "silent":
            side = p["side"]
            other = "customer" if side == "agent" else "agent"
            mine = self._get(f"last:{side}", lambda: self.facts.last_message(side))
            theirs = self._get(f"last:{other}", lambda: self.facts.last_message(other))
            edge = as_of - timedelta(hours=p["over_hours"])
            return {
                c for c, t in theirs.items()
                if t <= edge and (mine.get(c) is None or mine[c] < t)
            }  # fmt: skip
        if leaf.kind == "in_group":
            groups = self._get(
                "groups", lambda: group_memberships(self._get("events", self.facts.events), as_of)
            )
            edge = as_of - timedelta(days=p["since_days"])
            return {
                c for c, gs in groups.items()
                if any(fnmatchcase(g, p["match"]) and t <= edge for g, t in gs.items())
            }  # fmt: skip
        if leaf.kind == "event":
            start = since(as_of, leaf.window_seconds)
            counts = {}
            for ev in self._get("events", self.facts.events):
                if (
                    ev.type == p["type"]
                    and in_window(ev.ts, start, as_of)
                    and self._where(ev, p["where"])
                ):
                    counts[ev.customer_id] = counts.get(ev.customer_id, 0) + 1
            return {c for c, n in counts.items() if n >= p["min"]}
        if leaf.kind == "in_segment":
            members = self.facts.members(p["id"])
            edge = as_of - timedelta(days=p["for_days"])
            return {c for c, t in members.items() if t <= edge}
        raise ValueError(f"unknown segment leaf {leaf.kind!r}")

    def _tag(self, p: dict[str, Any]) -> set[int]:
        tags = self._get("tags", self.facts.tags)
        source = p["source"]

        def held(c: int) -> set[str]:
            on = tags.get(c, {})
            if source == "any":
                return set(on)
            return {t for t, s in on.items() if (s == "manual") == (source == "manual")}

        out = set(self.universe) if "none_of" in p else set(tags)
        for c in list(out):
            have = held(c)
            if (
                ("any_of" in p and not have & set(p["any_of"]))
                or ("all_of" in p and not set(p["all_of"]) <= have)
                or ("none_of" in p and have & set(p["none_of"]))
            ):
                out.discard(c)
        return out

    @staticmethod
    def _where(ev: EventRow, where: dict[str, str]) -> bool:
        for key, pattern in where.items():
            value = ev.group if key == "group" else ev.data.get(key)
            if value is None or not fnmatchcase(str(value), pattern):
                return False
        return True

    def why(self, node: SegNode, customer: int) -> list[str]:
        """Key paths of the leaves true for ``customer`` (after ``members`` ran)."""
        return [
            leaf.path
            for leaf in iter_seg_leaves(node)
            if customer in self.leaf_sets.get(id(leaf), ())
        ]
