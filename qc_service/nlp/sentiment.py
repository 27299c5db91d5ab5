"""Sentiment of Chinese customer-service messages as a value in −1 … 1.

Why hashed character n-grams and a linear model: chat messages are short and colloquial, and
character 1–3-grams need no tokenizer; hashing keeps the shipped artifact free of any training
text (there is no vocabulary, only weights per hash bucket), which matters because the labelled
corpora it was trained on carry no licence. The model is trained by ``qc train sentiment``
(``qc_service.nlp.train_sentiment``); its card is ``models/sentiment/MODEL_CARD.md``.

Where things live:

- the artifact: ``qc_service/nlp/models/sentiment.joblib`` (inside the package, so an
  installed package finds it; ``SentimentModel.load()`` with no path reads it);
- the model card: ``models/sentiment/MODEL_CARD.md`` at the repository top level.

The artifact is a plain dict of float32 numpy arrays plus settings (no pickled estimators):
``idf`` (one weight per hash bucket), ``coef`` (classes × buckets), ``intercept`` and
``classes`` (−1 negative, 0 neutral, 1 positive). A message's value is
``P(positive) − P(negative)``: clear praise is near 1, clear complaints near −1, and neutral
statements (the car-forum data's neutral class) near 0.

A party's conversation value is the mean of its messages' values weighted by their length in
characters (stripped); messages without text do not count, a role with none has no value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt

DEFAULT_PATH = Path(__file__).resolve().parent / "models" / "sentiment.joblib"
FORMAT = "qc-sentiment/1"
N_FEATURES = 2**18
NGRAM_RANGE = (1, 3)
BATCH = 2048

_HALF = {0x3000: 0x20, **{c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}}


def normalize_text(text: str) -> str:
    """Full-width ASCII and the ideographic space to half-width, then lower case."""
    return text.translate(_HALF).lower()


def make_vectorizer() -> Any:
    """The stateless feature hasher shared by training and scoring."""
    # imported here: scikit-learn costs ~1 s, and processes that never score should not pay it
    from sklearn.feature_extraction.text import HashingVectorizer  # noqa: PLC0415

    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=NGRAM_RANGE,
        n_features=N_FEATURES,
        alternate_sign=False,
        norm=None,
        preprocessor=normalize_text,
        dtype=np.float32,
    )


def weighted_mean(values: Iterable[float], weights: Iterable[float]) -> float | None:
    """Mean of ``values`` weighted by ``weights``; None when the weights sum to zero."""
    total = weight_sum = 0.0
    for v, w in zip(values, weights, strict=True):
        total += v * w
        weight_sum += w
    return total / weight_sum if weight_sum > 0 else None


@dataclass(frozen=True, slots=True)
class SentimentModel:
    """Hashed char n-grams → TF-IDF (idf per bucket) → multinomial logistic regression."""

    idf: npt.NDArray[np.float32]
    coef: npt.NDArray[np.float32]
    intercept: npt.NDArray[np.float32]
    classes: tuple[int, ...]
    meta: dict[str, Any]

    @classmethod
    def load(cls, path: Path | None = None) -> SentimentModel:
        """The model at ``path``; the shipped artifact when None."""
        data = joblib.load(path or DEFAULT_PATH)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{path or DEFAULT_PATH}: not a {FORMAT} artifact")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SentimentModel:
        """Build from the artifact's dict (see the module docstring)."""
        coef = np.asarray(data["coef"], dtype=np.float32)
        idf = np.asarray(data["idf"], dtype=np.float32)
        if idf.shape != (N_FEATURES,) or coef.shape[1] != N_FEATURES:
            raise ValueError("sentiment artifact: feature size does not match this code")
        return cls(
            idf=idf,
            coef=coef,
            intercept=np.asarray(data["intercept"], dtype=np.float32),
            classes=tuple(int(c) for c in data["classes"]),
            meta=dict(data.get("meta", {})),
        )

    def to_dict(self) -> dict[str, Any]:
        """The artifact's dict: numbers and settings only, never text."""
        return {
            "format": FORMAT,
            "idf": self.idf.astype(np.float32),
            "coef": self.coef.astype(np.float32),
            "intercept": self.intercept.astype(np.float32),
            "classes": list(self.classes),
            "meta": self.meta,
        }

    def save(self, path: Path) -> None:
        """Write the artifact (zlib-compressed joblib)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.to_dict(), path, compress=("zlib", 6))

    def features(self, texts: Sequence[str]) -> Any:
        """TF-IDF rows (L2-normalised) of the texts."""
        counts = make_vectorizer().transform(texts)
        from sklearn.preprocessing import normalize  # noqa: PLC0415

        return normalize(counts.multiply(self.idf).tocsr(), norm="l2", copy=False)

    def proba(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """Class probabilities, columns in ``classes`` order, batched."""
        out = np.empty((len(texts), len(self.classes)), dtype=np.float64)
        for lo in range(0, len(texts), BATCH):
            chunk = texts[lo : lo + BATCH]
            logits = np.asarray(self.features(chunk) @ self.coef.T, dtype=np.float64)
            logits += self.intercept
            logits -= logits.max(axis=1, keepdims=True)
            np.exp(logits, out=logits)
            out[lo : lo + len(chunk)] = logits / logits.sum(axis=1, keepdims=True)
        return out

    def score(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """One value per text in −1 … 1: P(positive) − P(negative)."""
        if not texts:
            return np.zeros(0, dtype=np.float64)
        p = self.proba(list(texts))
        pos = p[:, self.classes.index(1)]
        neg = p[:, self.classes.index(-1)]
        return np.clip(pos - neg, -1.0, 1.0)

    def conversation_scores(self, messages: Sequence[tuple[str, str]]) -> dict[str, float]:
        """Role → length-weighted mean of its messages' values (roles without text are absent)."""
        values = self.score([text for _, text in messages])
        by_role: dict[str, tuple[list[float], list[float]]] = {}
        for (role, text), value in zip(messages, values, strict=True):
            vals, weights = by_role.setdefault(role, ([], []))
            vals.append(float(value))
            weights.append(float(len(text.strip())))
        out: dict[str, float] = {}
        for role, (vals, weights) in by_role.items():
            mean = weighted_mean(vals, weights)
            if mean is not None:
                out[role] = mean
        return out
