"""From rule results to findings: violations, tags, the score and per-stage errors.

Why in the pure library: ``qc analyze`` (stateless) and the pipeline (stored) must print and
store exactly the same findings; both call ``analyze`` and serialise with ``finding_lines``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from qc_service.rules.compiled import CompiledRule, RuleSet
from qc_service.rules.evaluator import evaluate
from qc_service.rules.model import Conversation, Evidence, Message, RuleResult, Score
from qc_service.rules.scorecard import score_conversation


@dataclass(slots=True)
class TagFinding:
    """A tag put on (or taken off) a customer, with why."""

    action: str
    customer_id: str
    tag: str
    rule_id: str
    rule_version: int
    source: str
    evidence: list[Evidence]


@dataclass(slots=True)
class AggregateHit:
    """This conversation's matches of an aggregate tag rule (the threshold is decided on the
    customer's whole history by the caller, see ``rules.aggregate.reached``)."""

    rule_id: str
    rule_version: int
    tag: str
    customer_id: str
    hits: list[tuple[str, datetime, Evidence]]
    """(message id, ts, evidence) per distinct matching message."""


@dataclass(slots=True)
class StageError:
    """One stage of one conversation failed; the other stages still ran."""

    stage: str
    message: str
    rule_id: str | None = None


@dataclass(slots=True)
class Analysis:
    """Everything the rule stage found in one conversation."""

    conversation_id: str
    violations: list[RuleResult] = field(default_factory=list)
    tags: list[TagFinding] = field(default_factory=list)
    errors: list[StageError] = field(default_factory=list)
    score: Score | None = None
    aggregate_hits: list[AggregateHit] = field(default_factory=list)


def _audio_seconds(evidence: list[Evidence], transcribed: dict[str, Message]) -> None:
    """Give text evidence on machine-transcribed messages the seconds of its characters (a span)
    or of the utterance (a whole message), so the review page can play the moment."""
    for ev in evidence:
        m = transcribed.get(ev.message_id or "")
        if m is None or m.char_times is None or ev.t_start is not None:
            continue
        if ev.kind == "span" and ev.start is not None and ev.end is not None:
            times = [t for t in m.char_times[ev.start : ev.end] if t is not None]
            if times:
                ev.t_start = round(min(t[0] for t in times), 2)
                ev.t_end = round(max(t[1] for t in times), 2)
        elif ev.kind == "message":
            ev.t_start, ev.t_end = m.start, m.end


def analyze(
    ruleset: RuleSet,
    conversation: Conversation,
    *,
    features: dict[str, Any] | None = None,
    stage_errors: list[StageError] | None = None,
) -> Analysis:
    """Evaluate every rule, derive tag findings and the scorecard."""
    out = Analysis(conversation.id, errors=list(stage_errors or []))
    transcribed = {m.id: m for m in conversation.messages if m.char_times}
    for result in evaluate(ruleset, conversation, features=features):
        rule = ruleset.get(result.rule_id)
        if transcribed:
            _audio_seconds(result.evidence, transcribed)
        if rule.when is None and "group" in rule.extra and "qa" not in rule.extra:
            continue  # driven by group join/leave events, not by conversations
        if result.error:
            out.errors.append(StageError(result.stage, f"{rule.id}: {result.error}", rule.id))
        if not result.triggered:
            continue
        if rule.kind == "violation":
            out.violations.append(result)
        elif "qa_question" in rule.extra and result.tag is not None:  # the answer picked the tag
            out.tags.append(
                TagFinding(
                    "add",
                    conversation.customer_id,
                    result.tag,
                    rule.id,
                    rule.version,
                    "qa",
                    result.evidence,
                )
            )
        elif rule.tag and "aggregate" in rule.extra:
            _aggregate(out, conversation, rule, result.evidence)
        elif rule.tag:
            out.tags.append(
                TagFinding(
                    "add",
                    conversation.customer_id,
                    rule.tag,
                    rule.id,
                    rule.version,
                    "rule",
                    result.evidence,
                )
            )
    out.score = score_conversation(
        ruleset, [v.rule_id for v in out.violations], complete=not out.errors
    )
    return out


def _aggregate(
    out: Analysis, conversation: Conversation, rule: CompiledRule, evidence: list[Evidence]
) -> None:
    ts_of = {m.id: m.ts for m in conversation.messages}
    hits: list[tuple[str, datetime, Evidence]] = []
    seen: set[str] = set()
    for ev in evidence:
        mid = ev.message_id
        if mid is None or mid in seen:
            continue
        ts = ts_of.get(mid)
        if ts is None:
            out.errors.append(
                StageError(
                    "tagging",
                    f"{rule.id}: aggregate needs message ts (message {mid} has none)",
                    rule.id,
                )
            )
            return
        seen.add(mid)
        hits.append((f"{conversation.id}/{mid}", ts, ev))
    if rule.tag is not None and hits:
        out.aggregate_hits.append(
            AggregateHit(rule.id, rule.version, rule.tag, conversation.customer_id, hits)
        )


def finding_lines(analysis: Analysis, ruleset: RuleSet) -> list[dict[str, Any]]:
    """The findings lines of ARCHITECTURE.md for one analysed conversation."""
    lines: list[dict[str, Any]] = []
    cid = analysis.conversation_id
    for v in analysis.violations:
        rule = ruleset.get(v.rule_id)
        lines.append({
            "type": "violation", "conversation_id": cid, "rule_id": v.rule_id,
            "rule_version": v.rule_version, "severity": rule.severity,
            "evidence": [e.to_dict() for e in v.evidence],
        })  # fmt: skip
    for t in analysis.tags:
        lines.append({
            "type": "tag", "action": t.action, "customer_id": t.customer_id, "conversation_id": cid,
            "tag": t.tag, "rule_id": t.rule_id, "rule_version": t.rule_version, "source": t.source,
            "evidence": [e.to_dict() for e in t.evidence],
        })  # fmt: skip
    if analysis.score is not None:
        s = analysis.score
        lines.append({
            "type": "score", "conversation_id": cid, "score": s.score, "pass_mark": s.pass_mark,
            "passed": s.passed, "complete": s.complete, "items": [i.to_dict() for i in s.items],
        })  # fmt: skip
    for e in analysis.errors:
        lines.append(
            {"type": "error", "conversation_id": cid, "stage": e.stage, "message": e.message}
        )
    return lines
