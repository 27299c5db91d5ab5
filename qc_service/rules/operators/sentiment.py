"""Handler of the ``sentiment`` operator: a message's (or a party's whole-conversation) value
crosses ``below`` / ``above`` (−1 … 1).

Why it only reads: the pipeline scores every non-system message with ``qc_service.nlp.sentiment``
and hands the values over as ``features["sentiment"] = {message_id: float}``; the operator never
loads a model. A conversation without these values gets a per-stage error (stage
``sentiment``), never a silent "no violation".

``level: conversation``: a role's value is the mean of its messages' values weighted by their
length in characters (stripped text; as ``SentimentModel.conversation_scores``). When it
crosses, the evidence is that role's (up to 3) most negative messages for ``below`` / most
positive for ``above``, the first carrying the conversation value.
"""

from __future__ import annotations

from collections.abc import Mapping

from qc_service.rules.compiled import EvalContext, Leaf
from qc_service.rules.model import Evidence
from qc_service.rules.operators import schemas  # noqa: F401  (specs are registered before handlers)
from qc_service.rules.registry import REGISTRY, MessageHits, OperatorUnavailable

UNIT = "sentiment"
MAX_EVIDENCE = 3


def message_values(ctx: EvalContext) -> Mapping[str, float]:
    """``message_id → value`` from the features; an error when the pipeline has none."""
    values = ctx.features.get("sentiment")
    if not isinstance(values, Mapping):
        error = ctx.features.get("sentiment_error")
        detail = error if error else "no sentiment values were computed for this conversation"
        raise OperatorUnavailable(f"sentiment: {detail}", stage="sentiment")
    return values


def _crosses(value: float, below: float | None, above: float | None) -> bool:
    return (below is not None and value < below) or (above is not None and value > above)


def _evidence(ctx: EvalContext, index: int, value: float | None) -> Evidence:
    msg = ctx.conversation.messages[index]
    rounded = None if value is None else round(value, 3)
    return Evidence("message", msg.id, msg.role, text=msg.text, value=rounded, unit=UNIT)


def _scored(ctx: EvalContext, indexes: list[int], values: Mapping[str, float]) -> list[int]:
    msgs = ctx.conversation.messages
    missing = [msgs[i].id for i in indexes if msgs[i].id not in values]
    if missing:
        raise OperatorUnavailable(
            f"sentiment: no value for message(s) {', '.join(missing[:5])}", stage="sentiment"
        )
    return indexes


@REGISTRY.message_handler("sentiment")
def sentiment(leaf: Leaf, ctx: EvalContext) -> MessageHits:
    """Messages of the role past the bound, or the role's conversation value past it."""
    values = message_values(ctx)
    below, above = leaf.params.get("below"), leaf.params.get("above")
    if leaf.params.get("level", "message") == "message":
        out: MessageHits = {}
        for i in _scored(ctx, ctx.eligible(leaf.role), values):
            value = float(values[ctx.conversation.messages[i].id])
            if _crosses(value, below, above):
                out[i] = [_evidence(ctx, i, value)]
        return out
    roles = ["agent", "customer"] if leaf.role == "any" else [leaf.role]
    out = {}
    for role in roles:
        indexes = _scored(ctx, ctx.eligible(role), values)
        msgs = ctx.conversation.messages
        weights = [len(msgs[i].text.strip()) for i in indexes]
        total = sum(weights)
        if total == 0:
            continue
        mean = sum(float(values[msgs[i].id]) * w for i, w in zip(indexes, weights, strict=True))
        mean /= total
        if not _crosses(mean, below, above):
            continue
        ranked = sorted(
            (i for i, w in zip(indexes, weights, strict=True) if w),
            key=lambda i: float(values[msgs[i].id]),
            reverse=below is None,
        )[:MAX_EVIDENCE]
        for rank, i in enumerate(ranked):
            out[i] = [_evidence(ctx, i, mean if rank == 0 else None)]
    return out
