"""Time ranges of a call: the ``Stretch`` and ``Segment`` types, silences, overtalk, speech rate.

Why apart from the measurements: these work on frame masks and transcript times only, so the
rule operators and tests can use them without any audio.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from qc_service.audio import _vad
from qc_service.audio._dsp import HOP_SECONDS

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Stretch:
    """A time range of the call with what was measured there.

    Attributes
    ----------
    start, end : float
        Seconds from the start of the audio.
    value : float or None
        Peak dBFS or peak dB over baseline (loudness), seconds (silence, overtalk), characters a
        minute (speech rate).
    by : str or None
        Overtalk: the role that started speaking second (the interrupter); speech rate: the role.
    """

    start: float
    end: float
    value: float | None = None
    by: str | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """A transcript segment: who spoke what, when (seconds from the start of the audio)."""

    role: str
    start: float
    end: float
    text: str


def frame_second(frame: int, duration: float) -> float:
    """Where frame ``frame`` starts, seconds (ms-rounded), capped at ``duration``."""
    return round(min(frame * HOP_SECONDS, duration), 3)


def silences(active: Mask, duration: float) -> list[Stretch]:
    """Runs where nobody is voiced, between the first and last voiced frame.

    Parameters
    ----------
    active : ndarray of bool, shape (n_frames,)
        Anyone voiced, per ``HOP_SECONDS`` frame.
    duration : float
        Length of the audio, seconds (the last frame may be short).

    Returns
    -------
    list of Stretch
        value = length, seconds.
    """
    if not active.any():
        return []
    first = int(np.argmax(active))
    last = active.size - int(np.argmax(active[::-1]))
    starts, ends = _vad.runs(~active[first:last])
    out = []
    for s, e in zip(starts + first, ends + first, strict=True):
        start, end = frame_second(int(s), duration), frame_second(int(e), duration)
        out.append(Stretch(start, end, round(end - start, 3)))
    return out


def overtalks(voiced_by_role: Mapping[str, Mask], duration: float) -> list[Stretch]:
    """Runs where two or more roles are voiced; ``by`` is the role whose own run began later.

    Parameters
    ----------
    voiced_by_role : mapping of str to ndarray of bool, each shape (n_frames,)
    duration : float
        Seconds.

    Returns
    -------
    list of Stretch
        value = length, seconds; by = None when both began in the same frame.
    """
    if len(voiced_by_role) < 2:
        return []
    roles = list(voiced_by_role)
    voiced = np.vstack([voiced_by_role[r] for r in roles])
    begun = np.vstack([_vad.run_starts(v) for v in voiced])
    out = []
    for s, e in zip(*_vad.runs(voiced.sum(axis=0) >= 2), strict=True):
        order = np.argsort(-begun[:, s], kind="stable")
        later = int(order[0])
        by = roles[later] if begun[later, s] > begun[int(order[1]), s] else None
        start, end = frame_second(int(s), duration), frame_second(int(e), duration)
        out.append(Stretch(start, end, round(end - start, 3), by))
    return out


def _char_count(text: str) -> int:
    return sum(1 for c in text if c.isalnum())


def speech_rates(segments: list[Segment], *, min_chars: int = 10) -> list[Stretch]:
    """Speaking rate of each turn, from the transcript segments' times (no audio needed).

    A turn is a maximal run of time-ordered segments of one role (``system`` segments are
    skipped); its rate is its letters, digits and Hanzi (punctuation and spaces not counted)
    over the summed durations of its segments, so pauses between segments do not slow it.

    Parameters
    ----------
    segments : list of Segment
    min_chars : int
        Turns with fewer characters are left out.

    Returns
    -------
    list of Stretch
        One per turn, first segment's start to last segment's end; value = characters per
        minute; by = role.
    """
    ordered = sorted((s for s in segments if s.role != "system"), key=lambda s: (s.start, s.end))
    turns: list[list[Segment]] = []
    for seg in ordered:
        if turns and turns[-1][0].role == seg.role:
            turns[-1].append(seg)
        else:
            turns.append([seg])
    out = []
    for turn in turns:
        chars = sum(_char_count(s.text) for s in turn)
        speaking = sum(max(0.0, s.end - s.start) for s in turn)
        if chars >= min_chars and speaking > 0:
            end = max(s.end for s in turn)
            out.append(Stretch(turn[0].start, end, chars / speaking * 60.0, turn[0].role))
    return out
