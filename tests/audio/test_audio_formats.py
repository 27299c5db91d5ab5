"""The same call written in every supported format and rate decodes to the same features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_calls import CHANNELS, LOUD, OVERTALKS, SILENCES, assert_stretches, build_call

from qc_service.audio import analyze_call, decode

RATES = [8000, 16000, 44100, 48000]
FORMATS = [
    ("WAV", "PCM_U8", "wav"),
    ("WAV", "PCM_16", "wav"),
    ("WAV", "PCM_24", "wav"),
    ("WAV", "FLOAT", "wav"),
    ("WAV", "ULAW", "wav"),
    ("WAV", "ALAW", "wav"),
    ("FLAC", "PCM_16", "flac"),
    ("OGG", "VORBIS", "ogg"),
    ("MP3", "MPEG_LAYER_III", "mp3"),
]


@pytest.fixture(scope="module")
def reference() -> dict[int, tuple[np.ndarray, dict[str, float]]]:
    """Per rate: the float call and its speakers' LUFS measured before any encoding."""
    out = {}
    for rate in RATES:
        x = build_call(rate, loud_db=12)
        f = analyze_call(x, rate, channels=CHANNELS)
        out[rate] = (x, {role: sp.lufs or 0.0 for role, sp in f.speakers.items()})
    return out


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize(
    ("fmt", "subtype", "ext"), FORMATS, ids=[f"{f}-{s}" for f, s, _ in FORMATS]
)
def test_same_features_in_every_format(
    tmp_path: Path,
    reference: dict[int, tuple[np.ndarray, dict[str, float]]],
    rate: int,
    fmt: str,
    subtype: str,
    ext: str,
) -> None:
    if fmt not in sf.available_formats():
        pytest.skip(f"libsndfile {sf.__libsndfile_version__} has no {fmt}")
    x, lufs = reference[rate]
    path = tmp_path / f"call.{ext}"
    sf.write(path, x, rate, format=fmt, subtype=subtype)
    samples, got_rate = decode(path)
    assert got_rate == rate and samples.shape[1] == 2
    features = analyze_call(samples, rate, channels=CHANNELS)
    assert features.duration == pytest.approx(20.0, abs=0.2)
    assert_stretches([(s.start, s.end) for s in features.silences], SILENCES)
    assert_stretches(
        [(s.start, s.end) for s in features.overtalks], [(a, b) for a, b, _ in OVERTALKS]
    )
    assert [s.by for s in features.overtalks] == ["agent"]
    found = features.loud_stretches("agent", over_baseline_db=8)
    assert_stretches([(s.start, s.end) for s in found], [LOUD])
    for role, expected in lufs.items():
        assert features.speakers[role].lufs == pytest.approx(expected, abs=0.5)
