"""A conversation's transcript as the pages show it: each line with its evidence marked.

Why in review: the marks are violation evidence (and, for sales, tag evidence passed in as plain
spans); the pages only render the pieces.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from qc_service.conversations.models import Conversation
from qc_service.review.models import Violation
from qc_service.web.marks import Piece, pieces

Span = tuple[int | None, int | None]


@dataclass(slots=True)
class Line:
    id: str
    role: str
    ts: datetime | None
    start: float | None
    """Seconds into the call (call transcripts), else None."""
    pieces: list[Piece]
    marked: bool


def transcript_lines(
    conv: Conversation,
    violations: Sequence[Violation] = (),
    extra_spans: Iterable[tuple[str, Span]] = (),
) -> list[Line]:
    """Every message, with the spans of ``violations``' evidence (and ``extra_spans``: message id,
    span) marked; whole-message evidence marks the whole line."""
    spans: dict[str, list[Span]] = defaultdict(list)
    for v in violations:
        for e in v.evidence:
            if e.message_external_id:
                spans[e.message_external_id].append(
                    (e.start, e.end) if e.start is not None else (0, 10**9)
                )
    for message_id, span in extra_spans:
        spans[message_id].append(span)
    return [
        Line(
            m.external_id,
            m.role,
            m.ts,
            (m.extra or {}).get("start"),
            pieces(m.text or "", spans.get(m.external_id, [])),
            m.external_id in spans,
        )  # fmt: skip
        for m in conv.messages
    ]
