"""Backtest core: how a draft rule set would behave on history, before it is published.

Why pure and streaming: the service feeds stored conversations one at a time (a progress bar,
interruptible) and reviewer verdicts on live findings; nothing here writes anything. Precision is
estimated only where reviewers have judged an overlapping live hit (same conversation and rule):
upheld counts as a true positive, overturned as a false one, with a Wilson 95 % interval.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from qc_service.rules.compiled import RuleSet
from qc_service.rules.evaluator import evaluate
from qc_service.rules.model import Conversation, RuleResult

Z95 = 1.959963984540054
SAMPLE_SIZE = 5


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (None without data)."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(slots=True)
class RuleBacktest:
    """One draft rule's behaviour on history."""

    rule_id: str
    hits: int = 0
    conversations: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)
    live_hits: int = 0
    new_hits: list[str] = field(default_factory=list)
    lost_hits: list[str] = field(default_factory=list)
    judged: int = 0
    upheld: int = 0
    live_judged: int = 0
    live_upheld: int = 0
    errors: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)
    _seen: int = 0

    def precision(self) -> dict[str, Any] | None:
        """Estimated precision of the draft where reviewers judged overlapping hits."""
        interval = wilson_interval(self.upheld, self.judged)
        if interval is None:
            return None
        return {"estimate": round(self.upheld / self.judged, 3), "low": round(interval[0], 3),
                "high": round(interval[1], 3), "judged": self.judged}  # fmt: skip

    def live_precision(self) -> dict[str, Any] | None:
        """The same for the live version (for comparison)."""
        interval = wilson_interval(self.live_upheld, self.live_judged)
        if interval is None:
            return None
        return {"estimate": round(self.live_upheld / self.live_judged, 3), "low": round(interval[0], 3),
                "high": round(interval[1], 3), "judged": self.live_judged}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Report shape (API and CLI)."""
        return {
            "rule_id": self.rule_id, "hits": self.hits, "conversations": len(self.conversations),
            "agents": len(self.agents), "live_hits": self.live_hits,
            "new_hits": sorted(self.new_hits), "lost_hits": sorted(self.lost_hits),
            "precision": self.precision(), "live_precision": self.live_precision(),
            "errors": self.errors, "sample": self.sample,
        }  # fmt: skip


@dataclass(slots=True)
class BacktestReport:
    """The whole backtest; ``complete`` is false when it was interrupted."""

    conversations: int = 0
    complete: bool = True
    rules: dict[str, RuleBacktest] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Report shape."""
        return {"conversations": self.conversations, "complete": self.complete,
                "rules": [r.to_dict() for r in self.rules.values()]}  # fmt: skip


def _fired(results: list[RuleResult]) -> dict[str, RuleResult]:
    return {r.rule_id: r for r in results if r.triggered and r.kind == "violation"}


def backtest(
    draft: RuleSet,
    live: RuleSet | None,
    conversations: Iterable[Conversation],
    verdicts: dict[tuple[str, str], str],
    *,
    rule_ids: set[str] | None = None,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> BacktestReport:
    """Run ``draft`` (and ``live``) over ``conversations`` without writing anything.

    ``verdicts`` maps (conversation id, rule id) of judged live violations to "upheld" or
    "overturned". A KeyboardInterrupt stops early with a partial report (``complete`` false).
    """
    rng = random.Random(seed)
    report = BacktestReport()
    wanted = {
        r.id
        for r in draft.rules
        if r.kind == "violation" and (rule_ids is None or r.id in rule_ids)
    }
    for rid in sorted(wanted):
        report.rules[rid] = RuleBacktest(rid)
    try:
        for conv in conversations:
            report.conversations += 1
            drafted = evaluate(draft, conv)
            fired = _fired(drafted)
            live_fired = _fired(evaluate(live, conv)) if live is not None else {}
            for result in drafted:
                if result.rule_id in wanted and result.error:
                    report.rules[result.rule_id].errors += 1
            for rid in wanted:
                stats = report.rules[rid]
                verdict = verdicts.get((conv.id, rid))
                if rid in live_fired:
                    stats.live_hits += 1
                    if verdict is not None:
                        stats.live_judged += 1
                        stats.live_upheld += verdict == "upheld"
                if rid not in fired:
                    if rid in live_fired:
                        stats.lost_hits.append(conv.id)
                    continue
                stats.hits += 1
                stats.conversations.add(conv.id)
                stats.agents.add(conv.employee_id)
                if rid not in live_fired:
                    stats.new_hits.append(conv.id)
                if verdict is not None:
                    stats.judged += 1
                    stats.upheld += verdict == "upheld"
                stats._seen += 1  # reservoir sample of hits with their evidence
                item = {
                    "conversation_id": conv.id,
                    "evidence": [e.to_dict() for e in fired[rid].evidence],
                }
                if len(stats.sample) < SAMPLE_SIZE:
                    stats.sample.append(item)
                else:
                    j = rng.randrange(stats._seen)
                    if j < SAMPLE_SIZE:
                        stats.sample[j] = item
            if progress is not None:
                progress(report.conversations)
    except KeyboardInterrupt:
        report.complete = False
    return report
