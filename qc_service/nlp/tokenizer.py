"""Chinese word segmentation for keyword statistics: jieba plus a domain dictionary.

Why a domain dictionary: jieba's general dictionary cuts compliance phrases such as 稳赚不赔 into
pieces (稳赚 / 不赔), so hot-word counts and anything keyed on words would never see the phrase
the rules look for. Every word of the tenant's active lexicons is added with a high frequency
(at least what jieba's ``suggest_freq`` says it takes to keep the word whole), so it stays one
token.

Why a private ``jieba.Tokenizer()``: words added to jieba's global instance would leak between
tenants and rule-set versions; each ``Tokenizer`` owns its dictionary.

Order of work in :meth:`Tokenizer.tokens`: OpenCC t2s (穩賺不賠 → 稳赚不赔) and lower case, then
jieba, then the filter: stop words (:data:`STOP_WORDS`), tokens without a letter or Hanzi
(punctuation, whitespace, bare numbers) and tokens shorter than two characters are dropped.

Cost: jieba builds (or loads from its cache file) the prefix dictionary on first use, about a
second, and each instance holds its own copy (tens of MB). Use :func:`get_tokenizer`, which
keeps one tokenizer per set of domain words in the process.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import jieba
import opencc

DOMAIN_FREQ = 100_000
"""Frequency given to every domain word (raised further if jieba needs more to keep it whole)."""

STOP_WORDS: frozenset[str] = frozenset(
    """
    的 了 是 我 你 您 他 她 它 我们 你们 他们 她们 咱们 吗 呢 啊 吧 哦 嗯 呀 哈 哈哈 嘛 啦 哎 唉 喔
    好的 好 嗯嗯 哦哦 对 对的 是的 可以 没有 没 有 在 和 与 及 或 就 都 也 还 又 很 太 更 最 不 要
    这 那 这个 那个 这样 那样 这些 那些 什么 怎么 怎么样 为什么 哪 哪个 哪里 一个 一下 一些
    就是 但是 然后 因为 所以 如果 而且 还是 或者 已经 现在 时候 今天 明天 一直 知道 觉得 看看
    谢谢 感谢 麻烦 请问 请 您好 你好 亲 一 二 三 个 把 被 让 给 从 到 对于 关于 么 的话
    我要 想要 需要 能不能 可不可以 一下子 有没有 是不是
    """.split()
)
"""Chat filler and function words that never make a useful hot word (after t2s, lower case)."""

_t2s = opencc.OpenCC("t2s")
_t2s_lock = threading.Lock()


def _simplify(text: str) -> str:
    with _t2s_lock:  # one converter object; its thread safety is not documented
        return str(_t2s.convert(text))


_HAS_LETTER = re.compile(r"[^\W\d_]")
"""A letter or a Han character (what ``str.isalpha`` accepts), searched in C."""


def _meaningful(token: str) -> bool:
    return len(token) >= 2 and token not in STOP_WORDS and _HAS_LETTER.search(token) is not None


class Tokenizer:
    """jieba segmentation with a domain dictionary, t2s before and a stop-word filter after."""

    def __init__(self, domain_words: Iterable[str] = ()) -> None:
        logging.getLogger("jieba").setLevel(logging.WARNING)  # silence "Building prefix dict"
        self._jieba: Any = jieba.Tokenizer()
        self._jieba.initialize()
        words = sorted({_simplify(w.strip()).lower() for w in domain_words} - {""})
        self.domain_words: frozenset[str] = frozenset(words)
        for word in words:
            if len(word) < 2:
                continue
            needed = int(self._jieba.suggest_freq(word, False))
            self._jieba.add_word(word, freq=max(DOMAIN_FREQ, needed))

    def cut(self, text: str) -> list[str]:
        """Every jieba token of the simplified, lower-cased text (nothing dropped)."""
        return [str(t) for t in self._jieba.cut(_simplify(text).lower())]

    def tokens(self, text: str) -> list[str]:
        """The meaningful words of ``text`` in order (stop words, punctuation, 1-char dropped)."""
        stripped = (tok.strip() for tok in self._jieba.cut(_simplify(text).lower()))
        return [t for t in stripped if _meaningful(t)]


@lru_cache(maxsize=8)
def _cached(words: frozenset[str]) -> Tokenizer:
    return Tokenizer(words)


def get_tokenizer(domain_words: Iterable[str] = ()) -> Tokenizer:
    """The process's tokenizer for this set of domain words (built once, about a second)."""
    return _cached(frozenset(domain_words))
