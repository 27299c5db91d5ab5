"""Scorecards: 100 minus deductions, floored at 0; a fatal rule makes it 0.

Why a pure function of the fired rules: the score is derived state. Re-analysis, an overturned
violation or a rule change recompute it from the violations that stand, never by patching a
stored number.
"""

from __future__ import annotations

from collections.abc import Iterable

from qc_service.rules.compiled import RuleSet
from qc_service.rules.model import Score, ScoreItem

FULL_MARKS = 100


def score_conversation(
    ruleset: RuleSet, fired_rule_ids: Iterable[str], *, complete: bool = True
) -> Score:
    """The scorecard for the violation rules that stand on a conversation."""
    items: list[ScoreItem] = []
    for rule_id in dict.fromkeys(fired_rule_ids):
        try:
            rule = ruleset.get(rule_id)
        except KeyError:
            continue
        if rule.kind != "violation" or not (rule.deduct or rule.fatal):
            continue
        items.append(ScoreItem(rule.id, rule.deduct, rule.fatal))
    return score_items(items, ruleset.pass_mark, complete=complete)


def score_items(items: list[ScoreItem], pass_mark: int, *, complete: bool = True) -> Score:
    """The scorecard for deductions that stand (a stored violation's own deduct/fatal)."""
    score = max(0, FULL_MARKS - sum(i.deduct for i in items))
    if any(i.fatal for i in items):
        score = 0
    return Score(score, pass_mark, score >= pass_mark, complete, items)
