"""P(overturned) of a machine finding, learned from one tenant's reviewer verdicts.

Why: every upheld or overturned violation is a label a reviewer paid for. A small linear model
over what the reviewer saw — the rule, the evidence text, the messages around it, whether the
agent appealed and how often this agent's findings were overturned before — puts the findings
most likely to be wrong at the top of the review queue, where a reviewer fixes them first.

Features (one sparse row per finding):

- the rule id, one-hot over the rules seen in training (an unseen rule adds nothing);
- the evidence text and the context text, each as hashed character 1–3-grams
  (``N_TEXT_FEATURES`` buckets each, L2-normalised). Hashing keeps the artifact free of text:
  there is no vocabulary, only one weight per bucket;
- ``appealed`` (0/1);
- the agent's smoothed prior overturn rate minus the base rate, counted **only from verdicts
  decided before this one** (``with_history``), so training never sees its own label through it.
  At scoring time the caller passes the agent's verdicts so far (``AgentHistory``).

Model: logistic regression (liblinear) with balanced class weights (overturns are the rare class). The
artifact is a plain dict of numbers and settings (no pickled estimator): ``coef`` (float32, one
weight per column), ``intercept``, ``rules``, ``base_rate`` and ``meta`` (fingerprint, counts,
held-out metrics). Metrics come from a time-ordered split — fit on the older
``1 − HOLDOUT_SHARE`` of the verdicts, tested on the newest — before the shipped model is refit on
all of them, so they estimate how the model ranks verdicts it has not seen yet.

Too little data (fewer than ``MIN_VERDICTS`` verdicts or fewer than ``MIN_PER_CLASS`` of either
decision) gives ``NotEnoughData`` with the reason instead of a model that would rank by noise.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.special import expit

from qc_service.nlp.sentiment import normalize_text

FORMAT = "qc-feedback/1"
N_TEXT_FEATURES = 2**14
"""Hash buckets per text block (evidence, context)."""
NGRAM_RANGE = (1, 3)
MIN_VERDICTS = 30
"""Fewer decided verdicts than this: no model (the queue keeps its normal order)."""
MIN_PER_CLASS = 5
"""Fewer upheld or fewer overturned verdicts than this: no model."""
HOLDOUT_SHARE = 0.25
"""The newest share of verdicts (by decision time) held out for the reported metrics."""
PRIOR_STRENGTH = 5.0
"""Pseudo-verdicts at the base rate that smooth an agent's prior overturn rate."""
C = 1.0
N_NUMERIC = 2
"""``appealed`` and the agent's prior overturn rate (minus the base rate)."""


@dataclass(frozen=True, slots=True)
class AgentHistory:
    """An agent's verdicts before the moment a finding is scored."""

    decided: int = 0
    overturned: int = 0


@dataclass(frozen=True, slots=True)
class Finding:
    """What the model scores: a finding as the reviewer sees it."""

    rule_id: str
    evidence_text: str
    context_text: str = ""
    appealed: bool = False
    agent: AgentHistory = field(default_factory=AgentHistory)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A reviewer's decision on one finding (``verdict_id``: the violation's id)."""

    verdict_id: int
    rule_id: str
    evidence_text: str
    context_text: str
    agent_id: str
    appealed: bool
    overturned: bool
    decided_at: datetime


@dataclass(frozen=True, slots=True)
class NotEnoughData:
    """Training refused: why, and the counts it saw."""

    reason: str
    counts: dict[str, int]
    fingerprint: str


def fingerprint(verdicts: Sequence[Verdict]) -> str:
    """sha256 of the format and the sorted (verdict id, decision) pairs: the same verdicts give
    the same fingerprint, so retraining on unchanged data can be skipped."""
    h = hashlib.sha256(FORMAT.encode())
    for vid, overturned in sorted((v.verdict_id, v.overturned) for v in verdicts):
        h.update(f"\n{vid}:{int(overturned)}".encode())
    return h.hexdigest()


def with_history(verdicts: Sequence[Verdict]) -> list[tuple[Finding, bool]]:
    """Each verdict as the finding it was when judged, oldest first, with the agent's history
    taken from verdicts decided strictly earlier (equal times do not see each other)."""
    ordered = sorted(verdicts, key=lambda v: (v.decided_at, v.verdict_id))
    counts: dict[str, AgentHistory] = {}
    out: list[tuple[Finding, bool]] = []
    for _, same_time in groupby(ordered, key=lambda v: v.decided_at):
        group = list(same_time)
        for v in group:
            finding = Finding(
                rule_id=v.rule_id,
                evidence_text=v.evidence_text,
                context_text=v.context_text,
                appealed=v.appealed,
                agent=counts.get(v.agent_id, AgentHistory()),
            )
            out.append((finding, v.overturned))
        for v in group:
            before = counts.get(v.agent_id, AgentHistory())
            counts[v.agent_id] = AgentHistory(
                before.decided + 1, before.overturned + int(v.overturned)
            )
    return out


def _vectorizer() -> Any:
    # scikit-learn is imported where it is used: importing it costs ~1 s, and every API and CLI
    # process imports this module (the review queue) without necessarily scoring anything
    from sklearn.feature_extraction.text import HashingVectorizer  # noqa: PLC0415

    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=NGRAM_RANGE,
        n_features=N_TEXT_FEATURES,
        alternate_sign=False,
        norm="l2",
        preprocessor=normalize_text,
        dtype=np.float32,
    )


def _agent_rate(history: AgentHistory, base_rate: float) -> float:
    """The agent's overturn rate, shrunk towards the base rate by ``PRIOR_STRENGTH``."""
    return (history.overturned + PRIOR_STRENGTH * base_rate) / (history.decided + PRIOR_STRENGTH)


def _features(findings: Sequence[Finding], rules: Sequence[str], base_rate: float) -> sp.csr_matrix:
    """Sparse rows ``[rule one-hot | evidence buckets | context buckets | numeric]``."""
    n = len(findings)
    index = {rule: i for i, rule in enumerate(rules)}
    rows = [i for i, f in enumerate(findings) if f.rule_id in index]
    cols = [index[findings[i].rule_id] for i in rows]
    onehot = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, len(rules))
    )
    vectorizer = _vectorizer()
    evidence = vectorizer.transform([f.evidence_text for f in findings])
    context = vectorizer.transform([f.context_text for f in findings])
    numeric = np.array(
        [[float(f.appealed), _agent_rate(f.agent, base_rate) - base_rate] for f in findings],
        dtype=np.float32,
    ).reshape(n, N_NUMERIC)
    return sp.hstack([onehot, evidence, context, sp.csr_matrix(numeric)], format="csr")


@dataclass(frozen=True, slots=True)
class FeedbackModel:
    """A trained overturn model: linear weights over the features of the module docstring."""

    coef: npt.NDArray[np.float32]
    intercept: float
    rules: tuple[str, ...]
    base_rate: float
    meta: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        """The fingerprint of the verdicts it was trained on."""
        return str(self.meta["fingerprint"])

    @property
    def metrics(self) -> dict[str, Any]:
        """Held-out metrics (time-ordered split), see ``holdout_metrics``."""
        metrics: dict[str, Any] = self.meta["metrics"]
        return metrics

    def score(self, findings: Sequence[Finding]) -> list[float]:
        """P(overturned) of each finding, in order."""
        if not findings:
            return []
        x = _features(findings, self.rules, self.base_rate)
        logits = np.asarray(x @ self.coef, dtype=np.float64) + self.intercept
        return [float(p) for p in expit(logits)]

    def to_dict(self) -> dict[str, Any]:
        """The artifact: numbers, rule ids and settings — never training text or agent ids."""
        return {
            "format": FORMAT,
            "coef": self.coef.astype(np.float32),
            "intercept": float(self.intercept),
            "rules": list(self.rules),
            "base_rate": float(self.base_rate),
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeedbackModel:
        """Build from ``to_dict``'s output; refuses another format or feature size."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} artifact")
        rules = tuple(str(r) for r in data["rules"])
        coef = np.asarray(data["coef"], dtype=np.float32)
        if coef.shape != (len(rules) + 2 * N_TEXT_FEATURES + N_NUMERIC,):
            raise ValueError(f"{FORMAT} artifact: feature size does not match this code")
        return cls(
            coef=coef,
            intercept=float(data["intercept"]),
            rules=rules,
            base_rate=float(data["base_rate"]),
            meta=dict(data["meta"]),
        )

    def to_bytes(self) -> bytes:
        """The artifact as zlib-compressed joblib bytes (what the database stores)."""
        buffer = io.BytesIO()
        joblib.dump(self.to_dict(), buffer, compress=("zlib", 3))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> FeedbackModel:
        """Load ``to_bytes``'s output."""
        return cls.from_dict(joblib.load(io.BytesIO(blob)))


def _labels(rows: Sequence[tuple[Finding, bool]]) -> npt.NDArray[np.int64]:
    return np.array([int(overturned) for _, overturned in rows], dtype=np.int64)


def _fit(rows: Sequence[tuple[Finding, bool]], meta: dict[str, Any]) -> FeedbackModel:
    """Fit on rows holding both decisions."""
    labels = _labels(rows)
    base_rate = float(labels.mean())
    rules = tuple(sorted({f.rule_id for f, _ in rows}))
    x = _features([f for f, _ in rows], rules, base_rate)
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    # liblinear: a few ms on thousands of sparse rows, no BLAS threads; seeded, so deterministic
    clf = LogisticRegression(C=C, class_weight="balanced", solver="liblinear", random_state=0)
    clf.fit(x, labels)
    return FeedbackModel(
        coef=np.asarray(clf.coef_[0], dtype=np.float32),
        intercept=float(clf.intercept_[0]),
        rules=rules,
        base_rate=base_rate,
        meta=meta,
    )


def holdout_metrics(rows: Sequence[tuple[Finding, bool]]) -> dict[str, Any]:
    """Fit on the older verdicts, score the newest ``HOLDOUT_SHARE``: ``auc`` (null unless the
    held-out part has both decisions), ``brier``, the held-out overturn rate and the overturn rate
    among the top quarter by score (what a reviewer working the queue top-down meets)."""
    n_test = max(1, round(len(rows) * HOLDOUT_SHARE))
    train_rows, test_rows = rows[:-n_test], rows[-n_test:]
    y_train, y_test = _labels(train_rows), _labels(test_rows)
    metrics: dict[str, Any] = {
        "split": f"time-ordered; the newest {round(HOLDOUT_SHARE * 100)} % held out",
        "n_train": len(train_rows),
        "n_test": len(test_rows),
        "test_overturn_rate": round(float(y_test.mean()), 3),
        "auc": None,
        "brier": None,
        "top_quarter_overturn_rate": None,
    }
    if len(set(y_train.tolist())) < 2:
        return metrics
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    p = np.array(_fit(train_rows, {}).score([f for f, _ in test_rows]))
    metrics["brier"] = round(float(np.mean((p - y_test) ** 2)), 4)
    top = np.argsort(-p, kind="stable")[: max(1, len(p) // 4)]
    metrics["top_quarter_overturn_rate"] = round(float(y_test[top].mean()), 3)
    if len(set(y_test.tolist())) == 2:
        metrics["auc"] = round(float(roc_auc_score(y_test, p)), 4)
    return metrics


def train(
    verdicts: Sequence[Verdict],
    *,
    min_verdicts: int = MIN_VERDICTS,
    min_per_class: int = MIN_PER_CLASS,
    trained_at: datetime | None = None,
) -> FeedbackModel | NotEnoughData:
    """A model of P(overturned), or ``NotEnoughData`` saying what is missing. Deterministic:
    the same verdicts give the same weights."""
    fp = fingerprint(verdicts)
    n = len(verdicts)
    overturned = sum(1 for v in verdicts if v.overturned)
    counts = {"verdicts": n, "overturned": overturned, "upheld": n - overturned}
    missing = []
    if n < min_verdicts:
        missing.append(f"{n} decided verdicts (needs at least {min_verdicts})")
    for name in ("overturned", "upheld"):
        if counts[name] < min_per_class:
            missing.append(f"{counts[name]} {name} (needs at least {min_per_class})")
    if missing:
        return NotEnoughData("too little data: " + "; ".join(missing), counts, fp)
    rows = with_history(verdicts)
    meta: dict[str, Any] = {
        "fingerprint": fp,
        "trained_at": trained_at.isoformat() if trained_at else None,
        **counts,
        "metrics": holdout_metrics(rows),
        "settings": {
            "n_text_features": N_TEXT_FEATURES,
            "ngram_range": list(NGRAM_RANGE),
            "prior_strength": PRIOR_STRENGTH,
            "C": C,
        },
    }
    return _fit(rows, meta)
