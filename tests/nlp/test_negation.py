"""Polarity comparison: a message must negate what the example negates, no more, no less."""

from __future__ import annotations

import pytest

from qc_service.nlp.negation import clause, same_polarity


@pytest.mark.parametrize(
    ("message", "example"),
    [
        ("投资有风险，不保证收益", "保证收益"),
        ("投资有风险，不保证收益", "稳赚不赔"),
        ("这款产品不保本，可能会亏损", "绝对不会亏本"),
        ("过往业绩不代表未来表现", "保证收益"),
        ("理财非存款，产品有风险，投资须谨慎", "本金有保障"),
        ("我没办法跟您保证明天一定到", "保证明天一定送到"),
        ("收益我们没法保证，要看市场行情", "保证收益"),
    ],
)
def test_disclaimer_differs_from_the_promise(message: str, example: str) -> None:
    assert not same_polarity(message, example)


@pytest.mark.parametrize(
    ("message", "example"),
    [
        ("绝对不会亏本", "保证不亏"),  # RULES.md's own example
        ("包您不亏", "绝对不会亏本"),
        ("放心，不会让您亏的", "绝对不会亏本"),
        ("亏了算我的", "保证收益"),  # neither negates anything
        ("我们不收手续费，保证收益", "保证收益"),  # the negation is in another clause
        ("不好意思，保证明天送到", "保证明天一定送到"),  # 不好意思 is not a negation
        ("别家的都是假货", "他们家质量很差"),  # 别家 = other shops, not "don't"
    ],
)
def test_same_polarity_even_when_both_negate(message: str, example: str) -> None:
    assert same_polarity(message, example)


def test_scope_head_skips_function_characters() -> None:
    assert clause("不会让您亏的").negated == ("亏",)
    assert clause("不错，挺好").negated == ()
