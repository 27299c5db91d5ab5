"""Audio stage throughput on a 10-minute two-channel 8 kHz call, against pyloudnorm in-process.

Prints realtime factors (audio seconds per wall second, one core) for: our full audio stage
(decode + K-weighting + loudness + VAD + silences/overtalk, i.e. ``decode`` + ``analyze_call``),
its parts, and ``pyloudnorm.Meter(rate).integrated_loudness`` alone on the same decoded samples
(the baseline), then per-segment loudness: ``CallFeatures.segment_lufs`` (gating only; the call
was K-weighted once) against pyloudnorm called per segment. The call is tiled from real Mandarin
clips (../shared/data/audio_mandarin_samples, else tests/data/audio), resampled to 8 kHz, with
turns, pauses, overlaps and line noise. Targets: ≥ 500× realtime, ≥ 0.4× pyloudnorm's speed.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyloudnorm
import scipy.signal
import soundfile as sf

from bench.data import REPO, SHARED
from qc_service.audio import Segment, analyze_call, decode

RATE = 8000
SECONDS = 600.0
CHANNELS = {"agent": 0, "customer": 1}
AGENT_CLIPS = ["funasr_asr_example_zh.wav", "funasr_paraformer_example_1.wav", "funasr_paraformer_example_2.wav",
               "funasr_paraformer_example_3.wav", "funasr_paraformer_example_4.wav"]  # fmt: skip
CUSTOMER_CLIPS = ["aishell1_BAC009S0724W0121.wav", "aishell1_BAC009S0764W0121.wav",
                  "funasr_onnx_asr_example_short.wav", "funasr_ggml_zh.wav"]  # fmt: skip


def _clips(names: list[str]) -> tuple[list[np.ndarray], str]:
    folder = SHARED / "audio_mandarin_samples"
    if not all((folder / n).exists() for n in names):
        folder = REPO / "tests" / "data" / "audio"
        names = [n for n in names if (folder / n).exists()]
    out = []
    for name in names:
        x, rate = sf.read(folder / name, dtype="float64", always_2d=True)
        x = scipy.signal.resample_poly(x.mean(axis=1), RATE, rate)
        out.append(x * 10 ** (-20 / 20) / np.sqrt(np.mean(x**2)))  # -20 dBFS RMS
    return out, str(folder)


def build_call(seed: int = 1) -> tuple[np.ndarray, list[Segment], str]:
    """A 10-minute call: alternating turns from real clips, pauses 0.3–4 s, some overlaps."""
    rng = np.random.default_rng(seed)
    agent, where = _clips(AGENT_CLIPS)
    customer, _ = _clips(CUSTOMER_CLIPS)
    n = int(SECONDS * RATE)
    x = rng.standard_normal((n, 2)) * 10 ** (-65 / 20)
    segments: list[Segment] = []
    t, turn = 0.5, 0
    while True:
        role, pool = ("agent", agent) if turn % 2 == 0 else ("customer", customer)
        clip = pool[int(rng.integers(len(pool)))] * 10 ** (rng.uniform(-4, 4) / 20)
        a = int(t * RATE)
        if a + clip.size >= n:
            break
        x[a : a + clip.size, CHANNELS[role]] += clip
        segments.append(Segment(role, t, t + clip.size / RATE, "您好请问有什么可以帮您"))
        gap = rng.uniform(-1.0, 0.0) if rng.random() < 0.15 else rng.uniform(0.3, 4.0)
        t = max(t + 0.5, t + clip.size / RATE + gap)
        turn += 1
    return np.clip(x, -1, 1).astype(np.float32), segments, where


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run() -> dict[str, float]:
    x, segments, where = build_call()
    print(
        f"audio stage: {SECONDS / 60:.0f}-minute 2-channel {RATE} Hz call, {len(segments)} turns tiled from {where}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "call.wav"
        sf.write(path, x, RATE, subtype="PCM_16")
        analyze_call(*decode(path), channels=CHANNELS)  # warm caches
        t_stage, features = _best(lambda: analyze_call(*decode(path), channels=CHANNELS), 5)
        t_decode, (samples, _) = _best(lambda: decode(path), 5)
    t_analyze, _ = _best(lambda: analyze_call(samples, RATE, channels=CHANNELS), 5)
    meter = pyloudnorm.Meter(RATE)
    t_pln, lufs_pln = _best(lambda: meter.integrated_loudness(samples), 3)
    per_channel = [meter.integrated_loudness(samples[:, ch].astype(np.float64)) for ch in (0, 1)]
    ours = [features.speakers[r].lufs for r in ("agent", "customer")]
    delta = max(abs(a - b) for a, b in zip(ours, per_channel, strict=True))

    t_seg, seg_ours = _best(
        lambda: [features.segment_lufs(s.role, s.start, s.end) for s in segments], 3
    )
    t_seg_pln, seg_pln = _best(
        lambda: [meter.integrated_loudness(samples[int(s.start * RATE) : int(s.end * RATE), CHANNELS[s.role]].astype(np.float64))
                 for s in segments], 1)  # fmt: skip
    seg_delta = max(abs(a - b) for a, b in zip(seg_ours, seg_pln, strict=True) if a is not None)

    rt = {
        "stage": SECONDS / t_stage,
        "decode": SECONDS / t_decode,
        "analyze": SECONDS / t_analyze,
        "pyloudnorm": SECONDS / t_pln,
    }
    print(
        f"  decode + analyze_call    {t_stage * 1000:8.1f} ms  {rt['stage']:8.0f}× realtime   (target ≥ 500×)"
    )
    print(f"    decode alone           {t_decode * 1000:8.1f} ms  {rt['decode']:8.0f}× realtime")
    print(f"    analyze_call alone     {t_analyze * 1000:8.1f} ms  {rt['analyze']:8.0f}× realtime")
    print(
        f"  pyloudnorm integrated    {t_pln * 1000:8.1f} ms  {rt['pyloudnorm']:8.0f}× realtime   (both channels, {lufs_pln:.2f} LUFS)"
    )
    print(f"  stage speed / pyloudnorm speed: {t_pln / t_stage:.2f}   (target ≥ 0.4)")
    print(f"  speaker LUFS vs pyloudnorm per channel: max |Δ| = {delta:.4f} dB")
    print(f"  {len(segments)} segment LUFS: ours {t_seg * 1000:.1f} ms, pyloudnorm per segment {t_seg_pln * 1000:.1f} ms "
          f"({t_seg_pln / t_seg:.0f}× faster), max |Δ| = {seg_delta:.3f} dB")  # fmt: skip
    print(f"  found: {len(features.silences)} silences, {len(features.overtalks)} overtalks")
    return {
        "realtime": rt["stage"],
        "vs_pyloudnorm": t_pln / t_stage,
        "segment_speedup": t_seg_pln / t_seg,
    }


if __name__ == "__main__":
    run()
