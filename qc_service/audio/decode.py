"""Decoding recordings into float samples, refusing bad files with a message that names them.

Why soundfile and a WAV pre-check: libsndfile decodes WAV (PCM, float, µ-law, A-law), FLAC, OGG
and — from libsndfile 1.1 — MP3 far faster than librosa's loader, but it silently returns the
first part of a WAV whose data was cut off; a cut-off upload must be an error, not a shorter call.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from qc_service.audio.errors import AudioError

_FLOAT_SUBTYPES = frozenset(
    {"FLOAT", "DOUBLE", "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III", "VORBIS", "OPUS"}
)
_WAV_PLACEHOLDER_SIZES = frozenset({0, 0xFFFFFFFF})  # streaming writers leave these in the header
_MAX_WAV_CHUNKS = 64


def decode(
    path: str | Path, *, max_seconds: float = 4 * 3600, max_bytes: int | None = None
) -> tuple[npt.NDArray[np.float32], int]:
    """Read a recording into float samples.

    Parameters
    ----------
    path : str or Path
        WAV (PCM 8/16/24/32-bit, float, µ-law, A-law), FLAC, OGG Vorbis; MP3 where libsndfile
        ≥ 1.1 is installed (soundfile ≥ 0.12 wheels bundle it). AMR is refused: libsndfile has no
        AMR decoder.
    max_seconds : float
        Longest accepted duration, seconds (checked from the header, before decoding).
    max_bytes : int or None
        Largest accepted file size, bytes; None for no limit.

    Returns
    -------
    samples : ndarray of float32, shape (n_samples, n_channels)
        Linear full-scale samples in [-1, 1] (float files are clipped to that range).
    sample_rate : int
        Hz.

    Raises
    ------
    AudioError
        Missing, empty, truncated or non-audio file, NaN/inf samples, too long, too large, or a
        format this system cannot decode; the message starts with ``path``.
    """
    name = str(path)
    size = _file_size(Path(path), name)
    if max_bytes is not None and size > max_bytes:
        raise AudioError(f"{name}: {size} bytes, larger than the limit of {max_bytes} bytes")
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head.startswith(b"#!AMR"):
        raise AudioError(
            f"{name}: AMR audio needs a decoder this system lacks (libsndfile "
            f"{sf.__libsndfile_version__} reads WAV, FLAC, OGG and MP3); convert it first"
        )
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        _check_wav(Path(path), name, size)
    elif head[:4] == b"RIFF" and len(head) < 12:
        raise AudioError(f"{name}: not a valid WAV file (truncated header)")
    try:
        info = sf.info(name)
    except (sf.SoundFileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"{name}: {_unreadable(head, exc)}") from None
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioError(f"{name}: invalid header ({info.samplerate} Hz, {info.channels} channels)")
    if info.frames / info.samplerate > max_seconds:
        raise AudioError(
            f"{name}: {info.frames / info.samplerate:.1f} s long, over the limit of {max_seconds:g} s"
        )
    try:
        data, rate = sf.read(name, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, ValueError) as exc:
        raise AudioError(f"{name}: cannot be decoded ({_detail(exc)})") from None
    samples: npt.NDArray[np.float32] = np.ascontiguousarray(data, dtype=np.float32)
    if samples.shape[0] == 0:
        raise AudioError(f"{name}: no audio samples")
    if samples.shape[0] / int(rate) > max_seconds:
        raise AudioError(
            f"{name}: {samples.shape[0] / int(rate):.1f} s long, over the limit of {max_seconds:g} s"
        )
    if info.subtype in _FLOAT_SUBTYPES or info.subtype not in sf.available_subtypes():
        if not bool(np.isfinite(samples).all()):
            raise AudioError(f"{name}: contains NaN or infinite samples")
        np.clip(samples, -1.0, 1.0, out=samples)
    return samples, int(rate)


def _file_size(path: Path, name: str) -> int:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise AudioError(f"{name}: no such file") from None
    except OSError as exc:
        raise AudioError(f"{name}: cannot be read ({exc.strerror})") from None
    if path.is_dir():
        raise AudioError(f"{name}: is a directory, not an audio file")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{name}: cannot be read (permission denied)")
    if st.st_size == 0:
        raise AudioError(f"{name}: empty file (0 bytes)")
    return st.st_size


def _check_wav(path: Path, name: str, size: int) -> None:
    """Walk the RIFF chunks up to ``data``; refuse a cut-off header or a cut-off data chunk."""
    with open(path, "rb") as fh:
        pos = 12
        for _ in range(_MAX_WAV_CHUNKS):
            fh.seek(pos)
            header = fh.read(8)
            if len(header) < 8:
                raise AudioError(f"{name}: not a valid WAV file (truncated header)")
            chunk_id, chunk_size = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk_id == b"data":
                available = size - pos - 8
                if chunk_size not in _WAV_PLACEHOLDER_SIZES and chunk_size > available:
                    raise AudioError(
                        f"{name}: truncated WAV file (header declares {chunk_size} bytes of "
                        f"audio, {available} present)"
                    )
                return
            pos += 8 + chunk_size + (chunk_size & 1)
            if pos > size:
                raise AudioError(f"{name}: not a valid WAV file (truncated header)")
    raise AudioError(f"{name}: not a valid WAV file (no data chunk)")


def _detail(exc: BaseException) -> str:
    text = str(getattr(exc, "error_string", "") or exc)
    return text.split(": ", 1)[1] if text.startswith("Error opening") and ": " in text else text


def _unreadable(head: bytes, exc: BaseException) -> str:
    detail = _detail(exc)
    if head[:3] == b"ID3" or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        if "MP3" not in sf.available_formats():
            return (
                f"MP3 needs libsndfile >= 1.1 (this system has {sf.__libsndfile_version__}); "
                "convert it first"
            )
        return f"not a valid MP3 file ({detail})"
    if head[:4] == b"RIFF":
        return f"not a valid WAV file ({detail})"
    return f"not an audio file this system can read ({detail})"


def resolve_audio_path(audio: str, *, base_dirs: list[Path]) -> Path:
    """An absolute path as is; a relative one against the records file's folder or QC_DATA_DIR."""
    path = Path(audio)
    if path.is_absolute():
        return path
    for base in base_dirs:
        candidate = base / path
        if candidate.exists():
            return candidate
    return base_dirs[0] / path if base_dirs else path
