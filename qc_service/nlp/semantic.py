"""Meaning-based matching for the ``semantic`` operator: sentence units, calibrated scores, veto.

Why calibrated: raw cosines mean different things per model — e5 puts almost every pair of
Chinese sentences between 0.82 and 0.95, MiniLM spreads them wider — while a rule's
``threshold`` must mean the same whatever ``QC_EMBEDDING_MODEL`` is. Each model ships a logistic
map ``p = 1 / (1 + exp(−(a·cos + b)))`` fitted on the paraphrase set (``qc eval semantic
--write-calibration``) and a default threshold on that scale; see models/semantic/MODEL_CARD.md.

Why centred: e5 (like most sentence encoders) puts a large common direction in every vector, so
any two service sentences look alike. The calibration carries the mean vector of real ordinary
service sentences (numbers, no text); vectors are compared after subtracting it, which lifted
e5's pair AUC from 0.97 to 0.98 and its recall at a 1 % false-alarm rate from 0.64 to 0.70.

Why sentence units: a chat message can hold a greeting, a promise and a question; it is split at
sentence punctuation (not at commas: "亏了，算我的" is one thought) and each unit is compared,
so the evidence is the unit's character span in the original text.

Why the veto lives here: the embedding cannot tell a promise from its disclaimer, so a unit
matches an example only when it also negates what the example negates (``negation``).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import LRUCache

from qc_service.nlp.embeddings import Encoder, Vectors, unit_rows
from qc_service.nlp.negation import same_polarity

CALIBRATION_FILE = Path(__file__).parent / "models" / "semantic_calibration.json"
"""Shipped calibrations, by encoder name."""
MODEL_CALIBRATION = "qc_calibration.json"
"""A user model's calibration, written next to it (``<model folder>/qc_calibration.json``)."""
_UNITS = re.compile(r"(?:[^。！？!?；;\n\s]|\s(?!\s))+[。！？!?；;]*")
"""Sentences: up to sentence punctuation, a newline or a run of spaces (agents paste canned
phrases one after another with two spaces between them)."""
_MIN_UNIT_CHARS = 2


class CalibrationMissing(LookupError):
    """The encoder has no calibration: thresholds would mean nothing, so nothing is matched."""


@dataclass(frozen=True)
class Calibration:
    """Cosine → calibrated 0–1 score for one encoder, and that encoder's default threshold."""

    model: str
    a: float
    b: float
    default_threshold: float
    fitted_on: str = ""
    center: tuple[float, ...] | None = None
    """Mean vector of ordinary service sentences, subtracted before the cosine."""

    def score(self, cosine: float) -> float:
        """The calibrated score of a (centred) cosine similarity."""
        return 1.0 / (1.0 + math.exp(-(self.a * cosine + self.b)))

    def encoder(self, inner: Encoder) -> Encoder:
        """``inner`` with this calibration's centring applied (itself when there is none)."""
        return inner if self.center is None else CenteredEncoder(inner, self.center)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the calibration files."""
        return {
            "a": self.a,
            "b": self.b,
            "default_threshold": self.default_threshold,
            "fitted_on": self.fitted_on,
            "center": None if self.center is None else [round(x, 6) for x in self.center],
        }


class CenteredEncoder:
    """An encoder whose vectors have a fixed mean direction removed (then unit length again)."""

    def __init__(self, inner: Encoder, center: Sequence[float]) -> None:
        self.inner = inner
        self._center = np.asarray(center, dtype=np.float32)

    @property
    def name(self) -> str:
        return self.inner.name

    def encode(self, texts: Sequence[str]) -> Vectors:
        rows = self.inner.encode(texts)
        if not len(rows):
            return rows
        return unit_rows(rows - self._center)


def load_calibration(model: str, *, path: Path | None = None) -> Calibration:
    """The calibration of ``model``: next to a local model folder, else the shipped file."""
    candidates = [Path(model) / MODEL_CALIBRATION] if Path(model).is_dir() else []
    candidates.append(path or CALIBRATION_FILE)
    for candidate in candidates:
        if not candidate.exists():
            continue
        data = json.loads(candidate.read_text(encoding="utf-8"))
        entry = data.get("models", {}).get(model, data if "a" in data else None)
        if entry:
            return Calibration(
                model,
                float(entry["a"]),
                float(entry["b"]),
                float(entry["default_threshold"]),
                str(entry.get("fitted_on", "")),
                tuple(entry["center"]) if entry.get("center") else None,
            )
    raise CalibrationMissing(
        f"embedding model {model!r} has no calibration; run `qc eval semantic --model {model} "
        "--write-calibration` (writes qc_calibration.json next to a local model)"
    )


@dataclass(frozen=True)
class Unit:
    """A sentence of a message and where it sits in the original text."""

    message_id: str
    start: int
    end: int
    text: str


def sentence_units(message_id: str, text: str) -> list[Unit]:
    """The message's sentences, with code-point spans (clauses were tried: more false alarms)."""
    out: list[Unit] = []
    for m in _UNITS.finditer(text):
        unit = _unit(message_id, m.group(), m.start())
        if unit is not None:
            out.append(unit)
    return out


def _unit(message_id: str, raw: str, at: int) -> Unit | None:
    stripped = raw.strip()
    if sum(ch.isalnum() for ch in stripped) < _MIN_UNIT_CHARS:
        return None
    start = at + (len(raw) - len(raw.lstrip()))
    return Unit(message_id, start, start + len(stripped), stripped)


@dataclass(frozen=True)
class SemanticHit:
    """A unit that means what an example means, with the same polarity."""

    unit: Unit
    score: float
    """Calibrated 0–1 similarity to ``example``."""
    example: str


class ExampleCache:
    """Example vectors per (encoder, example tuple): a rule version's examples are embedded once."""

    def __init__(self, maxsize: int = 4096) -> None:
        self._cache: LRUCache[tuple[str, tuple[str, ...]], Vectors] = LRUCache(maxsize=maxsize)
        # keyed by examples, so the same example list is embedded once per process
        self._lock = threading.Lock()

    def vectors(self, encoder: Encoder, examples: tuple[str, ...], variant: str = "") -> Vectors:
        """The examples' vectors from ``encoder`` (``variant`` tells centred from raw vectors)."""
        key = (f"{encoder.name}/{variant}", examples)
        with self._lock:
            found = self._cache.get(key)
        if found is None:
            found = encoder.encode(list(examples))
            with self._lock:
                self._cache[key] = found
        return found


EXAMPLES = ExampleCache()


class SemanticIndex:
    """One conversation's sentence units with their vectors: what the ``semantic`` operator reads.

    Built by the pipeline (deep lane only) with every unit embedded in one batch; the operator
    calls ``match`` per message and never loads a model itself.
    """

    def __init__(
        self,
        encoder: Encoder,
        calibration: Calibration,
        units: dict[str, list[Unit]],
        vectors: dict[str, Vectors],
        *,
        examples: ExampleCache = EXAMPLES,
        read: dict[str, str] | None = None,
    ) -> None:
        self._raw = encoder
        self.encoder = calibration.encoder(encoder)
        self.calibration = calibration
        self.units = units
        self.vectors = vectors
        self._examples = examples
        self._read = read or {}

    @classmethod
    def build(
        cls,
        encoder: Encoder,
        calibration: Calibration,
        messages: Iterable[tuple[str, str]],
        *,
        fold: Callable[[str], str] | None = None,
        examples: ExampleCache = EXAMPLES,
    ) -> SemanticIndex:
        """Split ``(message id, text)`` pairs into units and embed them all in one batch.

        ``fold`` (the pipeline passes the rules' evasion folding) turns a unit's text into what
        the encoder and the negation check read (稳.赚.不.赔 → 稳赚不赔); spans stay in the original.
        """
        units = {mid: sentence_units(mid, text) for mid, text in messages}
        flat = [u for us in units.values() for u in us]
        read = {u.text: fold(u.text) if fold else u.text for u in flat}
        centred = calibration.encoder(encoder)
        rows = (
            centred.encode([read[u.text] for u in flat]) if flat else np.zeros((0, 0), np.float32)
        )
        vectors: dict[str, Vectors] = {}
        at = 0
        for mid, us in units.items():
            vectors[mid] = rows[at : at + len(us)]
            at += len(us)
        return cls(encoder, calibration, units, vectors, examples=examples, read=read)

    def with_calibration(self, calibration: Calibration) -> SemanticIndex:
        """The same embedded units scored with another calibration of the same centring (what
        ``qc eval semantic`` does once it has fitted one)."""
        if calibration.center != self.calibration.center:
            raise ValueError("a calibration with another centre needs the units embedded again")
        return SemanticIndex(self._raw, calibration, self.units, self.vectors,
                             examples=self._examples, read=self._read)  # fmt: skip

    def _example_vectors(self, examples: tuple[str, ...]) -> Vectors:
        variant = "raw" if self.calibration.center is None else "centred"
        return self._examples.vectors(self.encoder, examples, variant)

    def prepare(self, examples: Sequence[str]) -> None:
        """Embed a rule version's examples now (the pipeline does, before any rule runs)."""
        self._example_vectors(tuple(examples))

    def cosines(self, message_id: str, examples: Sequence[str]) -> Vectors:
        """Centred cosines, one row per unit of the message, one column per example."""
        units = self.units.get(message_id, [])
        if not units or not examples:
            return np.zeros((len(units), len(examples)), np.float32)
        return self.vectors[message_id] @ self._example_vectors(tuple(examples)).T

    def match(
        self,
        message_id: str,
        examples: Sequence[str],
        threshold: float | None = None,
        *,
        veto: bool = True,
    ) -> list[SemanticHit]:
        """The message's units whose best same-polarity example passes the threshold
        (``veto=False``: the best example regardless of polarity — for measuring the veto)."""
        units = self.units.get(message_id, [])
        if not units or not examples:
            return []
        bound = self.calibration.default_threshold if threshold is None else threshold
        ex = tuple(examples)
        sims = self.cosines(message_id, ex)
        hits = []
        for unit, row in zip(units, sims, strict=True):
            for j in np.argsort(-row):
                score = self.calibration.score(float(row[j]))
                if score < bound:
                    break
                if not veto or same_polarity(self._read.get(unit.text, unit.text), ex[j]):
                    hits.append(SemanticHit(unit, round(score, 3), ex[j]))
                    break
        return hits
