"""The segment language's data (RULES.md, ``segments:``): conditions, actions, a validated
segment, and the order segments run in.

Why apart from the parser: the ``segments`` domain evaluates and runs these; it never needs the
parser's error handling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from qc_service.rules.compiled import LexicalIndex, Node

_WINDOW = re.compile(r"^(\d+)([dh])$")


@dataclass(eq=False, slots=True)
class SegLeaf:
    """One leaf of a segment's condition, with its parameters (defaults filled in)."""

    kind: str
    params: dict[str, Any]
    path: str
    cond: Node | None = None
    """``said``: the compiled message-level condition."""

    @property
    def window_seconds(self) -> float | None:
        """The leaf's look-back in seconds (None: ``all`` or not windowed)."""
        return window_seconds(self.params.get("window", "all"))

    @property
    def horizon_seconds(self) -> float | None:
        """How long a customer must have been known for a negative use of this leaf to be true
        (RULES.md: someone added yesterday is not "silent for 30 days")."""
        if self.kind == "last" and self.params.get("before_days") is not None:
            return float(self.params["before_days"]) * 86400
        return self.window_seconds


@dataclass(eq=False, slots=True)
class SegAll:
    children: list[SegNode]
    path: str


@dataclass(eq=False, slots=True)
class SegAny:
    children: list[SegNode]
    path: str


@dataclass(eq=False, slots=True)
class SegNot:
    child: SegNode
    path: str


SegNode = SegLeaf | SegAll | SegAny | SegNot


@dataclass(frozen=True, slots=True)
class SegAction:
    """``tag_customer`` (a tag through the outbox) or ``notify`` (an alert on the stream)."""

    type: str
    target: str


@dataclass(eq=False, slots=True)
class SegmentDef:
    """One validated segment version."""

    id: str
    name: str
    when: SegNode
    schedule: dict[str, Any]
    on_enter: list[SegAction]
    on_leave: str
    """``default`` (remove the tags this segment put on) or ``keep``."""
    on_leave_actions: list[SegAction]
    hold_days: float
    guard_pct: float | None
    first_run: str
    enabled: bool
    definition: dict[str, Any]
    version: int = 0
    lexicons: dict[str, list[str]] = field(default_factory=dict)
    """The words of every lexicon or file its ``said`` conditions used (the version's snapshot)."""
    index: LexicalIndex | None = field(default=None, repr=False)
    """The lexical index of every ``said`` condition (built by the loader)."""

    @property
    def tags(self) -> list[str]:
        """The tags this segment puts on when a customer enters."""
        return [a.target for a in self.on_enter if a.type == "tag_customer"]

    def leaves(self) -> list[SegLeaf]:
        """Every leaf, in document order."""
        return list(iter_seg_leaves(self.when))


def iter_seg_leaves(node: SegNode) -> Iterable[SegLeaf]:
    """Leaves of a segment condition."""
    if isinstance(node, SegLeaf):
        yield node
    elif isinstance(node, SegNot):
        yield from iter_seg_leaves(node.child)
    else:
        for child in node.children:
            yield from iter_seg_leaves(child)


def window_seconds(value: Any) -> float | None:
    """``30d`` / ``12h`` → seconds; ``all`` → None."""
    if value == "all" or value is None:
        return None
    m = _WINDOW.match(str(value))
    if m is None:
        raise ValueError(value)
    return int(m.group(1)) * (86400 if m.group(2) == "d" else 3600)


def run_order(segments: list[SegmentDef]) -> list[SegmentDef]:
    """Segments ordered so an ``in_segment`` target runs before the segments that read it."""
    by_id = {s.id: s for s in segments}
    done: list[SegmentDef] = []
    seen: set[str] = set()

    def visit(s: SegmentDef) -> None:
        if s.id in seen:
            return
        seen.add(s.id)
        for leaf in s.leaves():
            dep = by_id.get(leaf.params.get("id", "")) if leaf.kind == "in_segment" else None
            if dep is not None:
                visit(dep)
        done.append(s)

    for s in segments:
        visit(s)
    return done
