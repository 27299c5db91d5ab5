"""Handlers of conversation-level operators that need only the messages themselves.

This version: ``repetition``. (The other text-and-time operators of RULES.md arrive with the
rule-language issue; until then they report "not available in this version".)
"""

from __future__ import annotations

from collections import defaultdict

from qc_service.rules.compiled import EvalContext, Leaf
from qc_service.rules.model import Evidence
from qc_service.rules.normalize import fold_word
from qc_service.rules.operators import schemas  # noqa: F401  (specs are registered before handlers)
from qc_service.rules.registry import REGISTRY


@REGISTRY.conversation_handler("repetition")
def repetition(leaf: Leaf, ctx: EvalContext) -> tuple[bool, list[Evidence]]:
    """The same sentence (folded, punctuation ignored) sent ``min_times`` or more by one role."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    msgs = ctx.conversation.messages
    for i in ctx.eligible(leaf.role):
        key = fold_word(msgs[i].text)
        if key:
            groups[(msgs[i].role, key)].append(i)
    evidence: list[Evidence] = []
    for indexes in groups.values():
        if len(indexes) >= leaf.params["min_times"]:
            for i in indexes:
                evidence.append(
                    Evidence(
                        "message",
                        msgs[i].id,
                        msgs[i].role,
                        text=msgs[i].text,
                        value=len(indexes),
                        unit="times",
                    )
                )
    return bool(evidence), evidence
