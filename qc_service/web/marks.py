"""Transcript lines with evidence spans cut out for ``<mark>`` (the review, conversation and
customer pages).

Why mask first and then cut: the mask keeps the length in code points, so the evidence offsets
still point at the same characters, and a number that straddles a span edge is still masked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from qc_service.rules.contact import mask_text_value


@dataclass(frozen=True, slots=True)
class Piece:
    text: str
    marked: bool


def pieces(
    text: str, spans: Iterable[tuple[int | None, int | None]], *, reveal: bool = False
) -> list[Piece]:
    """``text`` split into plain and marked pieces; overlapping spans merge, bad ones are dropped."""
    shown = text if reveal else mask_text_value(text)
    cuts = sorted((max(0, s), min(len(shown), e)) for s, e in spans
                  if s is not None and e is not None and e > s and s < len(shown))  # fmt: skip
    merged: list[list[int]] = []
    for s, e in cuts:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out, at = [], 0
    for s, e in merged:
        if s > at:
            out.append(Piece(shown[at:s], False))
        out.append(Piece(shown[s:e], True))
        at = e
    if at < len(shown) or not out:
        out.append(Piece(shown[at:], False))
    return out
