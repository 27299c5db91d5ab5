"""Transcription of a 10-minute two-channel 8 kHz call with about half speech per channel.

Same run, same model (the packaged whisper-base, int8, one CPU thread), same audio:
- **bare faster-whisper, whole channels**: each channel resampled to 16 kHz and given to
  ``WhisperModel.transcribe`` whole (its own VAD off, as our stage calls it) — what the
  speed-up of transcribing speech regions only is measured against;
- **bare faster-whisper, our regions**: the same model on exactly the speech regions our stage
  decodes — the baseline of our stage's overhead (VAD, resampling, filtering, t2s, word times);
- **our stage**: ``audio.asr.transcribe_call``;
- **``qc analyze``** of the call as a record without a transcript, in a fresh process, model
  load included (wall clock; the 2-core target).

Targets (issue 20): overhead ≤ 1.1× the bare model on the same regions; ≥ 4× realtime per core
(call seconds, both channels transcribed); ``qc analyze`` ≥ 2× realtime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

from bench.data import REPO, SHARED
from qc_service.audio.asr import MODEL_RATE, speech_regions, to_model_rate, transcribe_call
from qc_service.audio.asr_model import WhisperTranscriber, assemble
from qc_service.audio.features import analyze_call

RATE = 8000
SECONDS = 600.0
CHANNELS = {"agent": 0, "customer": 1}
CLIPS = ["funasr_asr_example_zh.wav", "aishell1_BAC009S0724W0121.wav", "aishell1_BAC009S0764W0121.wav",
         "funasr_paraformer_example_1.wav", "funasr_paraformer_example_2.wav",
         "funasr_paraformer_example_3.wav", "funasr_ggml_zh.wav", "funasr_onnx_asr_example_short.wav"]  # fmt: skip


def _clips() -> tuple[list[np.ndarray], str]:
    folder = SHARED / "audio_mandarin_samples"
    names = CLIPS if folder.is_dir() else CLIPS[:3]
    if not folder.is_dir():
        folder = REPO / "tests" / "data" / "audio"
    out = []
    for name in names:
        x, rate = sf.read(folder / name, dtype="float64", always_2d=True)
        x = scipy.signal.resample_poly(x.mean(axis=1), RATE, rate)
        out.append(x * 10 ** (-20 / 20) / np.sqrt(np.mean(x**2)))
    return out, str(folder)


def build_call(seed: int = 20) -> tuple[np.ndarray, float, str]:
    """Each channel on its own: a clip, then a pause as long as the clip (~half speech)."""
    rng = np.random.default_rng(seed)
    clips, where = _clips()
    n = int(SECONDS * RATE)
    x = rng.standard_normal((n, 2)) * 10 ** (-65 / 20)
    speech = 0.0
    for channel in (0, 1):
        t = float(rng.uniform(0.3, 3.0))
        while True:
            clip = clips[int(rng.integers(len(clips)))]
            a = int(t * RATE)
            if a + clip.size >= n:
                break
            x[a : a + clip.size, channel] += clip
            speech += clip.size / RATE
            t += clip.size / RATE * rng.uniform(1.7, 2.3)
    return np.clip(x, -1, 1).astype(np.float32), speech / 2 / SECONDS, where


def run() -> dict[str, float]:
    x, share, where = build_call()
    print(f"asr stage: {SECONDS / 60:.0f}-minute 2-channel {RATE} Hz call, {share:.0%} speech per "
          f"channel, clips from {where}; whisper-base int8, 1 thread")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        model = assemble(Path(tmp) / "data")
        t0 = time.perf_counter()
        tr = WhisperTranscriber(str(model), compute_type="int8", cpu_threads=1)
        load = time.perf_counter() - t0
        features = analyze_call(x, RATE, channels=CHANNELS)
        chans = {r: to_model_rate(x[:, i], RATE) for r, i in CHANNELS.items()}
        regions = {r: speech_regions(features.speakers[r].voiced, features.speakers[r].momentary_dbfs)
                   for r in CHANNELS}  # fmt: skip
        decoded = sum(e - s for rs in regions.values() for s, e in rs)

        t0 = time.perf_counter()
        for r in CHANNELS:
            for s, e in regions[r]:
                tr.decode(chans[r][int(s * MODEL_RATE) : int(e * MODEL_RATE)])
        bare_regions = time.perf_counter() - t0

        t0 = time.perf_counter()
        utterances = transcribe_call(x, RATE, CHANNELS, tr)
        ours = time.perf_counter() - t0

        t0 = time.perf_counter()
        for r in CHANNELS:
            tr.decode(chans[r])
        bare_whole = time.perf_counter() - t0

        wav = Path(tmp) / "call.wav"
        sf.write(wav, x, RATE, subtype="PCM_16")
        rec = {"id": "bench-call", "channel": "call", "employee": {"id": "e1"}, "customer": {"id": "c1"},
               "call": {"audio": "call.wav", "channels": CHANNELS}}  # fmt: skip
        (Path(tmp) / "calls.jsonl").write_text(json.dumps(rec) + "\n", encoding="utf-8")
        (Path(tmp) / "rules.yaml").write_text(
            "rules:\n  - {id: b.kw, name: 关键词, when: {keyword: {words: [交易], role: agent}}}\n",
            encoding="utf-8",
        )
        env = {**os.environ, "QC_DATA_DIR": str(Path(tmp) / "data"), "OMP_NUM_THREADS": "1"}
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "qc_service.cli.main", "analyze", str(Path(tmp) / "calls.jsonl"),
                              "--rules", str(Path(tmp) / "rules.yaml"), "--format", "jsonl"],
                             capture_output=True, text=True, env=env, timeout=3600)  # fmt: skip
        cli = time.perf_counter() - t0
        assert out.returncode in (0, 1), out.stderr[-2000:]

    rt = {"ours": SECONDS / ours, "bare_whole": SECONDS / bare_whole, "cli": SECONDS / cli,
          "overhead": ours / bare_regions, "speedup": bare_whole / ours}  # fmt: skip
    print(f"  model load                          {load:7.2f} s")
    print(
        f"  bare faster-whisper, whole channels {bare_whole:7.1f} s  {rt['bare_whole']:5.1f}× realtime"
    )
    print(
        f"  bare faster-whisper, our regions    {bare_regions:7.1f} s  ({decoded:.0f} s of audio decoded)"
    )
    print(f"  our stage (VAD + regions)           {ours:7.1f} s  {rt['ours']:5.1f}× realtime per core "
          f"(target ≥ 4×): {'ok' if rt['ours'] >= 4 else 'MISSED'}; {len(utterances)} utterances")  # fmt: skip
    print(f"    overhead vs the bare model on the same regions {rt['overhead']:.2f}× (target ≤ 1.1×): "
          f"{'ok' if rt['overhead'] <= 1.1 else 'MISSED'}")  # fmt: skip
    print(f"    speed-up from speech regions only  {rt['speedup']:.1f}×")
    print(f"  qc analyze, fresh process, model load included {cli:6.1f} s  {rt['cli']:5.1f}× realtime "
          f"(target ≥ 2×): {'ok' if rt['cli'] >= 2 else 'MISSED'}")  # fmt: skip
    return rt


if __name__ == "__main__":
    run()
