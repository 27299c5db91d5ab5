"""Write the demo's call recording and its record (run once; the outputs are committed).

``.venv/bin/python -m qc_service.demo.audio_call`` builds a 40-second stereo 8 kHz call from
real Mandarin speech (tests/data/audio: FunASR example, MIT; AISHELL-1, Apache-2.0 — see
tests/data/audio/CREDITS.md): a 17-second dead air, an agent who gets 12 dB louder than their
own baseline for 2 seconds on a quiet phone line, and a transcript that promises 保本. And a
second call that arrives as a bare recording, with no transcript (the service transcribes it): a
securities adviser talking up delisted stocks (FunASR's long example, MIT) to a customer who
answers with an AISHELL-1 sentence (Apache-2.0).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
CLIPS = ROOT / "tests" / "data" / "audio"
OUT = Path(__file__).parent / "data"
RATE = 8000
LAYOUT = [  # channel, clip, start, end, extra dB
    (0, "funasr_asr_example_zh.wav", 0.0, 3.0, 0.0),
    (1, "aishell1_BAC009S0724W0121.wav", 20.0, 24.0, 0.0),
    (0, "funasr_asr_example_zh.wav", 24.5, 27.5, 0.0),
    (0, "funasr_asr_example_zh.wav", 28.0, 30.0, 12.0),
    (1, "aishell1_BAC009S0764W0121.wav", 31.0, 34.0, 0.0),
    (0, "funasr_asr_example_zh.wav", 35.0, 38.0, 0.0),
]
TEXTS = [
    ("agent", "您好，我是星辰理财的小王，上次您问的产品有新消息了"),
    ("customer", "什么产品啊，我想想，你等一下"),
    ("agent", "就是那个月月盈，年化三点五，这个产品保本的"),
    ("agent", "您到底听没听我说！我说了是保本的！"),
    ("customer", "你这么大声干什么，我再考虑考虑"),
    ("agent", "好的好的，那您考虑好了随时找我"),
]


def _voice(name: str) -> np.ndarray:
    x, rate = sf.read(CLIPS / name, dtype="float64")
    if x.ndim > 1:
        x = x.mean(axis=1)
    if rate != RATE:
        from scipy.signal import resample_poly

        g = np.gcd(rate, RATE)
        x = resample_poly(x, RATE // g, rate // g)
    return x / np.sqrt(np.mean(x**2))


def main() -> int:
    n = 40 * RATE
    call = np.zeros((n, 2))
    for channel, clip, start, end, extra in LAYOUT:
        v = _voice(clip)
        k = int((end - start) * RATE)
        part = np.tile(v, k // v.size + 1)[:k]
        a = int(start * RATE)
        call[a : a + k, channel] += part * 10 ** ((-20.0 + extra) / 20)
    call += np.random.default_rng(3).standard_normal(call.shape) * 10 ** (-65 / 20)
    call *= 10 ** (-12 / 20)  # a quiet line
    sf.write(
        OUT / "audio" / "demo-call-1.wav",
        np.clip(call, -1, 1).astype(np.float32),
        RATE,
        subtype="PCM_16",
    )
    segments = [
        {"role": role, "start": s, "end": e, "text": t}
        for (role, t), (_, _, s, e, _) in zip(TEXTS, LAYOUT, strict=True)
    ]
    record = {
        "id": "demo-call-audio-1", "channel": "call", "tenant": "default",
        "employee": {"id": "e03", "name": "刘洋", "team": "理财顾问组", "supervisor_id": "e91"},
        "customer": {"id": "c0901", "name": "周先生"}, "started_at": "2026-11-21T15:00:00+08:00",
        "call": {"audio": "audio/demo-call-1.wav", "channels": {"agent": 0, "customer": 1}, "segments": segments},
    }  # fmt: skip
    bare = _bare_call()
    (OUT / "demo_calls.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in (record, bare)), encoding="utf-8"
    )
    sys.stdout.write(f"wrote {OUT / 'audio'} and {OUT / 'demo_calls.jsonl'}\n")
    return 0


def _bare_call() -> dict[str, object]:
    """40 s, 8 kHz: the adviser from 2 s to 27 s, the customer from 30 s; no transcript."""
    call = np.random.default_rng(5).standard_normal((40 * RATE, 2)) * 10 ** (-65 / 20)
    for channel, clip, start, gain_db in ((0, "funasr_onnx_long_25s_loud.wav", 2.0, -20.0),
                                          (1, "aishell1_BAC009S0724W0121.wav", 30.0, -20.0)):  # fmt: skip
        v = _voice(clip) * 10 ** (gain_db / 20)
        a = int(start * RATE)
        call[a : a + v.size, channel] += v
    sf.write(
        OUT / "audio" / "demo-call-2.wav",
        np.clip(call, -1, 1).astype(np.float32),
        RATE,
        subtype="PCM_16",
    )
    return {
        "id": "demo-call-bare-1", "channel": "call", "tenant": "default",
        "employee": {"id": "e03", "name": "刘洋", "team": "理财顾问组", "supervisor_id": "e91"},
        "customer": {"id": "c0902", "name": "吴女士"}, "started_at": "2026-11-22T10:00:00+08:00",
        "call": {"audio": "audio/demo-call-2.wav", "channels": {"agent": 0, "customer": 1}},
    }  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
