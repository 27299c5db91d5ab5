"""One evaluator for both lanes: a conversation and a rule set in, rule results out.

Why results carry ``triggered`` and ``error`` separately: a rule whose operator could not run
(a feature missing, a bad option) must show up as a visible per-stage error, never as a
silent "no violation". Message-level ``all``/``any``/``not`` mean "in the same message";
over conversation-level conditions they combine conversation truths.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from qc_service.rules.compiled import (
    AllOf,
    AnyOf,
    CompiledRule,
    EvalContext,
    Leaf,
    Node,
    NotOf,
    RuleSet,
)
from qc_service.rules.model import Conversation, Evidence, RuleResult
from qc_service.rules.operators.text import message_evidence
from qc_service.rules.registry import MessageHits, OperatorUnavailable


def _unavailable(leaf: Leaf) -> OperatorUnavailable:
    if leaf.spec.feature:
        return OperatorUnavailable(
            f"{leaf.op}: the {leaf.spec.feature} feature is not available in this version",
            stage=leaf.spec.feature,
        )
    return OperatorUnavailable(f"{leaf.op}: not available in this version")


def eval_message_level(node: Node, ctx: EvalContext) -> MessageHits:
    """Message index → evidence for every message where a message-level condition holds."""
    if isinstance(node, Leaf):
        if node.spec.message_handler is None:
            raise _unavailable(node)
        return node.spec.message_handler(node, ctx)
    if isinstance(node, AnyOf):
        out: MessageHits = {}
        for child in node.children:
            for i, ev in eval_message_level(child, ctx).items():
                out.setdefault(i, []).extend(ev)
        return out
    if isinstance(node, AllOf):
        results = [eval_message_level(child, ctx) for child in node.children]
        common = set(results[0])
        for r in results[1:]:
            common &= set(r)
        return {i: [e for r in results for e in r[i]] for i in sorted(common)}
    inner = eval_message_level(node.child, ctx)
    return {i: [] for i in ctx.eligible("any") if i not in inner}


def _window(ctx: EvalContext) -> Evidence:
    msgs = ctx.conversation.messages
    return Evidence("window", message_ids=[msgs[i].id for i in ctx.eligible("any")])


def eval_conversation_level(node: Node, ctx: EvalContext) -> tuple[bool, list[Evidence]]:
    """Whether a condition holds for the conversation, with its evidence."""
    if node.level == "message":
        if isinstance(node, NotOf):  # a top-level not behaves like absent: decided on the final run
            if not ctx.conversation.final:
                return False, []
            hits = eval_message_level(node.child, ctx)
            return (not hits, [_window(ctx)] if not hits else [])
        hits = eval_message_level(node, ctx)
        evidence: list[Evidence] = []
        for i in sorted(hits):
            evidence.extend(hits[i] or [message_evidence(ctx, i)])
        return bool(hits), evidence
    if isinstance(node, Leaf):
        if node.spec.conversation_handler is None:
            raise _unavailable(node)
        return node.spec.conversation_handler(node, ctx)
    if isinstance(node, NotOf):
        held, _ = eval_conversation_level(node.child, ctx)
        return (not held, [_window(ctx)] if not held else [])
    if isinstance(node, AllOf):
        outcomes = [eval_conversation_level(child, ctx) for child in node.children]
        held = all(h for h, _ in outcomes)
        return held, [e for h, ev in outcomes if h for e in ev] if held else []
    outcomes = []
    failures: list[OperatorUnavailable] = []
    for child in node.children:
        try:
            outcomes.append(eval_conversation_level(child, ctx))
        except OperatorUnavailable as exc:
            failures.append(exc)
    held = any(h for h, _ in outcomes)
    if failures and not held:
        raise failures[0]
    ctx.errors.extend(str(f) for f in failures)
    return held, [e for h, ev in outcomes if h for e in ev] if held else []


def tidy_evidence(evidence: Iterable[Evidence]) -> list[Evidence]:
    """De-duplicate; drop a span wholly inside a longer span of the same message, and a
    whole-message item where spans of that message already point at the place."""
    unique = list({e.key(): e for e in evidence}.values())
    spans = [e for e in unique if e.kind == "span"]
    spanned = {e.message_id for e in spans}
    out = []
    for e in unique:
        if e.kind == "message" and e.message_id in spanned:
            continue
        if e.kind == "span" and any(
            o is not e
            and o.message_id == e.message_id
            and o.start is not None and e.start is not None and o.end is not None and e.end is not None
            and o.start <= e.start and e.end <= o.end
            and (o.end - o.start) > (e.end - e.start)
            for o in spans
        ):  # fmt: skip
            continue
        out.append(e)
    return out


def evaluate_rule(rule: CompiledRule, ctx: EvalContext, node: Node | None = None) -> RuleResult:
    """One rule (or the given part of its condition) on one prepared conversation; operator
    failures become the result's error."""
    result = RuleResult(rule.id, rule.version, rule.kind, triggered=False)
    node = node or rule.when
    if node is None:
        result.error = "this tag rule's qa/group mapping is not available in this version"
        result.stage = "tagging"
        return result
    ctx.errors.clear()
    ctx.evaluate_messages = eval_message_level
    started = time.perf_counter()
    try:
        held, evidence = eval_conversation_level(node, ctx)
    except OperatorUnavailable as exc:
        result.error, result.stage = str(exc), exc.stage
        return result
    elapsed = time.perf_counter() - started
    if elapsed > ctx.budget_seconds:  # RE2 keeps regexes linear; this catches everything else
        ctx.errors.append(
            f"took {elapsed * 1000:.0f} ms on this conversation, over the per-rule budget of "
            f"{ctx.budget_seconds * 1000:.0f} ms"
        )
    if ctx.errors:  # another branch of an any held, or over budget: a finding, and a visible error
        result.error = "; ".join(ctx.errors)
    if held:
        order = {m.id: i for i, m in enumerate(ctx.conversation.messages)}
        result.triggered = True
        result.evidence = sorted(
            tidy_evidence(evidence),
            key=lambda e: (order.get(e.message_id or "", -1), e.start or 0, e.t_start or 0.0),
        )
    return result


def evaluate(
    ruleset: RuleSet,
    conversation: Conversation,
    *,
    features: dict[str, Any] | None = None,
    hot_only: bool = False,
) -> list[RuleResult]:
    """Evaluate every enabled rule whose scope covers the conversation.

    ``hot_only`` restricts to rules the hot lane can run (message-level and lexical).
    """
    ctx = ruleset.context(conversation, features)
    with_hits = ctx.hits.keys()
    results = []
    for rule in ruleset.rules:
        if not rule.enabled or (hot_only and not rule.hot):
            continue
        if (rule.channels or rule.teams) and not rule.applies_to(conversation):
            continue
        gate = rule.gate
        if gate is not None and with_hits.isdisjoint(gate):
            results.append(RuleResult(rule.id, rule.version, rule.kind, False))
        else:
            results.append(evaluate_rule(rule, ctx))
    return results


def evaluate_hot(ruleset: RuleSet, conversation: Conversation) -> list[RuleResult]:
    """The hot lane: every enabled violation rule's hot part (see ``CompiledRule.hot_when``)."""
    ctx = ruleset.context(conversation)
    with_hits = ctx.hits.keys()
    results = []
    for rule in ruleset.rules:
        if not rule.enabled or rule.kind != "violation" or rule.hot_when is None:
            continue
        if (rule.channels or rule.teams) and not rule.applies_to(conversation):
            continue
        if rule.gate is not None and rule.hot_when is rule.when and with_hits.isdisjoint(rule.gate):
            continue
        results.append(evaluate_rule(rule, ctx, rule.hot_when))
    return results
