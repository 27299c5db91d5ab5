"""The violation lifecycle's states."""

from __future__ import annotations

from enum import StrEnum


class ViolationStatus(StrEnum):
    """open → appealed → upheld | overturned; open → upheld | overturned (decided without an
    appeal); open → confirmed (appeal window passed, or a reviewer's spot check)."""

    OPEN = "open"
    APPEALED = "appealed"
    UPHELD = "upheld"
    OVERTURNED = "overturned"
    CONFIRMED = "confirmed"


TRANSITIONS: frozenset[tuple[ViolationStatus, ViolationStatus]] = frozenset({
    (ViolationStatus.OPEN, ViolationStatus.APPEALED),
    (ViolationStatus.APPEALED, ViolationStatus.UPHELD),
    (ViolationStatus.APPEALED, ViolationStatus.OVERTURNED),
    (ViolationStatus.OPEN, ViolationStatus.UPHELD),
    (ViolationStatus.OPEN, ViolationStatus.OVERTURNED),
    (ViolationStatus.OPEN, ViolationStatus.CONFIRMED),
})  # fmt: skip
"""Every allowed (previous, next) pair; anything else is refused with INVALID_TRANSITION."""

DECIDED = frozenset({ViolationStatus.UPHELD, ViolationStatus.OVERTURNED, ViolationStatus.CONFIRMED})
JUDGED = (ViolationStatus.UPHELD, ViolationStatus.OVERTURNED)
"""Reviewer verdicts on a finding's correctness (the feedback model's labels)."""
PENDING = (ViolationStatus.OPEN, ViolationStatus.APPEALED)
"""Findings a reviewer still acts on (what the overturn-risk order ranks)."""
