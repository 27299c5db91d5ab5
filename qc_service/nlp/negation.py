"""Negation scope in short Chinese service sentences, and whether two sentences agree on it.

Why this exists: sentence embeddings do not see negation — "投资有风险，不保证收益" sits as close to
"保证收益" as a paraphrase does (pair AUC ≤ 0.56 on such pairs) — yet a red-line rule must not
fire on the compliant disclaimer. And a plain "does the message contain 不" veto is wrong too:
"绝对不会亏本" is itself a negated promise and must still match "包您不亏".

So polarity is compared, not detected: each sentence is reduced to what its negators cover — the
head of each scope, the first content character after a negator (不 没 无 非 别 未 …), skipping
function characters (不会让您亏的 → 亏) — and a message agrees with an example when both negate
the same heads (包您不亏 ~ 绝对不会亏本: 亏 = 亏; 不保证收益 vs 稳赚不赔: 保 ≠ 赔 → veto; 不保证收益
vs 保证收益: {保} ≠ {} → veto; 这款产品不保本 vs 绝对不会亏本: 保 ≠ 亏 → veto). The price: a
negated paraphrase whose head differs from every example's (本金一分都不会少 vs 不会亏本) does not
match — write that phrasing as an example too. Recall and precision are in the model card.

Only the clauses that share content with the example are read when there are such clauses, so a
negation elsewhere in the message ("我们不收手续费，保证收益") does not hide the promise.
Characters, not words: jieba splits 不亏/亏本 differently by context; characters are stable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NEGATORS = frozenset("不没无非别未莫勿毋甭否")
"""Single-character negators."""

NOT_NEGATION = (
    "不错", "不过", "不好意思", "不客气", "不少", "不断", "不仅", "不管", "不如", "不久", "不然",
    "不用谢", "非常", "无论", "没关系", "差不多", "了不起", "不得不", "别人", "别家", "别的",
    "并非不", "未来", "无线", "否则", "莫名",
)  # fmt: skip
"""Words whose negator character does not negate (不错 = good, 别人 = others, 未来 = future)."""

FUNCTION_CHARS = frozenset(
    "的了吗呢吧啊哦呀哈嘛么是有在会能要可以让使把被给跟和与及或您你我他她它们这那个就都也还"
    "很太再又才将已经得地着过一些么请亲用"
)
"""Characters that carry no content of their own in scope comparison (会, 让, 您 …)."""

_CLAUSES = re.compile(r"[，,。.！!？?；;、：:\s~～]+")
_NOT_NEGATION = re.compile("|".join(sorted(map(re.escape, NOT_NEGATION), key=len, reverse=True)))


@dataclass(frozen=True)
class Clause:
    """A comma-delimited piece of a sentence: its content characters and what it negates."""

    text: str
    content: frozenset[str]
    negated: tuple[str, ...]
    """The head of each negation scope: the first content character after the negator."""


def _content(text: str) -> frozenset[str]:
    return frozenset(ch for ch in text if ch.isalnum() and ch not in FUNCTION_CHARS)


def clause(text: str) -> Clause:
    """A clause's content and the heads its negators cover (不会让您亏的 → 亏, 不保证 → 保)."""
    masked = _NOT_NEGATION.sub(lambda m: "_" * len(m.group()), text)
    heads: list[str] = []
    for i, ch in enumerate(masked):
        if ch not in NEGATORS:
            continue
        for follower in text[i + 1 :]:
            if follower in NEGATORS or not follower.isalnum():
                break  # 不不 (a stutter: the next negator carries it) or the clause ends
            if follower not in FUNCTION_CHARS:
                heads.append(follower)
                break
    return Clause(text, _content(text) - NEGATORS, tuple(heads))


def clauses(text: str) -> list[Clause]:
    """The sentence's clauses (split at commas and sentence punctuation), empty ones dropped."""
    return [clause(part) for part in _CLAUSES.split(text) if part.strip()]


def _relevant(parts: list[Clause], other: frozenset[str]) -> list[Clause]:
    """The clauses sharing the most content with the other sentence (all when none shares)."""
    best = max((len(c.content & other) for c in parts), default=0)
    return [c for c in parts if len(c.content & other) == best] if best else parts


def _union(parts: list[Clause]) -> frozenset[str]:
    return frozenset().union(*(c.content for c in parts)) if parts else frozenset()


def same_polarity(message: str, example: str) -> bool:
    """Whether ``message`` negates exactly what ``example`` negates (by head character)."""
    ex_parts = clauses(example)
    msg_parts = _relevant(clauses(message), _union(ex_parts))
    ex_parts = _relevant(ex_parts, _union(msg_parts))
    msg_heads = {h for c in msg_parts for h in c.negated}
    ex_heads = {h for c in ex_parts for h in c.negated}
    return msg_heads == ex_heads
