"""Call features for the audio rules: per-speaker loudness and voice activity, silences, overtalk.

Why one analysis object: the rule operators (loudness, silence, overtalk, speech_rate) and the
reviewer's loudness chart all read the same measurements, so a call is decoded, filtered and
framed once (50 ms frames, numpy only — librosa stays out of this path) and every operator then
asks cheap questions of ``CallFeatures``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from qc_service.audio import _dsp, _vad
from qc_service.audio._dsp import FLOOR_DBFS, HOP_SECONDS, FramePowers
from qc_service.audio.decode import decode
from qc_service.audio.errors import AudioError
from qc_service.audio.timeline import (
    Segment,
    Stretch,
    frame_second,
    overtalks,
    silences,
    speech_rates,
)

__all__ = [
    "HOP_SECONDS",
    "CallFeatures",
    "Segment",
    "SpeakerFeatures",
    "Stretch",
    "analyze_call",
    "decode",
    "speech_rates",
]

LOUD_GAP_SECONDS = 0.25
"""Dips shorter than this do not end a loud stretch (one soft syllable), seconds."""
INFER_CONTRAST_DB = 6.0
"""Without a channel map, a stereo call is split by channel only if each role's segments are
this much louder on one channel than the other's segments are (dB); else it is mixed to mono."""
MIN_RATE, MAX_RATE = 8000, 384_000
_ROLES = ("agent", "customer")
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass(slots=True)
class SpeakerFeatures:
    """One speaker's measurements on the common 50 ms frame grid.

    Attributes
    ----------
    role : str
    frame_times : ndarray of float64, shape (n_frames,)
        Frame centres, seconds; hop ``HOP_SECONDS``.
    momentary_dbfs : ndarray of float64, shape (n_frames,)
        400 ms loudness around each frame, dBFS of the 38 Hz high-passed signal (full-scale
        square wave = 0 dBFS); silence reads ``FLOOR_DBFS`` (-120). Mono calls: the floor outside
        this role's segments.
    voiced : ndarray of bool, shape (n_frames,)
        Voice activity.
    baseline_dbfs : float or None
        Median ``momentary_dbfs`` over voiced frames, dBFS; None if never voiced.
    lufs : float or None
        BS.1770-4 integrated loudness of this speaker, LUFS (as pyloudnorm measures the channel);
        None if shorter than 400 ms or silent.
    clipped_ratio : float
        Share of this speaker's samples with |x| >= 0.99.
    """

    role: str
    frame_times: npt.NDArray[np.float64]
    momentary_dbfs: npt.NDArray[np.float64]
    voiced: npt.NDArray[np.bool_]
    baseline_dbfs: float | None
    lufs: float | None
    clipped_ratio: float


@dataclass(slots=True)
class CallFeatures:
    """Everything the audio rules read about one call.

    Attributes
    ----------
    duration : float
        Seconds.
    sample_rate : int
        Hz.
    speakers : dict of str to SpeakerFeatures
        Keyed by role (``"agent"``, ``"customer"``); empty for mono audio without segments.
    silences : list of Stretch
        Nobody voiced, between the first and last speech of the call; value = seconds.
    overtalks : list of Stretch
        Two or more voiced; ``by`` = the role whose speech started later; value = seconds.
    """

    duration: float
    sample_rate: int
    speakers: dict[str, SpeakerFeatures]
    silences: list[Stretch]
    overtalks: list[Stretch]
    _kpower: dict[str, F64] = field(default_factory=dict, repr=False, compare=False)

    def loud_stretches(
        self,
        role: str,
        *,
        over_dbfs: float | None = None,
        over_baseline_db: float | None = None,
        min_seconds: float = 1.0,
    ) -> list[Stretch]:
        """Stretches where the role's momentary loudness stays over a bound.

        Parameters
        ----------
        role : str
            A key of ``speakers``; an unknown role has no stretches.
        over_dbfs : float, optional
            Absolute bound, dBFS.
        over_baseline_db : float, optional
            Bound relative to the speaker's ``baseline_dbfs``, dB (robust to phone gain).
        min_seconds : float
            Shortest stretch reported, seconds; dips under 0.25 s do not end a stretch.

        Returns
        -------
        list of Stretch
            value = peak dBFS (``over_dbfs``) or peak dB over the baseline.
        """
        if (over_dbfs is None) == (over_baseline_db is None):
            raise ValueError("loud_stretches takes exactly one of over_dbfs, over_baseline_db")
        sp = self.speakers.get(role)
        if sp is None:
            return []
        if over_dbfs is not None:
            level, bound = sp.momentary_dbfs, float(over_dbfs)
        elif sp.baseline_dbfs is None:
            return []
        else:
            level, bound = sp.momentary_dbfs - sp.baseline_dbfs, float(over_baseline_db or 0.0)
        above = _vad.close_gaps(level > bound, int(round(LOUD_GAP_SECONDS / HOP_SECONDS)))
        out = []
        for s, e in zip(*_vad.runs(above), strict=True):
            start, end = frame_second(int(s), self.duration), frame_second(int(e), self.duration)
            if end - start >= min_seconds - 1e-9:
                out.append(Stretch(start, end, float(level[s:e].max())))
        return out

    def segment_lufs(self, role: str, start: float, end: float) -> float | None:
        """BS.1770-4 loudness of the role's audio from ``start`` to ``end`` (seconds), LUFS.

        The channel is K-weighted once in ``analyze_call``; only the 400 ms gating runs here.
        None for an unknown role, a stretch under 400 ms, or silence.
        """
        kpower = self._kpower.get(role)
        if kpower is None:
            return None
        s = max(0, int(round(start / HOP_SECONDS)))
        e = min(kpower.size, int(round(end / HOP_SECONDS)))
        if e <= s:
            return None
        return _dsp.gated_loudness(kpower[s:e], self.sample_rate, (e - s) * HOP_SECONDS)


def analyze_call(
    samples: npt.NDArray[np.float32],
    sample_rate: int,
    *,
    channels: Mapping[str, int] | None,
    segments: list[Segment] | None = None,
) -> CallFeatures:
    """Measure a call: loudness, voice activity, silences and overtalk.

    Parameters
    ----------
    samples : ndarray of float32, shape (n_samples, n_channels) or (n_samples,)
        Full-scale samples in [-1, 1], as ``decode`` returns them.
    sample_rate : int
        Hz, 8000–384000 (8, 16, 44.1, 48 kHz are the usual).
    channels : mapping of str to int or None
        Role → channel index, e.g. ``{"agent": 0, "customer": 1}``. None: stereo audio is split
        by channel when the segments show which channel each role speaks on, else mixed to mono.
    segments : list of Segment, optional
        Transcript segments. Mono (or mixed) audio: each segment's time range belongs to its
        role (``system`` segments are ignored). Without segments mono audio gives silences only.

    Returns
    -------
    CallFeatures

    Raises
    ------
    AudioError
        A channel map naming a missing channel, an unusable rate, no or non-finite samples.
    """
    x = samples[:, None] if samples.ndim == 1 else samples
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise AudioError(f"no audio samples (shape {samples.shape})")
    if not MIN_RATE <= int(sample_rate) <= MAX_RATE:
        raise AudioError(f"sample rate {sample_rate} Hz outside {MIN_RATE}–{MAX_RATE} Hz")
    if not bool(np.isfinite(x).all()):
        raise AudioError("audio contains NaN or infinite samples")
    rate, n_channels = int(sample_rate), x.shape[1]
    duration = x.shape[0] / rate
    if channels is not None:
        roles = _checked_map(channels, n_channels)
        fp = _dsp.frame_powers(x, rate, [roles[r] for r in roles])
        return _by_channel(list(roles), fp, rate, duration)
    if n_channels > 1 and segments:
        fp = _dsp.frame_powers(x, rate, list(range(n_channels)))
        inferred = _infer_map(fp, segments)
        if inferred is not None:
            keep = FramePowers(
                fp.counts, fp.power[inferred], fp.kpower[inferred], fp.clipped[inferred]
            )
            return _by_channel(list(_ROLES), keep, rate, duration)
    mono = x if n_channels == 1 else x.mean(axis=1, dtype=np.float32)[:, None]
    return _by_segments(_dsp.frame_powers(mono, rate, [0]), rate, duration, segments or [])


def _checked_map(channels: Mapping[str, int], n_channels: int) -> dict[str, int]:
    if not channels:
        raise AudioError("channel map is empty")
    seen: dict[int, str] = {}
    for role, index in channels.items():
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise AudioError(f"channel map {dict(channels)}: channel of {role!r} is not an integer")
        if not 0 <= int(index) < n_channels:
            raise AudioError(
                f"channel map {dict(channels)} names channel {index} for {role!r}, "
                f"but the audio has {n_channels} channel{'s' if n_channels != 1 else ''}"
            )
        if int(index) in seen:
            raise AudioError(
                f"channel map {dict(channels)} gives channel {index} to both "
                f"{seen[int(index)]!r} and {role!r}"
            )
        seen[int(index)] = role
    return {role: int(index) for role, index in channels.items()}


def _frame_times(n_frames: int) -> F64:
    return (np.arange(n_frames, dtype=np.float64) + 0.5) * HOP_SECONDS


def _speaker(
    role: str, momentary: F64, voiced: Mask, lufs: float | None, clipped: float
) -> SpeakerFeatures:
    baseline = float(np.median(momentary[voiced])) if voiced.any() else None
    return SpeakerFeatures(
        role, _frame_times(voiced.size), momentary, voiced, baseline, lufs, clipped
    )


def _by_channel(roles: list[str], fp: FramePowers, rate: int, duration: float) -> CallFeatures:
    levels = [_dsp.frame_db(p, fp.counts) for p in fp.power]
    raw = _vad.suppress_crosstalk(levels, [_vad.raw_activity(lv) for lv in levels])
    n_samples = max(1, int(fp.counts.sum()))
    speakers: dict[str, SpeakerFeatures] = {}
    kpower: dict[str, F64] = {}
    for i, role in enumerate(roles):
        voiced = _vad.smooth(raw[i])
        momentary = _dsp.momentary_db(fp.power[i], fp.counts)
        lufs = _dsp.gated_loudness(fp.kpower[i], rate, duration)
        speakers[role] = _speaker(
            role, momentary, voiced, lufs, float(fp.clipped[i].sum()) / n_samples
        )
        kpower[role] = fp.kpower[i]
    by_role = {role: sp.voiced for role, sp in speakers.items()}
    anyone: Mask = np.logical_or.reduce(list(by_role.values()))
    return CallFeatures(
        duration, rate, speakers, silences(anyone, duration), overtalks(by_role, duration), kpower
    )


def _segment_mask(segments: list[Segment], role: str, n_frames: int) -> Mask:
    mask = np.zeros(n_frames, dtype=bool)
    for seg in segments:
        if seg.role == role and seg.end > seg.start:
            a = max(0, int(np.ceil(seg.start / HOP_SECONDS - 0.5)))
            b = min(n_frames, int(np.ceil(seg.end / HOP_SECONDS - 0.5)))
            mask[a:b] = True
    return mask


def _by_segments(
    fp: FramePowers, rate: int, duration: float, segments: list[Segment]
) -> CallFeatures:
    vad = _vad.smooth(_vad.raw_activity(_dsp.frame_db(fp.power[0], fp.counts)))
    n_frames = vad.size
    speakers: dict[str, SpeakerFeatures] = {}
    kpower: dict[str, F64] = {}
    if segments:
        momentary = _dsp.momentary_db(fp.power[0], fp.counts)
        named = [s.role for s in segments if s.role not in _ROLES and s.role != "system"]
        for role in [*_ROLES, *dict.fromkeys(named)]:
            mine = _segment_mask(segments, role, n_frames)
            samples = int(fp.counts[mine].sum())
            clipped = float(fp.clipped[0][mine].sum()) / samples if samples else 0.0
            lufs = _dsp.gated_loudness(fp.kpower[0], rate, duration, usable=mine)
            level = np.where(mine, momentary, FLOOR_DBFS)
            speakers[role] = _speaker(role, level, vad & mine, lufs, clipped)
            kpower[role] = fp.kpower[0]
    return CallFeatures(
        duration,
        rate,
        speakers,
        silences(vad, duration),
        overtalks({role: sp.voiced for role, sp in speakers.items()}, duration),
        kpower,
    )


def _infer_map(fp: FramePowers, segments: list[Segment]) -> list[int] | None:
    """Channel indices [agent, customer] when the segments clearly say so, else None."""
    n_frames = fp.counts.size
    said_a, said_c = (_segment_mask(segments, role, n_frames) for role in _ROLES)
    masks = [said_a & ~said_c, said_c & ~said_a]  # overlaps say nothing about the channel
    if min(int(m.sum()) for m in masks) < 10:
        return None
    mean_power = np.array(
        [[p[m].sum() / max(1, int(fp.counts[m].sum())) for m in masks] for p in fp.power]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        contrast = 10.0 * np.log10(
            np.maximum(mean_power[:, 0], 1e-15) / np.maximum(mean_power[:, 1], 1e-15)
        )
    agent, customer = int(np.argmax(contrast)), int(np.argmin(contrast))
    if (
        agent == customer
        or contrast[agent] < INFER_CONTRAST_DB
        or contrast[customer] > -INFER_CONTRAST_DB
    ):
        return None
    return [agent, customer]
