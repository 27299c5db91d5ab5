"""Small builders shared by the rule tests: a rule set from a dict, a conversation from texts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from qc_service.rules.compiled import RuleSet
from qc_service.rules.evaluator import evaluate
from qc_service.rules.loader import load_rules_data
from qc_service.rules.model import Conversation, Message, RuleResult


def rules(*rule_dicts: dict[str, Any], **top: Any) -> RuleSet:
    """A rule set from rule mappings (ids/names filled in when missing)."""
    out = []
    for i, r in enumerate(rule_dicts):
        out.append({"id": f"r{i}", "name": f"rule {i}", **r})
    return load_rules_data({"version": 1, "rules": out, **top})


def conv(
    *messages: tuple[str, str] | tuple[str, str, str], channel: str = "wechat"
) -> Conversation:
    """A conversation from ``(role, text)`` or ``(role, text, type)`` tuples; ids m1, m2, …"""
    msgs = []
    for i, m in enumerate(messages, start=1):
        role, text = m[0], m[1]
        mtype = m[2] if len(m) > 2 else "text"
        msgs.append(Message(f"m{i}", role, text, mtype))
    return Conversation("c1", channel, msgs, customer_id="u1", employee_id="e1")


def run_one(ruleset: RuleSet, conversation: Conversation) -> RuleResult:
    """The single rule's result."""
    (result,) = evaluate(ruleset, conversation)
    return result


def spans(result: RuleResult) -> list[str]:
    """Evidence texts, in order."""
    return [e.text or "" for e in result.evidence]


def assert_matches(
    condition: dict[str, Any], *messages: tuple[str, str], expect: list[str] | None = None
) -> None:
    """The condition fires (and, when given, with exactly these evidence texts)."""
    result = run_one(rules({"when": condition}), conv(*messages))
    assert result.error is None, result.error
    assert result.triggered, f"{condition} did not fire on {messages}"
    if expect is not None:
        assert spans(result) == expect


def assert_no_match(condition: dict[str, Any], *messages: tuple[str, str]) -> None:
    """The condition does not fire."""
    result = run_one(rules({"when": condition}), conv(*messages))
    assert result.error is None, result.error
    assert not result.triggered, f"{condition} fired on {messages}: {spans(result)}"


def shared_data() -> Path:
    """``../shared/data`` beside the checkout (or $QC_SHARED_DATA); skips where absent."""
    root = Path(
        os.environ.get(
            "QC_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"
        )
    )
    if not root.is_dir():
        pytest.skip(f"shared data not found at {root} (set QC_SHARED_DATA)")
    return root
