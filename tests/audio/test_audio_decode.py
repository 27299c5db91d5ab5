"""decode(): every supported container reads back; every kind of bad file is an AudioError that
names the file and the problem."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_calls import DATA

from qc_service.audio import AudioError, decode

CLIP = DATA / "aishell1_BAC009S0724W0121.wav"


def stereo(seconds: float = 1.0, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (
        0.25 * np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)], axis=1)
    ).astype(np.float32)


def test_real_clip_decodes_as_float32_columns() -> None:
    samples, rate = decode(CLIP)
    assert rate == 16000
    assert samples.dtype == np.float32
    assert samples.shape == (68496, 1)
    assert 0.1 < float(np.abs(samples).max()) <= 1.0
    same, _ = decode(str(CLIP), max_seconds=5.0, max_bytes=CLIP.stat().st_size)
    assert np.array_equal(samples, same)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "audio" / "conv-1.wav"
    with pytest.raises(AudioError, match=rf"^{path}: no such file$"):
        decode(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=rf"^{path}: empty file"):
        decode(path)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="is a directory"):
        decode(tmp_path)


@pytest.mark.parametrize("keep", [8, 30, 40])
def test_truncated_header(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "conv-2.wav"
    path.write_bytes(CLIP.read_bytes()[:keep])
    with pytest.raises(AudioError, match=rf"^{path}: not a valid WAV file \(truncated header\)$"):
        decode(path)


def test_truncated_audio_data(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    path.write_bytes(CLIP.read_bytes()[:50_000])
    with pytest.raises(
        AudioError,
        match=rf"^{path}: truncated WAV file \(header declares 136992 bytes of audio, 49956 present\)$",
    ):
        decode(path)


def test_streamed_wav_with_placeholder_size_is_read(tmp_path: Path) -> None:
    data = bytearray(CLIP.read_bytes())
    pos = data.index(b"data")
    data[pos + 4 : pos + 8] = struct.pack("<I", 0xFFFFFFFF)
    path = tmp_path / "streamed.wav"
    path.write_bytes(bytes(data))
    samples, rate = decode(path)
    assert rate == 16000 and samples.shape[0] > 60_000


def test_text_file_renamed_wav(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("客户说下周再联系。\n" * 50, encoding="utf-8")
    with pytest.raises(
        AudioError,
        match=rf"^{path}: not an audio file this system can read \(Format not recognised",
    ):
        decode(path)


def test_riff_that_is_not_wave_audio(tmp_path: Path) -> None:
    path = tmp_path / "video.wav"
    path.write_bytes(b"RIFF\x24\x00\x00\x00AVI LIST" + b"\x00" * 40)
    with pytest.raises(AudioError, match=rf"^{path}: not a valid WAV file"):
        decode(path)


def test_nan_samples(tmp_path: Path) -> None:
    x = stereo()
    x[100, 1] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, x, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match=rf"^{path}: contains NaN or infinite samples$"):
        decode(path)


def test_infinite_samples(tmp_path: Path) -> None:
    x = stereo().astype(np.float64)
    x[5, 0] = np.inf
    path = tmp_path / "inf.wav"
    sf.write(path, x, 8000, subtype="DOUBLE")
    with pytest.raises(AudioError, match="NaN or infinite"):
        decode(path)


def test_float_wav_over_full_scale_is_clipped(tmp_path: Path) -> None:
    path = tmp_path / "hot.wav"
    sf.write(path, stereo() * 8, 8000, subtype="FLOAT")
    samples, _ = decode(path)
    assert float(samples.max()) == 1.0 and float(samples.min()) == -1.0


def test_longer_than_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    sf.write(path, stereo(3.0), 8000, subtype="PCM_16")
    assert decode(path, max_seconds=3.0)[0].shape == (24000, 2)
    with pytest.raises(AudioError, match=rf"^{path}: 3.0 s long, over the limit of 2.5 s$"):
        decode(path, max_seconds=2.5)


def test_larger_than_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "big.wav"
    sf.write(path, stereo(1.0), 8000, subtype="PCM_16")
    size = path.stat().st_size
    assert decode(path, max_bytes=size)[1] == 8000
    with pytest.raises(
        AudioError, match=rf"^{path}: {size} bytes, larger than the limit of {size - 1} bytes$"
    ):
        decode(path, max_bytes=size - 1)


def test_amr_names_the_missing_decoder(tmp_path: Path) -> None:
    path = tmp_path / "call.amr"
    path.write_bytes(b"#!AMR\n" + bytes(range(256)) * 4)
    with pytest.raises(AudioError, match=rf"^{path}: AMR audio needs a decoder this system lacks"):
        decode(path)


def test_header_only_wav_has_no_samples(tmp_path: Path) -> None:
    path = tmp_path / "nothing.wav"
    sf.write(path, np.zeros((0, 2), dtype=np.float32), 8000, subtype="PCM_16")
    with pytest.raises(AudioError, match=rf"^{path}: "):
        decode(path)
