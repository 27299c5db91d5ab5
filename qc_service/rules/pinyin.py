"""Toneless-pinyin matching for ``keyword`` with ``pinyin: true``.

Why a second view of the normalized batch: ``hongbao``, ``hong bao``, ``hong包`` and the
homophone ``宏包`` all read ``hongbao`` once every Hanzi is replaced by its toneless syllable.
The view is built from the batch's folded text (so evasion folding still applies), one *unit*
per normalized character: a Hanzi becomes its syllable, anything else stays one folded
character (``ü`` reads ``v``, as pypinyin writes it). A match must start and end on unit
boundaries (``hongbao`` is not inside 冲包 ``chongbao``), so every match maps back to whole
normalized characters and from there, through the batch's offset map, to the original text.
Latin/digit boundaries apply where a match starts or ends on a Latin letter or digit of the text
(``hongbao`` is not in ``hongbaozhuang``; it is in ``hongbao装``).

Polyphones: each Hanzi of the text reads its first (most common) pypinyin reading, character by
character; a word also gets its phrase-aware reading (银行 ``yinxing`` and ``yinhang``), so
Hanzi text matches Hanzi words and typed pinyin matches the word's usual reading.

Built lazily, once per conversation, and only for rule sets that use ``pinyin: true``; pypinyin
itself is imported on first use (its dictionaries take ~0.1 s and ~55 MB), so processes whose
rules never ask for pinyin do not pay for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick_rs

from qc_service.rules.matcher import Hit
from qc_service.rules.normalize import NormalizedBatch, fold_word, is_latin_or_digit

_HANZI_RANGES = (
    (0x3400, 0x4DC0),
    (0x4E00, 0xA000),
    (0xF900, 0xFB00),
    (0x20000, 0x2EBF0),
    (0x30000, 0x323B0),
)
_SYLLABLES: dict[str, str] = {}


def _readings(text: str) -> list[str]:
    """pypinyin's toneless readings (a Hanzi each; other runs kept as they are)."""
    from pypinyin import Style, lazy_pinyin  # deferred on purpose: see the module docstring

    return lazy_pinyin(text, style=Style.NORMAL)


def is_hanzi(ch: str) -> bool:
    """Whether a character is a CJK ideograph (one that has a pinyin reading)."""
    cp = ord(ch)
    return any(lo <= cp < hi for lo, hi in _HANZI_RANGES)


def unit(ch: str) -> str:
    """What one folded character reads as: a Hanzi's first toneless syllable, else itself."""
    got = _SYLLABLES.get(ch)
    if got is None:
        if is_hanzi(ch):
            got = _readings(ch)[0] or ch
        else:
            got = "v" if ch == "ü" else ch
        _SYLLABLES[ch] = got
    return got


def word_readings(word: str) -> list[str]:
    """The pinyin patterns of one word: character by character, and phrase-aware."""
    folded = fold_word(word)
    if not folded:
        return []
    per_char = "".join(unit(ch) for ch in folded)
    phrase = "".join(_readings(folded)).replace("ü", "v")
    return list(dict.fromkeys([per_char, phrase]))


@dataclass(slots=True)
class PinyinView:
    """The pinyin reading of a batch's normalized text.

    ``unit_start[u]``/``unit_end[u]``: where normalized character ``u`` reads in ``text``;
    ``unit_at[p]``: which normalized character position ``p`` of ``text`` belongs to.
    """

    text: str
    unit_start: list[int]
    unit_end: list[int]
    unit_at: list[int]
    hanzi: list[bool]


def pinyin_view(batch: NormalizedBatch) -> PinyinView:
    """Read every normalized character of the batch as pinyin."""
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    unit_at: list[int] = []
    hanzi: list[bool] = []
    pos = 0
    for u, ch in enumerate(batch.text):
        reading = unit(ch)
        parts.append(reading)
        starts.append(pos)
        pos += len(reading)
        ends.append(pos)
        unit_at.extend([u] * len(reading))
        hanzi.append(is_hanzi(ch))
    return PinyinView("".join(parts), starts, ends, unit_at, hanzi)


class PinyinMatcher:
    """One keyword leaf's words (and allow phrases) as pinyin, matched on a ``PinyinView``."""

    def __init__(self, words: Iterable[tuple[str, str]]) -> None:
        """``words``: ``(role, word)`` pairs; role is ``word`` or ``allow``."""
        ids: dict[str, int] = {}
        self.roles: list[set[str]] = []
        for role, word in words:
            for reading in word_readings(word):
                pid = ids.setdefault(reading, len(ids))
                if pid == len(self.roles):
                    self.roles.append(set())
                self.roles[pid].add(role)
        self.patterns = list(ids)
        self._ac = (
            ahocorasick_rs.AhoCorasick(self.patterns, matchkind=ahocorasick_rs.MatchKind.Standard)
            if self.patterns
            else None
        )

    def find(self, view: PinyinView, batch: NormalizedBatch) -> dict[str, list[Hit]]:
        """Role → hits (unit-aligned, boundary-checked, one per place), in normalized units."""
        out: dict[str, list[Hit]] = {}
        if self._ac is None or not view.text:
            return out
        seen: set[tuple[str, int, int]] = set()
        text = batch.text
        for pattern, start, end in self._ac.find_matches_as_indexes(view.text, overlapping=True):
            first, last = view.unit_at[start], view.unit_at[end - 1]
            if view.unit_start[first] != start or view.unit_end[last] != end:
                continue
            left = not view.hanzi[first] and is_latin_or_digit(ord(text[first]))
            right = not view.hanzi[last] and is_latin_or_digit(ord(text[last]))
            if (left or right) and not batch.boundary_ok(first, last + 1, left, right):
                continue
            msg = batch.message_at(first)
            o_start, o_end = batch.original_span(msg, first, last + 1)
            for role in self.roles[pattern]:
                if (role, first, last + 1) in seen:
                    continue
                seen.add((role, first, last + 1))
                hit = Hit(pattern, msg, o_start, o_end, first, last + 1)
                out.setdefault(role, []).append(hit)
        return out
