"""analyze_call on calls built from real speech with known stretches (see audio_calls.py)."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from audio_calls import (
    AGENT,
    CHANNELS,
    CUSTOMER,
    LOUD,
    OVERTALKS,
    SILENCES,
    SPEECH,
    assert_stretches,
    build_call,
)

from qc_service.audio import HOP_SECONDS, AudioError, CallFeatures, Segment, analyze_call
from qc_service.audio._vad import runs

RATE = 16000
TEXTS = {
    "agent": "您好这里是客服中心请问有什么可以帮您",
    "customer": "我想问一下订单的退款什么时候到账",
}


def voiced_runs(features: CallFeatures, role: str) -> list[tuple[float, float]]:
    starts, ends = runs(features.speakers[role].voiced)
    return [(s * HOP_SECONDS, e * HOP_SECONDS) for s, e in zip(starts, ends, strict=True)]


def truth_segments() -> list[Segment]:
    return sorted(
        (Segment(role, a, b, TEXTS[role]) for role, spans in SPEECH.items() for a, b in spans),
        key=lambda s: s.start,
    )


def assert_call_timeline(features: CallFeatures) -> None:
    assert_stretches([(s.start, s.end) for s in features.silences], SILENCES)
    assert_stretches(
        [(s.start, s.end) for s in features.overtalks], [(a, b) for a, b, _ in OVERTALKS]
    )
    assert [s.by for s in features.overtalks] == [by for _, _, by in OVERTALKS]
    for s in features.silences + features.overtalks:
        assert s.value == pytest.approx(s.end - s.start, abs=1e-6)


@pytest.fixture(scope="module")
def normal() -> CallFeatures:
    return analyze_call(build_call(RATE), RATE, channels=CHANNELS)


def test_stereo_call_speech_silence_and_overtalk(normal: CallFeatures) -> None:
    assert set(normal.speakers) == {"agent", "customer"}
    assert normal.duration == pytest.approx(20.0)
    assert normal.sample_rate == RATE
    merged_agent = [(0.0, 3.0), (9.0, 12.0), (13.0, 15.0), (18.0, 20.0)]
    assert_stretches(voiced_runs(normal, "agent"), merged_agent)
    assert_stretches(voiced_runs(normal, "customer"), SPEECH["customer"])
    assert_call_timeline(normal)


def test_speaker_arrays_share_the_frame_grid(normal: CallFeatures) -> None:
    n = int(np.ceil(20.0 / HOP_SECONDS))
    for sp in normal.speakers.values():
        assert sp.frame_times.shape == sp.momentary_dbfs.shape == sp.voiced.shape == (n,)
        assert sp.frame_times[0] == pytest.approx(HOP_SECONDS / 2)
        assert np.all(np.diff(sp.frame_times) == pytest.approx(HOP_SECONDS))
        assert sp.voiced.dtype == np.bool_
        assert sp.baseline_dbfs == pytest.approx(-20.0, abs=3.0)
        assert sp.clipped_ratio == 0.0


def test_normal_call_has_no_loudness_violation(normal: CallFeatures) -> None:
    for role in ("agent", "customer"):
        assert normal.loud_stretches(role, over_dbfs=-6) == []
        assert normal.loud_stretches(role, over_baseline_db=10) == []


def test_agent_12_db_louder_is_found_absolutely_and_relatively() -> None:
    features = analyze_call(build_call(RATE, loud_db=12), RATE, channels=CHANNELS)
    for found in (
        features.loud_stretches("agent", over_baseline_db=10),
        features.loud_stretches("agent", over_dbfs=-10),
    ):
        assert_stretches([(s.start, s.end) for s in found], [LOUD])
    (relative,) = features.loud_stretches("agent", over_baseline_db=10)
    (absolute,) = features.loud_stretches("agent", over_dbfs=-10)
    assert relative.value == pytest.approx(12, abs=3)
    assert absolute.value == pytest.approx(-8, abs=3)
    assert features.loud_stretches("customer", over_baseline_db=10) == []
    assert features.loud_stretches("agent", over_baseline_db=10, min_seconds=2.5) == []
    assert_call_timeline(features)


def test_quiet_line_relative_bound_finds_what_the_absolute_one_cannot() -> None:
    features = analyze_call(build_call(RATE, loud_db=10, gain_db=-30), RATE, channels=CHANNELS)
    assert features.speakers["agent"].baseline_dbfs == pytest.approx(-50, abs=3)
    found = features.loud_stretches("agent", over_baseline_db=8)
    assert_stretches([(s.start, s.end) for s in found], [LOUD])
    assert features.loud_stretches("agent", over_dbfs=-10) == []
    assert_call_timeline(features)


def test_loudness_in_natural_uneven_speech() -> None:
    features = analyze_call(build_call(RATE, loud_db=12, even=False), RATE, channels=CHANNELS)
    found = features.loud_stretches("agent", over_baseline_db=8)
    assert_stretches([(s.start, s.end) for s in found], [LOUD])
    assert_call_timeline(features)


def test_lufs_is_pyloudnorm_on_each_channel() -> None:
    x = build_call(RATE, loud_db=6)
    features = analyze_call(x, RATE, channels=CHANNELS)
    meter = pyloudnorm.Meter(RATE)
    for role, ch in CHANNELS.items():
        expected = meter.integrated_loudness(x[:, ch].astype(np.float64))
        assert features.speakers[role].lufs == pytest.approx(expected, abs=0.01)
    spans = [
        ("agent", AGENT, LOUD),
        ("customer", CUSTOMER, (7.0, 11.0)),
        ("agent", AGENT, (4.0, 6.0)),
    ]
    for role, ch, (a, b) in spans:
        part = x[int(a * RATE) : int(b * RATE), ch].astype(np.float64)
        assert features.segment_lufs(role, a, b) == pytest.approx(
            meter.integrated_loudness(part), abs=0.05
        )
    assert features.segment_lufs("agent", 1.0, 1.2) is None  # shorter than a 400 ms block
    assert features.segment_lufs("nobody", 0.0, 5.0) is None


def test_echo_of_the_agent_on_the_customer_line_is_not_overtalk() -> None:
    features = analyze_call(build_call(RATE, echo_db=30), RATE, channels=CHANNELS)
    assert_stretches(voiced_runs(features, "customer"), SPEECH["customer"])
    assert_call_timeline(features)


def test_clipping_is_measured_per_speaker() -> None:
    features = analyze_call(build_call(RATE, loud_db=40), RATE, channels=CHANNELS)
    assert 0.01 < features.speakers["agent"].clipped_ratio < 0.1
    assert features.speakers["customer"].clipped_ratio == 0.0


def test_mono_call_with_segments() -> None:
    x = build_call(RATE, loud_db=12)
    mono = x.mean(axis=1)
    features = analyze_call(mono, RATE, channels=None, segments=truth_segments())
    assert set(features.speakers) == {"agent", "customer"}
    assert_call_timeline(features)
    found = features.loud_stretches("agent", over_baseline_db=8)
    assert_stretches([(s.start, s.end) for s in found], [LOUD])
    assert features.loud_stretches("customer", over_baseline_db=8) == []
    customer = features.speakers["customer"]
    assert customer.momentary_dbfs[customer.frame_times < 6.0].max() == -120.0  # not their time
    assert features.speakers["agent"].lufs is not None
    assert features.segment_lufs("agent", *LOUD) == pytest.approx(
        pyloudnorm.Meter(RATE).integrated_loudness(mono[13 * RATE : 15 * RATE].astype(np.float64)),
        abs=0.05,
    )


def test_mono_call_without_segments_still_has_silences() -> None:
    features = analyze_call(build_call(RATE).mean(axis=1), RATE, channels=None)
    assert features.speakers == {}
    assert features.overtalks == []
    assert_stretches([(s.start, s.end) for s in features.silences], SILENCES)
    assert features.loud_stretches("agent", over_dbfs=-10) == []


@pytest.mark.parametrize("swap", [False, True])
def test_stereo_without_channel_map_follows_the_segments(swap: bool) -> None:
    x = build_call(RATE)
    if swap:
        x = x[:, ::-1].copy()
    features = analyze_call(x, RATE, channels=None, segments=truth_segments())
    mapped = analyze_call(x, RATE, channels={"agent": int(swap), "customer": 1 - int(swap)})
    for role in ("agent", "customer"):
        assert features.speakers[role].lufs == pytest.approx(mapped.speakers[role].lufs)
    assert_call_timeline(features)


def test_identical_channels_without_map_are_treated_as_mono() -> None:
    mono = build_call(RATE).mean(axis=1, dtype=np.float32)
    features = analyze_call(
        np.stack([mono, mono], axis=1), RATE, channels=None, segments=truth_segments()
    )
    assert_call_timeline(features)
    assert (
        features.speakers["agent"]
        .momentary_dbfs[
            (features.speakers["agent"].frame_times > 7.2)
            & (features.speakers["agent"].frame_times < 8.8)
        ]
        .max()
        == -120.0
    )


@pytest.mark.parametrize(
    ("shape", "channels", "message"),
    [
        ((16000,), {"agent": 0, "customer": 1}, "channel map .* names channel 1 .* 1 channel"),
        ((16000, 2), {"agent": 0, "customer": 2}, "channel map .* names channel 2 .* 2 channels"),
        ((16000, 2), {"agent": 0, "customer": 0}, "channel map .* gives channel 0 to both"),
        ((16000, 2), {"agent": -1, "customer": 1}, "channel map .* names channel -1"),
        ((16000, 2), {}, "channel map is empty"),
    ],
)
def test_wrong_channel_map(shape: tuple[int, ...], channels: dict[str, int], message: str) -> None:
    with pytest.raises(AudioError, match=message):
        analyze_call(np.zeros(shape, dtype=np.float32), RATE, channels=channels)


def test_unusable_samples_and_rates() -> None:
    with pytest.raises(AudioError, match="NaN"):
        analyze_call(np.full((16000, 2), np.nan, dtype=np.float32), RATE, channels=CHANNELS)
    with pytest.raises(AudioError, match="no audio samples"):
        analyze_call(np.zeros((0, 2), dtype=np.float32), RATE, channels=CHANNELS)
    with pytest.raises(AudioError, match="sample rate"):
        analyze_call(np.zeros((4000, 2), dtype=np.float32), 4000, channels=CHANNELS)


def test_digital_silence_and_very_short_audio() -> None:
    silent = analyze_call(np.zeros((RATE * 3, 2), dtype=np.float32), RATE, channels=CHANNELS)
    assert silent.silences == silent.overtalks == []
    assert silent.speakers["agent"].baseline_dbfs is None
    assert silent.speakers["agent"].lufs is None
    assert float(silent.speakers["agent"].momentary_dbfs.max()) == -120.0
    tiny = analyze_call(np.full((100, 2), 0.1, dtype=np.float32), RATE, channels=CHANNELS)
    assert tiny.speakers["agent"].frame_times.shape == (1,)
    assert tiny.speakers["agent"].lufs is None


def test_loud_stretches_takes_exactly_one_bound(normal: CallFeatures) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        normal.loud_stretches("agent")
    with pytest.raises(ValueError, match="exactly one"):
        normal.loud_stretches("agent", over_dbfs=-10, over_baseline_db=10)
    assert normal.loud_stretches("system", over_dbfs=-60) == []
