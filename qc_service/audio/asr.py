"""Offline speech recognition for calls that arrive without a transcript: per channel, speech
regions in, timed utterances (text, confidence, per-word seconds) out.

Why speech regions only: on silence or line noise a Whisper model invents text (a trial without
this step wrote 请问我一个人 on a silent channel) and spends most of its time retrying such windows
at higher temperatures; the project's own energy VAD (``_vad``, with crosstalk suppression on
dual-channel calls) already knows where each speaker talks. Why each region decoded on its own:
decoding a whole channel in one pass put a word 8.5 s early in the same trial. Why the model's own
confidence is still checked: a region of cough or music passes the VAD; Whisper's no-speech
probability, average log-probability and compression ratio flag what it made up.

Pure: arrays in, plain data out. The model sits behind ``Transcriber`` (``asr_model`` builds the
faster-whisper one), so the logic here is tested without loading a model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np
import numpy.typing as npt

from qc_service.audio import _vad
from qc_service.audio._dsp import HOP_SECONDS
from qc_service.audio.errors import AudioError
from qc_service.audio.features import analyze_call

MODEL_RATE = 16_000
"""Whisper reads 16 kHz mono."""
PAD_SECONDS = 0.2
"""Audio kept before and after each speech region (the VAD's frames are 50 ms)."""
JOIN_GAP_SECONDS = 0.8
"""Regions closer than this are decoded together (one utterance is not cut at a breath)."""
MAX_REGION_SECONDS = 28.0
"""Longer regions are cut at their quietest frame: one Whisper window is 30 s."""
MIN_REGION_SECONDS = 0.3
NO_SPEECH_MAX = 0.6
"""A segment the model gives a no-speech probability above this is dropped."""
LOGPROB_MIN = -1.0
"""…and one whose average token log-probability is below this (low confidence)."""
COMPRESSION_MAX = 2.4
"""…and one whose text compresses better than this (a repetition loop: 小小小…)."""


@dataclass(frozen=True, slots=True)
class Word:
    """A word (for Chinese, usually one to three characters) and its seconds in the call."""

    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Decoded:
    """One segment as the model returns it, times relative to the audio it was given."""

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: tuple[Word, ...]


@dataclass(frozen=True, slots=True)
class Utterance:
    """One transcribed utterance of one speaker, seconds from the start of the call."""

    role: str
    start: float
    end: float
    text: str
    confidence: float
    """exp(average token log-probability): 1.0 is certain."""
    words: tuple[Word, ...]


class Transcriber(Protocol):
    """A speech recogniser: 16 kHz mono float32 samples in, segments out."""

    name: str

    def decode(self, audio: npt.NDArray[np.float32]) -> list[Decoded]: ...


@lru_cache(maxsize=1)
def _t2s() -> Callable[[str], str]:
    import opencc  # noqa: PLC0415 - loaded on first use (a dictionary load)

    convert: Callable[[str], str] = opencc.OpenCC("t2s").convert
    return convert


def simplified(text: str) -> str:
    """Traditional → simplified characters (Whisper flips between the two)."""
    return _t2s()(text)


def to_model_rate(x: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float32]:
    """One channel resampled to 16 kHz (polyphase; 8 kHz telephone audio is upsampled)."""
    if rate == MODEL_RATE:
        return x.astype(np.float32, copy=False)
    from scipy.signal import resample_poly  # noqa: PLC0415 - scipy is heavy to import

    g = int(np.gcd(rate, MODEL_RATE))
    return np.asarray(resample_poly(x, MODEL_RATE // g, rate // g), dtype=np.float32)


def speech_regions(
    voiced: npt.NDArray[np.bool_], level_db: npt.NDArray[np.float64] | None = None
) -> list[tuple[float, float]]:
    """``[(start, end)]`` seconds of speech from a voice-activity mask on the 50 ms grid: runs
    closer than ``JOIN_GAP_SECONDS`` joined, padded, runs over ``MAX_REGION_SECONDS`` cut at their
    quietest frame (``level_db``) or evenly, runs under ``MIN_REGION_SECONDS`` dropped."""
    mask = _vad.close_gaps(voiced, int(round(JOIN_GAP_SECONDS / HOP_SECONDS)))
    starts, ends = _vad.runs(mask)
    limit = int(MAX_REGION_SECONDS / HOP_SECONDS)
    out: list[tuple[float, float]] = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        while b - a > limit:
            lo = a + limit // 2
            cut = (
                lo + int(np.argmin(level_db[lo : a + limit])) if level_db is not None else a + limit
            )
            out.append((a * HOP_SECONDS, cut * HOP_SECONDS))
            a = cut
        if (b - a) * HOP_SECONDS >= MIN_REGION_SECONDS:
            out.append((a * HOP_SECONDS, b * HOP_SECONDS))
    total = voiced.size * HOP_SECONDS
    return [(max(0.0, s - PAD_SECONDS), min(total, e + PAD_SECONDS)) for s, e in out]


def kept(seg: Decoded) -> bool:
    """Whether the model itself vouches for a segment (see the thresholds above)."""
    return (
        bool(seg.text.strip())
        and seg.no_speech_prob <= NO_SPEECH_MAX
        and seg.avg_logprob >= LOGPROB_MIN
        and seg.compression_ratio <= COMPRESSION_MAX
    )


def _utterance(role: str, seg: Decoded, offset: float) -> Utterance | None:
    words = tuple(
        Word(round(offset + w.start, 2), round(offset + w.end, 2), simplified(w.text).strip())
        for w in seg.words
    )
    words = tuple(w for w in words if w.text)
    text = "".join(w.text for w in words) if words else simplified(seg.text).strip()
    if not text:
        return None
    start = words[0].start if words else round(offset + seg.start, 2)
    end = words[-1].end if words else round(offset + seg.end, 2)
    confidence = round(float(np.exp(seg.avg_logprob)), 3)
    return Utterance(role, start, max(start, end), text, confidence, words)


Progress = Callable[[float, float], None]
"""Told the seconds of speech decoded so far and the seconds to decode in all (a progress bar)."""


def transcribe_call(
    samples: npt.NDArray[np.float32],
    rate: int,
    channels: Mapping[str, int] | None,
    transcriber: Transcriber,
    progress: Progress | None = None,
) -> list[Utterance]:
    """Every speaker's utterances in time order: each speech region of each channel resampled
    and decoded on its own.

    Parameters
    ----------
    samples : ndarray of float32, shape (n_samples, n_channels) or (n_samples,)
        As ``decode`` returns them.
    rate : int
        Hz (8 kHz telephone audio included).
    channels : mapping of str to int or None
        Role → channel index. None is accepted for a mono recording only when it is one
        speaker's: without a map nobody can tell the agent's words from the customer's, so a
        call without one is refused (``AudioError``) rather than guessed.
    transcriber : Transcriber
    progress : Progress, optional
        Called after each region with the seconds decoded so far and in all.
    """
    if not channels:
        raise AudioError(
            "a call without a transcript needs a channel map (call.channels, e.g. "
            '{"agent": 0, "customer": 1}) to tell whose words are whose'
        )
    x = samples[:, None] if samples.ndim == 1 else samples
    speakers = analyze_call(x, rate, channels=channels).speakers
    plan = {role: speech_regions(sp.voiced, sp.momentary_dbfs) for role, sp in speakers.items()}
    total = sum(e - s for regions in plan.values() for s, e in regions)
    done = 0.0
    out: list[Utterance] = []
    for role, regions in plan.items():
        x16 = to_model_rate(x[:, channels[role]], rate)
        for start, end in regions:
            chunk = x16[int(start * MODEL_RATE) : int(end * MODEL_RATE)]
            out += [u for seg in transcriber.decode(chunk)
                    if kept(seg) and (u := _utterance(role, seg, start)) is not None]  # fmt: skip
            done += end - start
            if progress is not None:
                progress(done, total)
    return sorted(out, key=lambda u: (u.start, u.role))


__all__ = [
    "MODEL_RATE",
    "Decoded",
    "Progress",
    "Transcriber",
    "Utterance",
    "Word",
    "kept",
    "simplified",
    "speech_regions",
    "transcribe_call",
]
