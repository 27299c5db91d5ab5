"""Frame powers, momentary loudness and BS.1770 gating from per-frame sums.

Why per-frame sums: one pass over the samples (high-pass, K-weighting, clip count, each reduced to
50 ms frames) gives everything later stages need; gating a segment or a speaker then works on a
few thousand frame sums instead of re-filtering samples, as pyloudnorm would per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from pyloudnorm.iirfilter import IIRfilter

HOP_SECONDS = 0.05
"""Frame hop and length, seconds."""
FLOOR_DBFS = -120.0
"""What digital silence (-inf dB) reads as, dBFS."""
CLIP_LEVEL = 0.99
"""|sample| at or above this counts as clipped (8-bit PCM tops out at 127/128 ≈ 0.992)."""
BLOCK_FRAMES = 8  # 400 ms gating block (BS.1770-4)
BLOCK_STEP = 2  # 100 ms step: 75 % overlap
ABS_GATE_LUFS = -70.0
REL_GATE_LU = -10.0
_CHUNK_SAMPLES = 1 << 20

F64 = npt.NDArray[np.float64]


@dataclass(slots=True)
class FramePowers:
    """Per-frame sums of one analysis pass over some channels.

    Attributes
    ----------
    counts : ndarray of int64, shape (n_frames,)
        Samples in each frame (the last frame may be short).
    power : ndarray of float64, shape (n_channels, n_frames)
        Sum of squares of the 38 Hz high-passed signal (DC and rumble removed), full scale = 1.
    kpower : ndarray of float64, shape (n_channels, n_frames)
        Sum of squares of the K-weighted signal (BS.1770 pre-filter).
    clipped : ndarray of int64, shape (n_channels, n_frames)
        Samples with |x| >= CLIP_LEVEL.
    """

    counts: npt.NDArray[np.int64]
    power: F64
    kpower: F64
    clipped: npt.NDArray[np.int64]


def frame_bounds(n_samples: int, rate: int) -> npt.NDArray[np.int64]:
    """Sample index where each frame starts, plus ``n_samples``; shape (n_frames + 1,)."""
    hop = HOP_SECONDS * rate
    n_frames = max(1, int(np.ceil(n_samples / hop - 1e-9)))
    bounds = np.round(np.arange(n_frames + 1) * hop).astype(np.int64)
    bounds[-1] = n_samples
    return bounds


def _biquad(filt: IIRfilter) -> F64:
    b = np.asarray(filt.b, dtype=np.float64)
    a = np.asarray(filt.a, dtype=np.float64)
    return np.concatenate([b, a])[None, :]


def k_weighting(rate: int) -> tuple[F64, F64]:
    """The two BS.1770 pre-filter stages as second-order sections, pyloudnorm's coefficients.

    Returns
    -------
    high_pass, shelf : ndarray of float64, shape (1, 6)
        The 38 Hz high-pass (RLB) and the +4 dB 1.5 kHz high shelf; applied in either order
        (linear filters commute) they are pyloudnorm's ``K-weighting``.
    """
    from pyloudnorm.iirfilter import (
        IIRfilter,
    )  # scipy.signal: ~0.5 s to import; only when measuring

    high_pass = _biquad(IIRfilter(0.0, 0.5, 38.0, rate, "high_pass"))
    shelf = _biquad(IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, rate, "high_shelf"))
    return high_pass, shelf


def _frame_sums(values: F64, local: npt.NDArray[np.int64], even: int) -> F64:
    if even:
        summed: F64 = values.reshape(-1, even).sum(axis=1)
        return summed
    reduced: F64 = np.add.reduceat(values, local)
    return reduced


def frame_powers(samples: npt.NDArray[np.float32], rate: int, channels: list[int]) -> FramePowers:
    """Filter each listed channel once (chunked, filter state carried) and sum it per frame.

    Parameters
    ----------
    samples : ndarray of float32, shape (n_samples, n_channels)
        Full-scale samples.
    rate : int
        Sample rate, Hz.
    channels : list of int
        Column indices to analyse, in output order.

    Returns
    -------
    FramePowers
        Sums over ``HOP_SECONDS`` frames.
    """
    import scipy.signal  # ~0.5 s to import: paid by the first analysis, not by importing the rules

    n_samples = samples.shape[0]
    bounds = frame_bounds(n_samples, rate)
    n_frames = bounds.size - 1
    counts = np.diff(bounds)
    hop = HOP_SECONDS * rate
    even = int(hop) if float(hop).is_integer() else 0
    frames_per_chunk = max(1, int(_CHUNK_SAMPLES // hop))
    high_pass, shelf = k_weighting(rate)
    out = FramePowers(
        counts=counts,
        power=np.zeros((len(channels), n_frames)),
        kpower=np.zeros((len(channels), n_frames)),
        clipped=np.zeros((len(channels), n_frames), dtype=np.int64),
    )
    for row, ch in enumerate(channels):
        zi_hp = np.zeros((1, 2))
        zi_sh = np.zeros((1, 2))
        for f0 in range(0, n_frames, frames_per_chunk):
            f1 = min(n_frames, f0 + frames_per_chunk)
            s0, s1 = int(bounds[f0]), int(bounds[f1])
            x = samples[s0:s1, ch].astype(np.float64)
            local = bounds[f0:f1] - s0
            whole = even if (s1 - s0) == (f1 - f0) * even else 0
            hp, zi_hp = scipy.signal.sosfilt(high_pass, x, zi=zi_hp)
            out.power[row, f0:f1] = _frame_sums(hp * hp, local, whole)
            kw, zi_sh = scipy.signal.sosfilt(shelf, hp, zi=zi_sh)
            out.kpower[row, f0:f1] = _frame_sums(kw * kw, local, whole)
            clip = (np.abs(x) >= CLIP_LEVEL).astype(np.float64)
            out.clipped[row, f0:f1] = _frame_sums(clip, local, whole).astype(np.int64)
    return out


def to_db(mean_square: F64) -> F64:
    """10·log10 of a mean square, dBFS (full-scale square wave = 0 dBFS), floored at FLOOR_DBFS."""
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(np.maximum(mean_square, 0.0))
    return np.maximum(db, FLOOR_DBFS)


def frame_db(power: F64, counts: npt.NDArray[np.int64]) -> F64:
    """Per-frame level, dBFS, shape (n_frames,), from frame sums of squares."""
    return to_db(power / np.maximum(counts, 1))


def momentary_db(power: F64, counts: npt.NDArray[np.int64]) -> F64:
    """400 ms loudness centred on each frame, dBFS, shape (n_frames,).

    A trapezoid of 9 frames weighted ½,1,…,1,½ spans exactly 400 ms around the frame's centre;
    frames past either end of the audio are left out of the average.
    """
    weights = np.ones(BLOCK_FRAMES + 1)
    weights[0] = weights[-1] = 0.5
    sums = np.convolve(power, weights, mode="same")
    n = np.convolve(counts.astype(np.float64), weights, mode="same")
    return to_db(sums / np.maximum(n, 1.0))


def gated_loudness(
    kpower: F64, rate: int, seconds: float, usable: npt.NDArray[np.bool_] | None = None
) -> float | None:
    """BS.1770-4 integrated loudness of one channel from its K-weighted frame sums.

    Parameters
    ----------
    kpower : ndarray of float64, shape (n_frames,)
        K-weighted sums of squares per frame, starting where the measured stretch starts.
    rate : int
        Sample rate, Hz.
    seconds : float
        Length of the measured stretch, seconds (gives pyloudnorm's block count).
    usable : ndarray of bool, shape (n_frames,), optional
        Frames that belong to the measured speaker; a block counts only if all its frames do.

    Returns
    -------
    float or None
        LUFS; None when shorter than one 400 ms block or no block passes the -70 LUFS gate.
    """
    n_blocks = (
        int(np.round((seconds - BLOCK_FRAMES * HOP_SECONDS) / (BLOCK_STEP * HOP_SECONDS))) + 1
    )
    if seconds < BLOCK_FRAMES * HOP_SECONDS or n_blocks <= 0 or kpower.size == 0:
        return None
    starts = np.arange(n_blocks) * BLOCK_STEP
    starts = starts[starts < kpower.size]
    ends = np.minimum(starts + BLOCK_FRAMES, kpower.size)
    cum = np.concatenate([[0.0], np.cumsum(kpower)])
    z = (cum[ends] - cum[starts]) / (BLOCK_FRAMES * HOP_SECONDS * rate)
    if usable is not None:
        bad = np.concatenate([[0], np.cumsum(~usable)])
        z = z[(bad[ends] - bad[starts]) == 0]
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(z)
    z = z[block_lufs >= ABS_GATE_LUFS]
    if z.size == 0:
        return None
    relative = -0.691 + 10.0 * np.log10(z.mean()) + REL_GATE_LU
    with np.errstate(divide="ignore"):
        z = z[-0.691 + 10.0 * np.log10(z) > relative]
    if z.size == 0:
        return None
    return float(-0.691 + 10.0 * np.log10(z.mean()))
