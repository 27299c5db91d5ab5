"""One evaluator for both lanes: a conversation and a rule set in, rule results out.

Why results carry ``triggered`` and ``error`` separately: a rule whose operator could not run
(a feature missing, a bad option) must show up as a visible per-stage error, never as a
silent "no violation". Message-level ``all``/``any``/``not`` mean "in the same message";
over conversation-level conditions they combine conversation truths.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from qc_service.nlp.values import Value, extract
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
from qc_service.rules.operators.conversation import turn_of, turns
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


QA_TURNS = 2
"""A question's answer is looked for in the customer's messages of the next two turns."""


@dataclass(slots=True)
class QaAnswer:
    """The answer a ``qa`` tag rule found: the value, the tag it maps to (None: no map item
    matched) and the evidence (the question, then the reply with the value's span)."""

    value: Value
    tag: str | None
    evidence: list[Evidence]


def qa_tag(items: list[dict[str, Any]], value: Value) -> str | None:
    """The tag of the first map item the value satisfies (``range`` inclusive, ``equals``)."""
    v = value.value
    for item in items:
        if "range" in item:
            low, high = item["range"]
            if isinstance(v, int | float) and not isinstance(v, bool) and low <= v <= high:
                return str(item["tag"])
        elif value.kind == "yes_no":
            if isinstance(v, bool) and item["equals"] in ((True, "yes") if v else (False, "no")):
                return str(item["tag"])
        elif isinstance(v, int | float) and not isinstance(v, bool):
            expected = item["equals"]
            if (
                isinstance(expected, int | float)
                and not isinstance(expected, bool)
                and expected == v
            ):
                return str(item["tag"])
        elif str(item["equals"]).strip().removesuffix("市") == str(v):
            return str(item["tag"])
    return None


def evaluate_qa(rule: CompiledRule, ctx: EvalContext) -> QaAnswer | None:
    """A ``qa`` tag rule on a conversation (RULES.md "Tag rules").

    Every agent message where ``qa.question`` holds (message level) asks; the customer's messages
    in the next ``QA_TURNS`` turns after the question's turn (that is the customer's next turn)
    are read in order, and the first value of the asked kind is the answer. Of several answered
    questions the last one wins (the newest information); a reply without a value answers
    nothing. Relative dates count from the reply's ``ts`` when it has one.
    """
    spec: dict[str, Any] = rule.extra["qa"]
    kind = str(spec["answer"]["extract"])
    msgs = ctx.conversation.messages
    hits = eval_message_level(rule.extra["qa_question"], ctx)
    all_turns, turn = turns(ctx), turn_of(ctx)
    found: QaAnswer | None = None
    for q in sorted(i for i in hits if msgs[i].role == "agent"):
        t = turn[q]
        replies = [
            i
            for members in all_turns[t + 1 : t + 1 + QA_TURNS]
            for i in members
            if msgs[i].role == "customer"
        ]
        for i in replies:
            msg = msgs[i]
            value = extract(kind, msg.text, today=msg.ts.date() if msg.ts else None)
            if value is None:
                continue
            number = value.value
            reply = Evidence(
                "message", msg.id, msg.role, start=value.start, end=value.end,
                text=msg.text[value.start : value.end],
                value=number if isinstance(number, int | float) and not isinstance(number, bool) else None,
                unit=value.unit,
            )  # fmt: skip
            asked = list(hits[q]) or [message_evidence(ctx, q)]
            found = QaAnswer(value, qa_tag(spec["map"], value), [*asked, reply])
            break
    return found


def evaluate_rule(rule: CompiledRule, ctx: EvalContext, node: Node | None = None) -> RuleResult:
    """One rule (or the given part of its condition) on one prepared conversation; operator
    failures become the result's error.

    A ``qa`` tag rule holds when its ``when`` (if any) holds and its question was answered with
    a value that maps to a tag (see ``evaluate_qa``); ``group``-only rules are driven by events.
    """
    result = RuleResult(rule.id, rule.version, rule.kind, triggered=False)
    qa = node is None and "qa_question" in rule.extra
    node = node or rule.when
    if node is None and not qa:
        result.error = "this tag rule's group mapping is driven by group events, not conversations"
        result.stage = "tagging"
        return result
    ctx.errors.clear()
    ctx.evaluate_messages = eval_message_level
    started = time.perf_counter()
    qa_evidence: list[Evidence] = []
    qa_tag_found: str | None = None
    try:
        held, evidence = eval_conversation_level(node, ctx) if node is not None else (True, [])
        if held and qa:
            answer = evaluate_qa(rule, ctx)
            held = answer is not None and answer.tag is not None
            qa_evidence = answer.evidence if answer is not None else []
            qa_tag_found = answer.tag if answer is not None else None
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
    result.tag = qa_tag_found
    if held:
        order = {m.id: i for i, m in enumerate(ctx.conversation.messages)}
        result.triggered = True
        result.evidence = (
            sorted(
                tidy_evidence(evidence),
                key=lambda e: (order.get(e.message_id or "", -1), e.start or 0, e.t_start or 0.0),
            )
            + qa_evidence
        )  # qa evidence as found: the question, then the reply with the value
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
