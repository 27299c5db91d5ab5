"""The ``sentiment`` operator on values the pipeline supplies (``features["sentiment"]``)."""

from __future__ import annotations

from typing import Any

from helpers import conv, rules

from qc_service.rules.evaluator import evaluate
from qc_service.rules.model import Conversation, RuleResult

A, C = "agent", "customer"


def run(condition: dict[str, Any], conversation: Conversation, values: Any) -> RuleResult:
    features = None if values is None else {"sentiment": values}
    (result,) = evaluate(rules({"when": condition}), conversation, features=features)
    return result


CHAT = conv(
    (A, "您好，请问有什么可以帮您"),  # m1
    (C, "我要投诉，等了三天还没发货，太差了"),  # m2
    (A, "非常抱歉，马上为您催促"),  # m3
    (C, "好吧"),  # m4
    (C, "再这样我就退货了"),  # m5
)
VALUES = {"m1": 0.2, "m2": -0.9, "m3": 0.1, "m4": 0.4, "m5": -0.6}


def test_message_level_below_finds_the_roles_messages_with_values() -> None:
    result = run({"sentiment": {"below": -0.5, "role": C}}, CHAT, VALUES)
    assert result.error is None and result.triggered
    assert [e.message_id for e in result.evidence] == ["m2", "m5"]
    assert [e.value for e in result.evidence] == [-0.9, -0.6]
    assert {e.unit for e in result.evidence} == {"sentiment"}
    assert {e.kind for e in result.evidence} == {"message"}


def test_message_level_is_the_default_and_respects_role_and_above() -> None:
    assert not run({"sentiment": {"below": -0.5, "role": A}}, CHAT, VALUES).triggered
    result = run({"sentiment": {"above": 0.3}}, CHAT, VALUES)
    assert [e.message_id for e in result.evidence] == ["m4"]
    assert not run({"sentiment": {"below": -0.95}}, CHAT, VALUES).triggered


def test_conversation_level_uses_the_length_weighted_mean() -> None:
    # customer: (-0.9·17 + 0.4·2 - 0.6·8) / 27 ≈ -0.74, whereas the plain mean is ≈ -0.37
    cond = {"sentiment": {"below": -0.5, "level": "conversation", "role": C}}
    result = run(cond, CHAT, VALUES)
    assert result.error is None and result.triggered
    ids = [e.message_id for e in result.evidence]
    assert ids == ["m2", "m4", "m5"]  # evidence sorted by position; all 3 customer messages
    first = next(e for e in result.evidence if e.message_id == "m2")  # the most negative
    expected = (-0.9 * 17 + 0.4 * 2 - 0.6 * 8) / 27
    assert first.value == round(expected, 3) and first.unit == "sentiment"
    assert not run(
        {**cond, "sentiment": {**cond["sentiment"], "below": -0.8}}, CHAT, VALUES
    ).triggered


def test_conversation_level_above_takes_the_most_positive_messages() -> None:
    values = {"m1": 0.9, "m2": 0.1, "m3": 0.5, "m4": 0.0, "m5": 0.0}
    result = run({"sentiment": {"above": 0.3, "level": "conversation", "role": A}}, CHAT, values)
    assert result.triggered
    assert [e.message_id for e in result.evidence] == ["m1", "m3"]
    assert not run(
        {"sentiment": {"above": 0.3, "level": "conversation", "role": C}}, CHAT, values
    ).triggered


def test_conversation_level_evidence_is_capped_at_three() -> None:
    chat = conv(*[(C, f"不满意{i}") for i in range(6)])
    values = {f"m{i}": -0.1 * i for i in range(1, 7)}
    result = run({"sentiment": {"below": 0, "level": "conversation", "role": C}}, chat, values)
    assert sorted(e.message_id or "" for e in result.evidence) == ["m4", "m5", "m6"]


def test_missing_features_are_a_sentiment_stage_error() -> None:
    result = run({"sentiment": {"below": -0.5}}, CHAT, None)
    assert not result.triggered
    assert result.error and result.error.startswith("sentiment:") and result.stage == "sentiment"


def test_a_message_without_a_value_is_an_error_not_a_miss() -> None:
    result = run({"sentiment": {"below": -0.5}}, CHAT, {"m1": 0.0})
    assert result.stage == "sentiment" and result.error and "m2" in result.error
