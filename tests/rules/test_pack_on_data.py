"""The built-in pack: every labelled red line of the demo set caught (evaded ones included),
no near-miss flagged, and real service dialogues (JDDC, STC-3) left alone."""

from __future__ import annotations

import pytest
from helpers import shared_data

from bench.pack_report import demo_confusion, flagged, jddc, stc3


def test_demo_set_labels_are_all_caught_and_nothing_else() -> None:
    assert demo_confusion() == {"tp": 77, "fp": 0, "fn": 0}


@pytest.mark.shared_data
def test_pack_does_not_fire_on_jd_customer_service() -> None:
    n, hits = flagged(jddc(shared_data() / "jddc2019_cs_chat_sample" / "chat_sessions.jsonl"))
    assert n == 994
    assert hits == {}


@pytest.mark.shared_data
def test_pack_on_weibo_helpdesks_flags_only_the_two_known_cases() -> None:
    """Reviewed by hand: an agent asking the customer to add a QQ "我帮您看一下" (arguably a real
    off-platform move) and a platform promotion page named 千元红包天天有 (a known false positive
    a keyword cannot tell from a lure; the semantic lane will)."""
    n, hits = flagged(
        stc3(shared_data() / "stc3_weibo_helpdesk_dialogues" / "train_data_cn_compact.jsonl")
    )
    assert n == 3700
    assert {rule: [cid for cid, _, _ in rows] for rule, rows in hits.items()} == {
        "redline.private-contact": ["3628324125264947"],
        "redline.red-packet": ["3800312194283712"],
    }
