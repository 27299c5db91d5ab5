"""Multi-pattern matching over normalized batches (ahocorasick-rs).

Why one automaton per rule set: every keyword and allow phrase of every rule is folded once
and put in a single automaton, so a batch of messages is scanned once no matter how many rules
there are; hits are then dispatched to the operators that own each pattern.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ahocorasick_rs

from qc_service.rules.normalize import NormalizedBatch, is_latin_or_digit


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence of one pattern.

    ``start``/``end`` are code points of the message's original text (end exclusive);
    ``norm_start``/``norm_end`` are positions in the batch's normalized text (for containment).
    """

    pattern: int
    message: int
    start: int
    end: int
    norm_start: int
    norm_end: int


class Matcher:
    """Finds folded patterns in a normalized batch, honouring Latin/digit word boundaries."""

    def __init__(self, patterns: Sequence[str]) -> None:
        if any(not p for p in patterns):
            raise ValueError("empty pattern")
        self.patterns = list(patterns)
        self._left = [is_latin_or_digit(ord(p[0])) for p in self.patterns]
        self._right = [is_latin_or_digit(ord(p[-1])) for p in self.patterns]
        self._ac = (
            ahocorasick_rs.AhoCorasick(self.patterns, matchkind=ahocorasick_rs.MatchKind.Standard)
            if self.patterns
            else None
        )

    def find(self, batch: NormalizedBatch) -> list[Hit]:
        """Every occurrence (overlapping) of every pattern in the batch."""
        if self._ac is None or not batch.text:
            return []
        raw = self._ac.find_matches_as_indexes(batch.text, overlapping=True)
        if not raw:
            return []
        hits: list[Hit] = []
        left, right = self._left, self._right
        for pattern, start, end in raw:
            if (left[pattern] or right[pattern]) and not batch.boundary_ok(
                start, end, left[pattern], right[pattern]
            ):
                continue
            msg = batch.message_at(start)
            o_start, o_end = batch.original_span(msg, start, end)
            hits.append(Hit(pattern, msg, o_start, o_end, start, end))
        return hits


def drop_contained(hits: list[Hit]) -> list[Hit]:
    """Drop a hit lying wholly inside a longer hit (我的 inside 我的世界); keep partial overlaps."""
    if len(hits) < 2:
        return hits
    kept: list[Hit] = []
    for h in hits:
        inside = False
        for o in hits:
            if (
                o is not h
                and o.message == h.message
                and o.norm_start <= h.norm_start
                and h.norm_end <= o.norm_end
                and (o.norm_end - o.norm_start) > (h.norm_end - h.norm_start)
            ):
                inside = True
                break
        if not inside:
            kept.append(h)
    return kept


def drop_allowed(hits: list[Hit], allowed: list[Hit]) -> list[Hit]:
    """Drop hits lying inside an occurrence of an allowed phrase (黄片 inside 三黄片)."""
    if not allowed or not hits:
        return hits
    return [
        h
        for h in hits
        if not any(
            a.message == h.message and a.norm_start <= h.norm_start and h.norm_end <= a.norm_end
            for a in allowed
        )
    ]
