"""The tokenizer keeps lexicon phrases whole (also in traditional script) and drops stop words."""

from __future__ import annotations

from qc_service.nlp.tokenizer import STOP_WORDS, Tokenizer, get_tokenizer


def test_domain_word_stays_one_token() -> None:
    plain = Tokenizer()
    assert "稳赚不赔" not in plain.tokens("这个产品稳赚不赔")
    domain = get_tokenizer(["稳赚不赔"])
    assert domain.tokens("这个产品稳赚不赔的") == ["产品", "稳赚不赔"]


def test_traditional_is_simplified_before_segmentation() -> None:
    assert "稳赚不赔" in get_tokenizer(["稳赚不赔"]).tokens("這個產品穩賺不賠！")


def test_stop_words_punctuation_and_single_characters_are_dropped() -> None:
    tokens = get_tokenizer().tokens("好的，您好啊！我想问一下退款 吗? OK 1 2")
    assert "退款" in tokens and "ok" in tokens
    assert not set(tokens) & STOP_WORDS
    assert all(len(t) >= 2 for t in tokens)
    assert not any(t in {"，", "！", "?", " "} for t in tokens)


def test_factory_builds_once_per_word_set() -> None:
    assert get_tokenizer(["稳赚不赔"]) is get_tokenizer(("稳赚不赔",))
    assert get_tokenizer(["稳赚不赔"]) is not get_tokenizer()
