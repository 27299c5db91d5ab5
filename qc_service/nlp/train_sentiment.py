"""``qc train sentiment``: train the sentiment model on ../shared/data and write its card.

Data (see each folder's SOURCE.md): waimai_10k, ChnSentiCorp hotel reviews,
online_shopping_10_cats (stratified sample), BDCI 2018 car opinions (the only set with a neutral
class) and STC-3 Weibo customer↔helpdesk dialogues, whose dialogue-level satisfaction mean is used
as a weak label for the customer's utterances. Every domain is split once (stratified, fixed
``SEED``) into train and held-out parts; the model trains on all train parts, and the card
reports metrics on every held-out part, a cross-domain row (trained without waimai, tested on
waimai) and a baseline (snownlp, when installed).

The artifact holds no text (hashed features: one idf and one weight per hash bucket), because
the sentiment corpora carry no licence and nothing of their text may be shipped.

Retrain: ``OMP_NUM_THREADS=1 qc train sentiment --data ../shared/data`` (or
``python -m qc_service.nlp.train_sentiment``); a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import spearmanr
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    roc_auc_score,
)

from qc_service.nlp.corpora import (
    REVIEW_DOMAINS,
    SEED,
    SOURCES,
    TEST_SIZE,
    Dialogue,
    Labelled,
    data_root,
    load_dialogues,
    load_reviews,
    split_dialogues,
    split_reviews,
)
from qc_service.nlp.sentiment import (
    DEFAULT_PATH,
    N_FEATURES,
    NGRAM_RANGE,
    SentimentModel,
    make_vectorizer,
    weighted_mean,
)

C = 4.0
STC_MIN_ABS_S = 0.5
"""STC-3 train dialogues whose |mean satisfaction| is below this give no weak labels."""
STC_WEIGHT = 0.5
"""Sample weight of a weak STC-3 label (a dialogue's satisfaction, not the utterance's tone)."""
BASELINE_MAX = 1000
CARD_PATH = Path(__file__).resolve().parents[2] / "models" / "sentiment" / "MODEL_CARD.md"


@dataclass
class TrainSet:
    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def add(self, texts: Sequence[str], labels: Sequence[int], weight: float = 1.0) -> None:
        self.texts += texts
        self.labels += labels
        self.weights += [weight] * len(texts)


def stc_weak(dialogues: list[Dialogue]) -> Labelled:
    """Weak labels: the customer's utterances get the sign of the dialogue's satisfaction."""
    texts, labels = [], []
    for msgs, s in dialogues:
        if abs(s) < STC_MIN_ABS_S:
            continue
        for role, text in msgs:
            if role == "customer":
                texts.append(text)
                labels.append(1 if s > 0 else -1)
    return texts, labels


def fit(train: TrainSet, meta: dict[str, Any]) -> SentimentModel:
    """Hash → idf → multinomial logistic regression (balanced classes)."""
    counts = make_vectorizer().transform(train.texts)
    tfidf = TfidfTransformer(norm="l2", use_idf=True, smooth_idf=True)
    x = tfidf.fit_transform(counts)
    y = np.asarray(train.labels)
    w = np.asarray(train.weights, dtype=np.float64)
    classes, counts_per = np.unique(y, return_counts=True)
    balance = {c: len(y) / (len(classes) * n) for c, n in zip(classes, counts_per, strict=True)}
    w = w * np.asarray([balance[c] for c in y])
    clf = LogisticRegression(C=C, max_iter=2000, tol=1e-4)
    clf.fit(x, y, sample_weight=w)
    return SentimentModel(
        idf=tfidf.idf_.astype(np.float32),
        coef=clf.coef_.astype(np.float32),
        intercept=clf.intercept_.astype(np.float32),
        classes=tuple(int(c) for c in clf.classes_),
        meta=meta,
    )


Scorer = Callable[[Sequence[str]], npt.NDArray[np.float64]]


def review_metrics(
    scorer: Scorer, data: Labelled, model: SentimentModel | None = None
) -> dict[str, Any]:
    """Accuracy / macro-F1 (sign of the score; argmax of 3 classes when neutral exists) and
    ROC-AUC of the score on the polar texts."""
    texts, labels = data
    y = np.asarray(labels)
    s = scorer(texts)
    out: dict[str, Any] = {"n": len(y)}
    polar = y != 0
    if (~polar).any():
        if model is None:
            out["acc"] = out["f1"] = None
        else:
            pred = np.asarray(model.classes)[model.proba(texts).argmax(axis=1)]
            out["acc"] = accuracy_score(y, pred)
            out["f1"] = f1_score(y, pred, average="macro")
    else:
        pred = np.where(s > 0, 1, -1)
        out["acc"] = accuracy_score(y, pred)
        out["f1"] = f1_score(y, pred, average="macro")
    yp, sp = y[polar], s[polar]
    out["auc"] = roc_auc_score(yp > 0, sp)
    out["polar_acc"] = accuracy_score(yp, np.where(sp > 0, 1, -1))
    return out


def dialogue_metrics(scorer: Scorer, dialogues: list[Dialogue]) -> dict[str, Any]:
    """Customer-party conversation value (length-weighted) vs the dialogue's satisfaction mean."""
    texts = [t for msgs, _ in dialogues for _, t in msgs]
    values = iter(scorer(texts).tolist())
    conv, sat = [], []
    for msgs, s in dialogues:
        vals = [next(values) for _ in msgs]
        cust = [(v, len(t)) for v, (role, t) in zip(vals, msgs, strict=True) if role == "customer"]
        mean = weighted_mean([v for v, _ in cust], [n for _, n in cust])
        if mean is not None:
            conv.append(mean)
            sat.append(s)
    c, y = np.asarray(conv), np.asarray(sat)
    nz = y != 0
    return {
        "n": len(c),
        "pearson": float(np.corrcoef(c, y)[0, 1]),
        "spearman": float(spearmanr(c, y).statistic),
        "auc": roc_auc_score(y[nz] > 0, c[nz]),
        "acc": accuracy_score(y[nz] > 0, c[nz] > 0),
    }


def snownlp_scorer() -> Scorer | None:
    """snownlp's P(positive) mapped to −1 … 1, or None when snownlp is not installed."""
    try:
        from snownlp import SnowNLP
    except ImportError:
        return None

    def score(texts: Sequence[str]) -> npt.NDArray[np.float64]:
        return np.asarray([2 * SnowNLP(t).sentiments - 1 if t else 0.0 for t in texts])

    return score


def _sample(data: Labelled, n: int, seed: int = SEED) -> Labelled:
    if len(data[0]) <= n:
        return data
    idx = np.random.default_rng(seed).choice(len(data[0]), n, replace=False)
    return [data[0][i] for i in idx], [data[1][i] for i in idx]


def _say(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _f(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    """Train, write the artifact and the model card; returns the exit code."""
    ap = argparse.ArgumentParser(prog="qc train sentiment", description=__doc__.split("\n")[0])
    ap.add_argument("--data", help="shared data folder (default $QC_SHARED_DATA or ../shared/data)")
    ap.add_argument("--out", type=Path, default=DEFAULT_PATH, help="artifact path")
    ap.add_argument("--card", type=Path, default=CARD_PATH, help="model card path")
    ap.add_argument("--no-baseline", action="store_true", help="skip the snownlp baseline")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(list(argv) if argv is not None else None)
    root = data_root(args.data)
    if not root.is_dir():
        _say(f"shared data not found at {root} (use --data or $QC_SHARED_DATA)")
        return 2
    started = time.perf_counter()
    splits = {d: split_reviews(load_reviews(root, d), args.seed) for d in REVIEW_DOMAINS}
    stc_train, stc_test = split_dialogues(load_dialogues(root), args.seed)
    weak = stc_weak(stc_train)

    def train_set(skip: tuple[str, ...] = ()) -> TrainSet:
        ts = TrainSet()
        for d in REVIEW_DOMAINS:
            if d not in skip:
                ts.add(*splits[d][0])
        if "stc3" not in skip:
            ts.add(*weak, weight=STC_WEIGHT)
        return ts

    meta = {
        "trained": time.strftime("%Y-%m-%d"),
        "seed": args.seed,
        "features": f"char_wb {NGRAM_RANGE} hashed to {N_FEATURES} buckets, tf-idf, l2",
        "classes": "-1 negative, 0 neutral, 1 positive",
        "score": "P(positive) - P(negative)",
    }
    full = train_set()
    _say(f"training on {len(full.texts)} texts …")
    model = fit(full, meta)
    model.save(args.out)
    _say(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    no_waimai = fit(train_set(("waimai",)), {})
    no_stc = fit(train_set(("stc3",)), {})

    rows: list[tuple[str, str, dict[str, Any]]] = []
    for d in REVIEW_DOMAINS:
        rows.append((d, "shipped model", review_metrics(model.score, splits[d][1], model)))
    rows.append(("waimai", "cross-domain: trained without waimai",
                 review_metrics(no_waimai.score, splits["waimai"][1], no_waimai)))  # fmt: skip
    dial = [
        ("shipped model", dialogue_metrics(model.score, stc_test)),
        ("trained without STC-3 (pure transfer)", dialogue_metrics(no_stc.score, stc_test)),
        ("cross-domain: trained without waimai", dialogue_metrics(no_waimai.score, stc_test)),
    ]
    baseline = None if args.no_baseline else snownlp_scorer()
    if baseline is not None:
        _say("snownlp baseline …")
        for d in REVIEW_DOMAINS:
            sample = _sample(splits[d][1], BASELINE_MAX, args.seed)
            rows.append((d, "baseline: snownlp 0.12.3", review_metrics(baseline, sample)))
        stc_sample = stc_test[:BASELINE_MAX]
        dial.append(("baseline: snownlp 0.12.3", dialogue_metrics(baseline, stc_sample)))
    counts = {d: (len(splits[d][0][0]), len(splits[d][1][0])) for d in REVIEW_DOMAINS}
    card = render_card(args, model, rows, dial, counts, (len(stc_train), len(stc_test), weak))
    args.card.parent.mkdir(parents=True, exist_ok=True)
    args.card.write_text(card, encoding="utf-8")
    _say(f"wrote {args.card} in {time.perf_counter() - started:.0f} s")
    return 0


def _class_counts(labels: Sequence[int]) -> str:
    return " / ".join(f"{labels.count(c)}" for c in (-1, 0, 1))


def render_card(
    args: argparse.Namespace,
    model: SentimentModel,
    rows: list[tuple[str, str, dict[str, Any]]],
    dial: list[tuple[str, dict[str, Any]]],
    counts: dict[str, tuple[int, int]],
    stc: tuple[int, int, Labelled],
) -> str:
    """The model card in Markdown."""
    size = args.out.stat().st_size / 1e6
    lines = [
        "# Sentiment model (`qc_service/nlp/models/sentiment.joblib`)",
        "",
        "A value in −1 … 1 per message (`P(positive) − P(negative)` of a 3-class model) and per "
        "party per conversation (length-weighted mean of the party's message values), read by "
        "the `sentiment` rule operator. Code: `qc_service/nlp/sentiment.py`; training: "
        "`qc_service/nlp/train_sentiment.py`. Generated by the training run — do not edit by hand.",
        "",
        "## Where it lives",
        "",
        f"- artifact: `qc_service/nlp/models/sentiment.joblib` ({size:.1f} MB, inside the package "
        "so an installed package finds it; `SentimentModel.load()` reads it)",
        "- this card: `models/sentiment/MODEL_CARD.md`",
        "",
        "## Data and licences",
        "",
        "All from `../shared/data` (see each folder's SOURCE.md). **The sentiment corpora carry no "
        "licence: none of their text is shipped.** The artifact is a dict of float32 arrays "
        "(idf and weights per hash bucket) and settings — no vocabulary, no text "
        "(`tests/nlp/test_sentiment.py` scans it for training sentences).",
        "",
        "| domain | source | train | held-out | labels −1 / 0 / 1 (all) |",
        "|---|---|---:|---:|---|",
    ]
    for d, (tr, te) in counts.items():
        labels = load_reviews(data_root(args.data), d)[1]
        lines.append(f"| {d} | {SOURCES[d]} | {tr} | {te} | {_class_counts(labels)} |")
    n_tr, n_te, weak = stc
    lines += [
        f"| stc3 | {SOURCES['stc3']} | {n_tr} dialogues → {len(weak[0])} weak customer "
        f"utterances | {n_te} dialogues | weak: {_class_counts(weak[1])} |",
        "",
        "Car texts (one row per aspect upstream) are de-duplicated: a text with both a positive "
        "and a negative aspect is dropped, a text with any polar aspect takes that polarity, "
        "otherwise it is neutral. STC-3 weak labels: every customer utterance of a training "
        f"dialogue with |mean satisfaction S| ≥ {STC_MIN_ABS_S} gets the sign of S (sample "
        f"weight {STC_WEIGHT}); STC-3 is the customer-service domain that matters most but its "
        "labels are dialogue-level, so it is weighted down.",
        "",
        f"Splits: per domain, stratified {int((1 - TEST_SIZE) * 100)}/{int(TEST_SIZE * 100)} "
        f"(`sklearn.model_selection.train_test_split`, `random_state={args.seed}`); STC-3 by "
        f"dialogue (`numpy.random.default_rng({args.seed}).permutation`). "
        "`train_sentiment.held_out(root, domain)` returns a domain's held-out part.",
        "",
        "## Features and model",
        "",
        "- text normalisation: full-width ASCII and U+3000 → half-width, lower case",
        f"- `HashingVectorizer(analyzer='char_wb', ngram_range={NGRAM_RANGE}, "
        f"n_features=2**18, alternate_sign=False, norm=None)`",
        "- TF-IDF (`TfidfTransformer(smooth_idf=True)`, l2 rows): only the idf per hash bucket "
        "is stored",
        f"- `LogisticRegression(C={C})` multinomial over classes "
        f"{list(model.classes)} (−1 negative, 0 neutral, 1 positive), class-balanced sample "
        "weights; float32 weights",
        "- the neutral class comes only from the car data; binary domains contribute −1 / 1",
        "",
        "## Metrics on held-out splits",
        "",
        "acc / macro-F1: sign of the value for binary domains, 3-class argmax for car; "
        "AUC and polar acc: on the polar (non-neutral) texts, value as the score. "
        f"The snownlp baseline (`2·sentiments − 1`, no neutral class) is evaluated on ≤ "
        f"{BASELINE_MAX} held-out samples per domain.",
        "",
        "| domain | model | n | acc | macro-F1 | ROC-AUC | polar acc |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for d, name, m in rows:
        lines.append(
            f"| {d} | {name} | {m['n']} | {_f(m['acc'])} | {_f(m['f1'])} | {_f(m['auc'])} "
            f"| {_f(m['polar_acc'])} |"
        )
    lines += [
        "",
        "### STC-3 customer-service dialogues (weak, dialogue-level)",
        "",
        "Customer-party conversation value (length-weighted mean over the customer's utterances) "
        "of each held-out dialogue against its mean satisfaction S (19 annotators, −2 … 2). AUC "
        "and acc: S > 0 vs S < 0 (S = 0 left out).",
        "",
        "| model | dialogues | Pearson r | Spearman ρ | ROC-AUC | acc (sign) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, m in dial:
        lines.append(
            f"| {name} | {m['n']} | {_f(m['pearson'])} | {_f(m['spearman'])} | {_f(m['auc'])} "
            f"| {_f(m['acc'])} |"
        )
    lines += [
        "",
        "## Limits",
        "",
        "- Trained on reviews and Weibo complaints, not on our own chats. Short acknowledgements "
        "read as review praise (好的 ≈ +0.95, 嗯 ≈ +0.3): prefer `level: conversation` (length-"
        "weighted) or bounds well below 0 for complaint rules.",
        "- Car 3-class macro-F1 is low: neutral vs polar is hard on forum text and the neutral "
        "class exists in no other domain.",
        "- Neutral is learned from car-forum text only; neutral statements in other domains "
        "may lean to a pole.",
        "- STC-3 satisfaction is about the helpdesk's handling, not the tone of each utterance: "
        "the weak labels are noisy and the dialogue metrics are a sanity check, not a "
        "tone accuracy.",
        "",
        "## How to retrain",
        "",
        "```",
        "OMP_NUM_THREADS=1 qc train sentiment --data ../shared/data",
        "# or, without the CLI:",
        "OMP_NUM_THREADS=1 .venv/bin/python -m qc_service.nlp.train_sentiment --data ../shared/data",
        "```",
        "",
        "Writes the artifact and this card (`--out`, `--card` to redirect, `--no-baseline` to skip "
        "snownlp). The run is deterministic for a given seed and library versions.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
