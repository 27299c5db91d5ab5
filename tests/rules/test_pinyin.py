"""keyword ``pinyin: true``: toneless pinyin of text and word, evidence in the original text."""

from __future__ import annotations

import pytest
from helpers import conv, rules, run_one, spans

from qc_service.rules.evaluator import evaluate, evaluate_hot
from qc_service.rules.pinyin import word_readings

A, C = "agent", "customer"
RED_PACKET = {"keyword": {"words": ["红包"], "pinyin": True}}


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        # RULES.md: 'hongbao', 'hong bao', 'hong包', and homophone Hanzi (宏包)
        ("hongbao", [("hongbao", 0, 7)]),
        ("hong bao", [("hong bao", 0, 8)]),
        ("hong包", [("hong包", 0, 5)]),
        ("宏包", [("宏包", 0, 2)]),
        ("红包", [("红包", 0, 2)]),
        ("紅*包", [("紅*包", 0, 3)]),  # evasion folding still applies
        ("给你发个HongBao吧", [("HongBao", 4, 11)]),
        ("ｈｏｎｇ-ｂａｏ", [("ｈｏｎｇ-ｂａｏ", 0, 8)]),
        ("你hongbao", [("hongbao", 1, 8)]),  # a Hanzi is a boundary for Latin text
        ("hongbao装好了", [("hongbao", 0, 7)]),
        ("红包装好了", [("红包", 0, 2)]),  # Hanzi words need no boundary (as without pinyin)
        ("hong包 and 宏包", [("hong包", 0, 5), ("宏包", 10, 12)]),
    ],
)
def test_pinyin_matches_with_original_spans(text: str, expect: list[tuple[str, int, int]]) -> None:
    result = run_one(rules({"when": RED_PACKET}), conv((A, text)))
    assert result.error is None
    assert [(e.text, e.start, e.end) for e in result.evidence] == expect


@pytest.mark.parametrize(
    "text",
    [
        "hong",  # a syllable alone is not the word
        "hongbaozhuang",  # Latin text must end at a Latin/digit boundary
        "nihongbao",  # … and start at one
        "hongbao2",
        "冲包",  # chongbao: a match starts on a syllable's first letter
        "chongbao",
        "红色的包",
    ],
)
def test_pinyin_does_not_overmatch(text: str) -> None:
    result = run_one(rules({"when": RED_PACKET}), conv((A, text)))
    assert result.error is None and not result.triggered, spans(result)


def test_pinyin_never_spans_two_messages_and_honours_roles() -> None:
    assert not run_one(rules({"when": RED_PACKET}), conv((A, "hong"), (A, "bao"))).triggered
    agent = {"keyword": {"words": ["红包"], "pinyin": True, "role": A}}
    assert not run_one(rules({"when": agent}), conv((C, "hongbao"))).triggered
    result = run_one(rules({"when": agent}), conv((C, "hongbao"), (A, "好的"), (A, "发hong包")))
    assert [(e.message_id, e.text, e.start) for e in result.evidence] == [("m3", "hong包", 1)]


def test_pinyin_allow_phrases_and_min_count() -> None:
    cond = {"keyword": {"words": ["红包"], "allow": ["红包雨"], "pinyin": True, "min_count": 2}}
    rs = rules({"when": cond})
    assert not run_one(rs, conv((A, "hongbao"), (A, "宏包雨来了"))).triggered  # allowed: 宏包雨
    result = run_one(rs, conv((A, "hongbao"), (A, "宏包")))
    assert spans(result) == ["hongbao", "宏包"]
    # both readings of a word finding one place count it once
    assert not run_one(rs, conv((A, "红包"))).triggered


def test_polyphones_read_the_common_reading_and_the_words_phrase_reading() -> None:
    assert word_readings("银行") == ["yinxing", "yinhang"]
    assert word_readings("hong 包") == ["hongbao"]
    assert word_readings("绿") == ["lv"]
    rs = rules({"when": {"keyword": {"words": ["银行"], "pinyin": True}}})
    for text in ["银行", "yinhang", "yin hang", "yinxing", "因行"]:
        assert run_one(rs, conv((A, text))).triggered, text
    assert run_one(rules({"when": {"keyword": {"words": ["绿"], "pinyin": True}}}), conv((A, "lü")))


def test_pinyin_rules_are_never_skipped_by_the_automaton_gate() -> None:
    rs = rules(
        {"when": RED_PACKET},
        {"when": {"keyword": {"words": ["返现"]}}},
    )
    first, second = evaluate(rs, conv((A, "fa ge hongbao")))
    assert first.triggered and not second.triggered
    (hot,) = [r for r in evaluate_hot(rs, conv((A, "hong包"))) if r.rule_id == "r0"]
    assert hot.triggered and spans(hot) == ["hong包"]


def test_without_pinyin_only_the_written_word_matches() -> None:
    rs = rules({"when": {"keyword": {"words": ["红包"]}}})
    assert not run_one(rs, conv((A, "hongbao"), (A, "宏包"))).triggered
