"""Character error rate of the transcription stage on the clips with reference transcripts
(tests/data/audio, CREDITS.md), at their own 16 kHz and as 8 kHz telephone audio.

Each clip is put on the agent channel of a two-channel call (the customer channel silent), run
through ``audio.asr.transcribe_call`` exactly as the deep lane runs it, and scored without
punctuation. Feeds ``models/asr/MODEL_CARD.md``: ``.venv/bin/python -m bench.asr_cer``.
"""

from __future__ import annotations

import re
import sys
import tempfile
from math import gcd
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

from bench.data import REPO
from qc_service.audio.asr import transcribe_call
from qc_service.audio.asr_model import WhisperTranscriber, assemble

REFERENCES = {
    "aishell1_BAC009S0764W0121.wav": "甚至出现交易几乎停滞的情况",
    "aishell1_BAC009S0724W0121.wav": "广州市房地产中介协会分析",
    "funasr_asr_example_zh.wav": "欢迎大家来体验达摩院推出的语音识别模型",
}


def edits(a: str, b: str) -> int:
    """Levenshtein distance (characters)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _call(name: str, rate: int) -> np.ndarray:
    x, native = sf.read(REPO / "tests" / "data" / "audio" / name, dtype="float64")
    if rate != native:
        g = gcd(rate, native)
        x = scipy.signal.resample_poly(x, rate // g, native // g)
    pad = np.zeros(rate)
    call = np.zeros((x.size + 2 * rate, 2))
    call[:, 0] = np.concatenate([pad, x, pad])
    call += np.random.default_rng(0).normal(0, 0.0003, call.shape)
    return call.astype(np.float32)


def run() -> dict[int, tuple[int, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        tr = WhisperTranscriber(str(assemble(Path(tmp))))
        totals: dict[int, tuple[int, int]] = {}
        for rate in (16000, 8000):
            errs = chars = 0
            for name, ref in REFERENCES.items():
                got = "".join(
                    u.text
                    for u in transcribe_call(
                        _call(name, rate), rate, {"agent": 0, "customer": 1}, tr
                    )
                )
                got = re.sub(r"[\W_]+", "", got)
                e = edits(got, ref)
                errs, chars = errs + e, chars + len(ref)
                sys.stdout.write(f"  {rate:5d} Hz {name:32s} {got} ({e}/{len(ref)})\n")
            totals[rate] = (errs, chars)
            sys.stdout.write(f"asr CER at {rate} Hz: {errs}/{chars} = {errs / chars:.1%}\n")
    return totals


if __name__ == "__main__":
    run()
