"""``qc eval semantic``: measure encoders on the paraphrase set and fit their calibration.

What it reports per encoder (the model card's table, models/semantic/MODEL_CARD.md):
- pair AUC — (sentence, rule) pairs scored by the best cosine between the sentence's units and
  the rule's examples; positives are a rule's own paraphrases (plain, negated and real), negatives
  the other rules' paraphrases and real ordinary service messages against every rule;
- rule top-1 — share of paraphrases whose best-scoring rule is their own;
- negation AUC — the rule's paraphrases against its disclaimers: what the embedding alone can
  tell apart (≈ 0.5 is why the operator has a veto);
- then the operator as it runs, on the held-out half, at the calibrated default threshold:
  recall on paraphrases / negated paraphrases / real positives, how many disclaimers fire with
  and without the veto, and the share of real ordinary messages that fire on any rule.

Calibration: a logistic map from cosine to P(same meaning), fitted on the calibration half (even
paraphrase positions, ordinary messages from sessions hashing even); the default threshold is the
calibrated score at which at most 2 % of those ordinary messages fire on any of the ten rules
(≈ 0.2 % a rule).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from qc_service.nlp.embeddings import (
    DEFAULT_MODEL,
    MINILM,
    Encoder,
    Vectors,
    load_encoder,
    unit_rows,
)
from qc_service.nlp.negation import same_polarity
from qc_service.nlp.paraphrase_set import Ordinary, RuleSet, load_set, ordinary_sentences
from qc_service.nlp.semantic import (
    CALIBRATION_FILE,
    MODEL_CALIBRATION,
    Calibration,
    CenteredEncoder,
    sentence_units,
)

MAX_ORDINARY_FIRE = 0.02


class TfidfEncoder:
    """Baseline: TF-IDF over character 1–3-grams, fitted on the texts it will see."""

    name = "tfidf"

    def __init__(self, corpus: Sequence[str]) -> None:
        self._vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3)).fit(corpus)

    def encode(self, texts: Sequence[str]) -> Vectors:
        return unit_rows(self._vec.transform(list(texts)).toarray())


@dataclass
class Scored:
    """A sentence's best cosine per rule, with the unit and example that gave it (for the veto)."""

    text: str
    cos: list[float]
    best: list[list[tuple[float, str, str]]]
    """Per rule: (cosine, unit text, example) for every unit × example, best first."""


def _score(encoder: Encoder, rules: list[RuleSet], texts: list[str]) -> list[Scored]:
    units = [sentence_units("m", t) or sentence_units("m", t + "。") for t in texts]
    flat = [u.text for us in units for u in us]
    vecs = encoder.encode(flat) if flat else np.zeros((0, 1), np.float32)
    ex_vecs = [encoder.encode(r.examples) for r in rules]
    out, at = [], 0
    for text, us in zip(texts, units, strict=True):
        rows = vecs[at : at + len(us)]
        at += len(us)
        cos, best = [], []
        for rule, ev in zip(rules, ex_vecs, strict=True):
            sims = rows @ ev.T if len(us) else np.zeros((0, len(rule.examples)))
            ranked = sorted(
                ((float(sims[i, j]), us[i].text, rule.examples[j]) for i in range(len(us))
                 for j in range(len(rule.examples))),
                reverse=True,
            )  # fmt: skip
            cos.append(ranked[0][0] if ranked else -1.0)
            best.append(ranked)
        out.append(Scored(text, cos, best))
    return out


def _center(encoder: Encoder, texts: list[str]) -> list[float]:
    """Mean unit vector of the sentences of real ordinary messages (the common direction)."""
    units = [u.text for t in texts for u in sentence_units("m", t)]
    return [float(x) for x in encoder.encode(units).mean(axis=0)]


def _fires(s: Scored, rule: int, cal: Calibration, threshold: float, veto: bool) -> bool:
    for cos, unit, example in s.best[rule]:
        if cal.score(cos) < threshold:
            return False
        if not veto or same_polarity(unit, example):
            return True
    return False


def _halves(items: list[str]) -> tuple[list[str], list[str]]:
    return items[0::2], items[1::2]


def evaluate(
    encoder: Encoder, rules: list[RuleSet], ordinary: list[Ordinary]
) -> tuple[dict[str, float], Calibration]:
    """The card's numbers for one encoder, and the calibration fitted on the calibration half."""
    center = _center(encoder, [o.text for o in ordinary if o.split == "calibration"])
    encoder = CenteredEncoder(encoder, center)
    positives = [
        (k, t) for k, r in enumerate(rules) for t in r.paraphrases + r.negated + r.real_positives
    ]
    disclaimers = [(k, t) for k, r in enumerate(rules) for t in r.disclaimers + r.real_disclaimers]
    pos = _score(encoder, rules, [t for _, t in positives])
    dis = _score(encoder, rules, [t for _, t in disclaimers])
    ordi = _score(encoder, rules, [o.text for o in ordinary])
    n = len(rules)

    def pairs(idx: set[int] | None, ord_split: str | None) -> tuple[list[float], list[int]]:
        xs, ys = [], []
        for i, ((k, _), s) in enumerate(zip(positives, pos, strict=True)):
            if idx is None or i in idx:
                xs += s.cos
                ys += [int(j == k) for j in range(n)]
        for o, s in zip(ordinary, ordi, strict=True):
            if ord_split is None or o.split == ord_split:
                xs += s.cos
                ys += [0] * n
        return xs, ys

    xs, ys = pairs(None, None)
    top1 = float(
        np.mean([int(np.argmax(s.cos)) == k for (k, _), s in zip(positives, pos, strict=True)])
    )
    neg_x = [s.cos[k] for (k, _), s in zip(positives, pos, strict=True)]
    neg_x += [s.cos[k] for (k, _), s in zip(disclaimers, dis, strict=True)]
    neg_y = [1] * len(positives) + [0] * len(disclaimers)

    calib_idx = {i for i in range(len(positives)) if i % 2 == 0}
    cx, cy = pairs(calib_idx, "calibration")
    lr = LogisticRegression(C=1e4, max_iter=1000).fit(np.array(cx)[:, None], cy)
    a, b = float(lr.coef_[0][0]), float(lr.intercept_[0])
    calib_ord = sorted(
        max(s.cos) for o, s in zip(ordinary, ordi, strict=True) if o.split == "calibration"
    )
    raw = calib_ord[min(len(calib_ord) - 1, math.ceil(len(calib_ord) * (1 - MAX_ORDINARY_FIRE)))]
    threshold = math.ceil(1e3 / (1 + math.exp(-(a * raw + b)))) / 1e3
    n_calib = sum(o.split == "calibration" for o in ordinary)
    fitted_on = f"models/semantic/paraphrases.yaml (even positions) + {n_calib} real JDDC/STC-3 agent messages"
    cal = Calibration(encoder.name, a, b, threshold, fitted_on, tuple(center))

    def recall(kind: str) -> float:
        rows = [
            _fires(s, k, cal, threshold, True)
            for i, ((k, t), s) in enumerate(zip(positives, pos, strict=True))
            if i % 2 == 1 and _kind(rules[k], t) == kind
        ]
        return float(np.mean(rows)) if rows else float("nan")

    test_ord = [s for o, s in zip(ordinary, ordi, strict=True) if o.split == "test"]
    metrics = {
        "pair_auc": float(roc_auc_score(ys, xs)),
        "top1": top1,
        "negation_auc": float(roc_auc_score(neg_y, neg_x)),
        "threshold": threshold,
        "recall_paraphrase": recall("paraphrase"),
        "recall_negated": recall("negated"),
        "recall_real": recall("real"),
        "disclaimers_fired_no_veto": float(sum(_fires(s, k, cal, threshold, False) for (k, _), s in zip(disclaimers, dis, strict=True))),
        "disclaimers_fired": float(sum(_fires(s, k, cal, threshold, True) for (k, _), s in zip(disclaimers, dis, strict=True))),
        "disclaimers": float(len(disclaimers)),
        "ordinary_fire_rate": float(np.mean([any(_fires(s, k, cal, threshold, True) for k in range(n)) for s in test_ord])) if test_ord else float("nan"),
        "ordinary_test": float(len(test_ord)),
    }  # fmt: skip
    return metrics, cal


def _kind(rule: RuleSet, text: str) -> str:
    if text in rule.negated:
        return "negated"
    return "real" if text in rule.real_positives else "paraphrase"


def _fmt(v: float) -> str:
    return "–" if math.isnan(v) else f"{v:.2f}"


def _row(name: str, m: dict[str, float], seconds: float) -> str:
    return (
        f"| {name} | {m['pair_auc']:.2f} | {m['top1']:.2f} | {m['negation_auc']:.2f} | "
        f"{m['threshold']:.3f} | {_fmt(m['recall_paraphrase'])} | {_fmt(m['recall_negated'])} | "
        f"{_fmt(m['recall_real'])} | {int(m['disclaimers_fired_no_veto'])} → "
        f"{int(m['disclaimers_fired'])} of {int(m['disclaimers'])} | "
        f"{m['ordinary_fire_rate'] * 100:.1f} % of {int(m['ordinary_test'])} | {seconds:.0f} s |"
    )


HEADER = (
    "| encoder | pair AUC | rule top-1 | negation AUC | default threshold | recall: paraphrases | "
    "negated | real | disclaimers fired (no veto → veto) | ordinary messages fired | time |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def _write(cal: Calibration, model: str) -> Path:
    if Path(model).is_dir():
        target = Path(model) / MODEL_CALIBRATION
        target.write_text(json.dumps(cal.to_dict(), ensure_ascii=False, indent=2) + "\n", "utf-8")
        return target
    data = json.loads(CALIBRATION_FILE.read_text("utf-8")) if CALIBRATION_FILE.exists() else {}
    data.setdefault("models", {})[cal.model] = cal.to_dict()
    CALIBRATION_FILE.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return CALIBRATION_FILE


def main(argv: Sequence[str] | None = None) -> int:
    """Print the card's table; with --write-calibration store each encoder's calibration."""
    ap = argparse.ArgumentParser(prog="qc eval semantic", description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", help=f"encoder(s): {DEFAULT_MODEL}, {MINILM}, "
                    "tfidf or a sentence-transformers name/path (default: all three)")  # fmt: skip
    ap.add_argument("--data", type=Path, help="shared data folder (default ../shared/data)")
    ap.add_argument("--write-calibration", action="store_true")
    args = ap.parse_args(list(argv) if argv is not None else None)
    rules = load_set(data_dir=args.data)
    ordinary = ordinary_sentences(data_dir=args.data)
    if not ordinary:
        sys.stderr.write("no real dialogues found (../shared/data or --data): cannot calibrate\n")
        return 2
    sys.stdout.write(f"{len(rules)} rules; {sum(len(r.real_positives) for r in rules)} real positives; "
          f"{len(ordinary)} real ordinary messages\n\n{HEADER}\n")  # fmt: skip
    for model in args.model or [DEFAULT_MODEL, MINILM, "tfidf"]:
        started = time.perf_counter()
        if model == "tfidf":
            corpus = [t for r in rules for t in r.examples + r.paraphrases] + [
                o.text for o in ordinary
            ]
            encoder: Encoder = TfidfEncoder(corpus)
        else:
            encoder = load_encoder(model)
        metrics, cal = evaluate(encoder, rules, ordinary)
        sys.stdout.write(_row(encoder.name, metrics, time.perf_counter() - started) + "\n")
        sys.stdout.flush()
        if args.write_calibration and model != "tfidf":
            sys.stderr.write(f"calibration of {model} written to {_write(cal, model)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
