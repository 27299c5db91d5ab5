"""Synthetic two-channel calls built from real Mandarin speech, with known stretches.

Why synthetic calls: no public dual-channel Mandarin call recording exists (see
../shared/data/audio_mandarin_samples/SOURCE.md), so real speech clips (tests/data/audio,
CREDITS.md) are placed on an agent and a customer channel at known times over line noise, and the
tests check that what ``analyze_call`` finds lies within ±0.3 s of where it was put.
"""

from __future__ import annotations

from functools import lru_cache
from math import gcd
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.signal
import soundfile as sf

DATA = Path(__file__).resolve().parents[1] / "data" / "audio"
TOLERANCE = 0.3
"""Seconds: evidence must lie this close to the truth."""

# clip, first and last second of its speech (leading/trailing room noise cut off)
VOICES = {
    "agent": ("funasr_asr_example_zh.wav", 1.0, 5.2),
    "customer": ("aishell1_BAC009S0724W0121.wav", 0.5, 3.6),
    "customer2": ("aishell1_BAC009S0764W0121.wav", 0.6, 3.6),
}
AGENT, CUSTOMER = 0, 1
CHANNELS = {"agent": AGENT, "customer": CUSTOMER}
DURATION = 20.0
LOUD = (13.0, 15.0)
# (channel, voice, start, end, extra gain dB) — the loud stretch gets ``loud_db`` on top
LAYOUT = [
    (AGENT, "agent", 0.0, 3.0),
    (CUSTOMER, "customer", 7.0, 11.0),
    (AGENT, "agent", 9.0, 12.0),
    (AGENT, "agent", *LOUD),
    (CUSTOMER, "customer", 15.5, 18.0),
    (AGENT, "agent", 18.0, 20.0),
]
SILENCES = [(3.0, 7.0), (12.0, 13.0), (15.0, 15.5)]
OVERTALKS = [(9.0, 11.0, "agent")]
SPEECH = {
    "agent": [(0.0, 3.0), (9.0, 12.0), (13.0, 15.0), (18.0, 20.0)],
    "customer": [(7.0, 11.0), (15.5, 18.0)],
}

F64 = npt.NDArray[np.float64]


@lru_cache(maxsize=16)
def voice(name: str, rate: int) -> F64:
    """The speech part of a voice's clip at ``rate`` Hz, scaled to 0 dBFS RMS."""
    clip, start, end = VOICES[name]
    x, native = sf.read(DATA / clip, dtype="float64")
    x = x[int(start * native) : int(end * native)]
    if rate != native:
        g = gcd(rate, native)
        x = scipy.signal.resample_poly(x, rate // g, native // g)
    return x / np.sqrt(np.mean(x**2))


def speech(name: str, seconds: float, rate: int, level_dbfs: float, *, even: bool = True) -> F64:
    """``seconds`` of the voice (tiled), at ``level_dbfs`` RMS.

    ``even``: every 0.5 s block is brought to that level, so "10 dB louder than the speaker's
    baseline" is true over the whole stretch, not only where the sentence happens to be loud.
    """
    x = voice(name, rate)
    n = int(round(seconds * rate))
    y = np.tile(x, n // x.size + 1)[:n].copy()
    if even:
        block = rate // 2
        for i in range(0, n, block):
            part = y[i : i + block]
            part /= max(np.sqrt(np.mean(part**2)), 1e-9)
    return y * 10 ** (level_dbfs / 20)


def build_call(
    rate: int = 16000,
    *,
    loud_db: float = 0.0,
    gain_db: float = 0.0,
    noise_dbfs: float = -65.0,
    echo_db: float | None = None,
    even: bool = True,
    layout: list[tuple[int, str, float, float]] | None = None,
    seed: int = 7,
) -> npt.NDArray[np.float32]:
    """The LAYOUT call, shape (n, 2) float32: speech at -20 dBFS over white line noise.

    loud_db: extra gain of the agent over LOUD; gain_db: the whole call (a quiet line: -30);
    echo_db: the agent's speech leaking into the customer channel this many dB down.
    """
    n = int(DURATION * rate)
    x = np.zeros((n, 2))
    for channel, name, start, end in layout or LAYOUT:
        extra = loud_db if (start, end) == LOUD and channel == AGENT else 0.0
        a = int(round(start * rate))
        part = speech(name, end - start, rate, -20.0 + extra, even=even)
        x[a : a + part.size, channel] += part
    if echo_db is not None:
        x[:, CUSTOMER] += x[:, AGENT] * 10 ** (-echo_db / 20)
    x += np.random.default_rng(seed).standard_normal((n, 2)) * 10 ** (noise_dbfs / 20)
    x *= 10 ** (gain_db / 20)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def assert_stretches(found: list[tuple[float, float]], truth: list[tuple[float, float]]) -> None:
    """Each true stretch found once, both ends within TOLERANCE; nothing else found."""
    assert len(found) == len(truth), f"found {found}, expected {truth}"
    for (fs, fe), (ts, te) in zip(sorted(found), sorted(truth), strict=True):
        assert abs(fs - ts) <= TOLERANCE and abs(fe - te) <= TOLERANCE, (
            f"found {fs:.2f}–{fe:.2f}, expected {ts:.2f}–{te:.2f} (all found: {found})"
        )
