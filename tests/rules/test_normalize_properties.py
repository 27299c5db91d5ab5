"""Property tests: whatever separators are inserted into a word, it is found, and its span
maps back to exactly the original characters (first letter to last, separators included)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qc_service.rules.matcher import Matcher
from qc_service.rules.normalize import fold_word, normalize_batch

HANZI = "红包返现稳赚不赔保本微信加我傻逼中国人你好"
LATIN = "abcdefghijklmnopqrstuvwxyz0123456789"
SEPARATORS = (
    " *@#.,，。！!?？-_+=/\\|[]【】()（）<>《》~`'\"“”‘’·…😀🧧👍\u200b\u200c\u200d\ufeff\t\u3000"
)
CONTEXT = HANZI + "，。！？ 😀" + "的了是在有"
VARIANTS = {
    "红": "紅",
    "现": "現",
    "赚": "賺",
    "赔": "賠",
    "a": "Ａ",
    "b": "ⓑ",
    "c": "C",
    "1": "①",
    "5": "５",
}

word_st = st.one_of(
    st.text(alphabet=HANZI, min_size=2, max_size=5),
    st.text(alphabet=LATIN, min_size=2, max_size=6),
    st.tuples(
        st.text(alphabet=LATIN, min_size=1, max_size=3),
        st.text(alphabet=HANZI, min_size=1, max_size=3),
    ).map("".join),
)


@st.composite
def evaded(draw: st.DrawFn) -> tuple[str, str, int, int]:
    """(word, text, start, end): the word written with variants and separators, in context."""
    word = draw(word_st)
    parts = []
    for i, ch in enumerate(word):
        if draw(st.booleans()) and ch in VARIANTS:
            ch = VARIANTS[ch]
        parts.append(ch)
        if i < len(word) - 1:
            parts.append(draw(st.text(alphabet=SEPARATORS, max_size=4)))
    surface = "".join(parts)
    prefix = draw(st.text(alphabet=CONTEXT, max_size=10))
    suffix = draw(st.text(alphabet=CONTEXT, max_size=10))
    return word, prefix + surface + suffix, len(prefix), len(prefix) + len(surface)


@settings(max_examples=400, deadline=None)
@given(evaded())
def test_separators_inside_a_word_are_seen_through(case: tuple[str, str, int, int]) -> None:
    word, text, start, end = case
    matcher = Matcher([fold_word(word)])
    hits = [(h.start, h.end) for h in matcher.find(normalize_batch([text]))]
    assert (start, end) in hits, f"{word!r} not found at {start}:{end} in {text!r}: {hits}"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=6))
def test_offsets_map_every_kept_character_back(texts: list[str]) -> None:
    batch = normalize_batch(texts)
    parts = batch.text.split("\x01")
    assert len(parts) == len(texts)
    for i, (norm, orig) in enumerate(zip(parts, texts, strict=True)):
        for j in range(len(norm)):
            pos = batch.starts[i] + j
            assert batch.message_at(pos) == i
            o_start, o_end = batch.original_span(i, pos, pos + 1)
            assert o_end == o_start + 1
            assert fold_word(orig[o_start]) == norm[j]


@given(
    st.text(alphabet=HANZI, min_size=2, max_size=4), st.text(alphabet=HANZI, min_size=1, max_size=2)
)
def test_hanzi_are_never_skipped(word: str, inserted: str) -> None:
    text = word[0] + inserted + word[1:]
    if word in text:
        return  # the insertion happened to recreate the word elsewhere
    matcher = Matcher([word])
    hits = matcher.find(normalize_batch([text]))
    assert all(text[h.start : h.end] == word for h in hits)


def test_fold_for_embeddings_keeps_clause_commas_and_english_spaces() -> None:
    from qc_service.rules.normalize import fold_keep_clauses

    assert fold_keep_clauses("穩.賺.不.賠的，错过😊就没了") == "稳赚不赔的，错过就没了"
    assert fold_keep_clauses("保 本 保 息") == "保本保息"
    assert fold_keep_clauses("Never LOSE money") == "never lose money"
