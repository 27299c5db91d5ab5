"""Handler of the ``semantic`` operator: a message means what one of the rule's examples means,
with the same polarity (投资有风险，不保证收益 does not match 保证收益).

Why it only reads: embedding is the pipeline's job, done in the deep lane only and batched per
conversation (``qc_service.nlp.semantic.SemanticIndex``); the pipeline hands the index over as
``features["semantic"]``. The operator asks it per eligible message and turns its hits into
evidence: the sentence's character span in the original text, with the calibrated similarity as
the value. Without the feature the rule reports a per-stage error (stage ``semantic``), never a
silent "no violation" — on the alert path, for instance, where nothing is embedded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from qc_service.rules.compiled import EvalContext, Leaf
from qc_service.rules.model import Evidence
from qc_service.rules.operators import schemas  # noqa: F401  (specs are registered before handlers)
from qc_service.rules.registry import REGISTRY, MessageHits, OperatorUnavailable

UNIT = "similarity"


class Span(Protocol):
    """Where in a message the meaning was found."""

    start: int
    end: int
    text: str


class Hit(Protocol):
    """One matching sentence and its calibrated similarity."""

    @property
    def unit(self) -> Span: ...

    @property
    def score(self) -> float: ...


class SemanticFeature(Protocol):
    """What the pipeline provides: matching per message against a list of examples."""

    def match(
        self, message_id: str, examples: Sequence[str], threshold: float | None = None
    ) -> Sequence[Hit]: ...


def feature(ctx: EvalContext) -> SemanticFeature:
    """The conversation's semantic index, or the stage error saying why there is none."""
    index = ctx.features.get("semantic")
    if index is None:
        error = ctx.features.get("semantic_error")
        detail = error or "no sentence embeddings were computed for this conversation"
        raise OperatorUnavailable(f"semantic: {detail}", stage="semantic")
    return index  # type: ignore[no-any-return]


@REGISTRY.message_handler("semantic")
def semantic(leaf: Leaf, ctx: EvalContext) -> MessageHits:
    """Messages of the role with a sentence that matches an example (threshold, same polarity)."""
    index = feature(ctx)
    examples: list[str] = list(leaf.params["examples"])
    threshold = leaf.params.get("threshold")
    out: MessageHits = {}
    for i in ctx.eligible(leaf.role):
        msg = ctx.conversation.messages[i]
        hits = index.match(msg.id, examples, threshold)
        if hits:
            out[i] = [
                Evidence(
                    "span", msg.id, msg.role, start=h.unit.start, end=h.unit.end,
                    text=h.unit.text, value=h.score, unit=UNIT,
                )
                for h in hits
            ]  # fmt: skip
    return out
