"""Hot words: TF-IDF keywords per group of messages (a team, or a team in a period).

Why one document per group: the question managers ask is "what does this team hear that the
others do not". Joining a group's messages into one document makes the term frequency the
group's own word counts and the IDF a measure of how specific a word is to few groups; words
every group uses (课程, 老师 …) sink. With a single group the IDF is flat and the ranking is by
frequency alone.

Scores are scikit-learn's ``TfidfVectorizer`` defaults (smoothed IDF, L2-normalised rows) with
sublinear TF, so one chatty conversation repeating a word cannot dominate its team.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer


class _Tokenizes(Protocol):
    def tokens(self, text: str) -> list[str]: ...


def hot_words(
    docs_by_group: Mapping[str, Sequence[str]],
    tokenizer: _Tokenizes,
    top_k: int = 20,
) -> dict[str, list[tuple[str, float]]]:
    """The ``top_k`` TF-IDF words of each group, best first (ties by word); ``[]`` for a group
    without words."""
    groups = list(docs_by_group)
    out: dict[str, list[tuple[str, float]]] = {g: [] for g in groups}
    token_lists = [[t for text in docs_by_group[g] for t in tokenizer.tokens(text)] for g in groups]
    if top_k <= 0 or not any(token_lists):
        return out
    identity: Callable[[list[str]], list[str]] = _identity
    vectorizer = TfidfVectorizer(analyzer=identity, sublinear_tf=True)
    matrix = vectorizer.fit_transform(token_lists).tocsr()
    vocabulary = vectorizer.get_feature_names_out()
    for row, group in enumerate(groups):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        cols = matrix.indices[start:end]
        scores = matrix.data[start:end]
        order = np.lexsort((vocabulary[cols], -scores))[:top_k]
        out[group] = [(str(vocabulary[cols[i]]), round(float(scores[i]), 6)) for i in order]
    return out


def _identity(tokens: list[str]) -> list[str]:
    return tokens
