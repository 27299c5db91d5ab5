"""Energy voice activity per channel, crosstalk suppression, and frame-run helpers.

Why energy with an adaptive floor rather than a model: on call audio the speaker of each channel
is close to the microphone, so frame level over the channel's own noise floor separates speech
from line noise cheaply (frame sums are already there for loudness), with no model to load; the
floor adapts to each line's noise and the absolute gate keeps a silent channel's hiss out.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from qc_service.audio._dsp import HOP_SECONDS

NOISE_PERCENTILE = 10.0
"""The channel's noise floor: this percentile of its frame levels, dBFS."""
MARGIN_DB = 10.0
"""A voiced frame is this far above the noise floor, dB."""
GATE_DBFS = -70.0
"""…and above this absolute level, dBFS."""
MAX_GAP_SECONDS = 0.4
"""Pauses shorter than this inside speech are bridged (hangover), seconds."""
MIN_RUN_SECONDS = 0.2
"""Voiced runs shorter than this (clicks, breaths) are dropped, seconds."""
CROSSTALK_DB = 20.0
"""A channel's frame this far below the other channel's, each relative to its speaker's own
solo level, is that other speaker's echo, not speech (dB)."""
_MIN_SOLO_FRAMES = 20

F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]


def runs(mask: Mask) -> tuple[Ints, Ints]:
    """Maximal runs of True.

    Parameters
    ----------
    mask : ndarray of bool, shape (n,)

    Returns
    -------
    starts, ends : ndarray of int64, shape (n_runs,)
        Frame index of each run's first frame, and one past its last.
    """
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == 1).astype(np.int64), np.flatnonzero(edges == -1).astype(np.int64)


def close_gaps(mask: Mask, max_gap: int) -> Mask:
    """Fill runs of False shorter than ``max_gap`` frames that lie between two True runs."""
    starts, ends = runs(mask)
    out = mask.copy()
    if starts.size > 1:
        gap_starts, gap_ends = ends[:-1], starts[1:]
        for a, b in zip(
            gap_starts[gap_ends - gap_starts < max_gap],
            gap_ends[gap_ends - gap_starts < max_gap],
            strict=True,
        ):
            out[a:b] = True
    return out


def drop_short(mask: Mask, min_run: int) -> Mask:
    """Clear runs of True shorter than ``min_run`` frames."""
    starts, ends = runs(mask)
    out = mask.copy()
    short = ends - starts < min_run
    for a, b in zip(starts[short], ends[short], strict=True):
        out[a:b] = False
    return out


def raw_activity(level_db: F64) -> Mask:
    """Frames above the channel's adaptive noise floor + margin and the absolute gate.

    Parameters
    ----------
    level_db : ndarray of float64, shape (n_frames,)
        Per-frame level, dBFS.

    Returns
    -------
    ndarray of bool, shape (n_frames,)
    """
    floor = float(np.percentile(level_db, NOISE_PERCENTILE))
    return level_db > max(GATE_DBFS, floor + MARGIN_DB)


def suppress_crosstalk(levels: list[F64], active: list[Mask]) -> list[Mask]:
    """Clear frames of a channel that carry another channel's speech as echo or leakage.

    Each channel's level is taken relative to its speaker's median level while speaking alone,
    so a quiet phone line is not mistaken for echo; a frame is echo when some other active channel
    is ``CROSSTALK_DB`` louder on that relative scale.

    Parameters
    ----------
    levels : list of ndarray of float64, each shape (n_frames,)
        Per-frame level of each channel, dBFS.
    active : list of ndarray of bool, each shape (n_frames,)
        Raw activity of each channel.

    Returns
    -------
    list of ndarray of bool
        Activity with echo frames cleared.
    """
    if len(levels) < 2:
        return active
    stacked = np.vstack(active)
    relative: list[F64] = []
    for i, (lvl, act) in enumerate(zip(levels, active, strict=True)):
        solo = act & ~np.delete(stacked, i, axis=0).any(axis=0)
        use = solo if solo.sum() >= _MIN_SOLO_FRAMES else act
        reference = float(np.median(lvl[use])) if use.any() else 0.0
        relative.append(lvl - reference)
    out: list[Mask] = []
    for i, act in enumerate(active):
        echo = np.zeros_like(act)
        for j, other in enumerate(active):
            if j != i:
                echo |= other & (relative[i] < relative[j] - CROSSTALK_DB)
        out.append(act & ~echo)
    return out


def smooth(mask: Mask) -> Mask:
    """Bridge short pauses, then drop short bursts (frame units from the constants above)."""
    gap = int(round(MAX_GAP_SECONDS / HOP_SECONDS))
    shortest = int(round(MIN_RUN_SECONDS / HOP_SECONDS))
    return drop_short(close_gaps(mask, gap), shortest)


def run_starts(mask: Mask) -> Ints:
    """For each frame, the index where its run of True began (-1 where False); shape (n,)."""
    idx = np.arange(mask.size, dtype=np.int64)
    starts = np.where(mask & ~np.concatenate([[False], mask[:-1]]), idx, -1)
    latest = np.maximum.accumulate(starts)
    return np.where(mask, latest, -1)
