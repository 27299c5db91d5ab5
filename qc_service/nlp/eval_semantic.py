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
from qc_service.nlp.paraphrase_set import Ordinary, RuleSet, load_set, ordinary_sentences
from qc_service.nlp.semantic import (
    CALIBRATION_FILE,
    MODEL_CALIBRATION,
    Calibration,
    ExampleCache,
    SemanticIndex,
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


def _best_cosines(index: SemanticIndex, rules: list[RuleSet], ids: list[str]) -> list[list[float]]:
    """Per text, the best cosine per rule (−1 for a text without a sentence unit)."""
    out = []
    for mid in ids:
        row = []
        for rule in rules:
            sims = index.cosines(mid, rule.examples)
            row.append(float(sims.max()) if sims.size else -1.0)
        out.append(row)
    return out


def _center(encoder: Encoder, texts: list[str]) -> list[float]:
    """Mean unit vector of the sentences of real ordinary messages (the common direction)."""
    units = [u.text for t in texts for u in sentence_units("m", t)]
    return [float(x) for x in encoder.encode(units).mean(axis=0)]


def evaluate(
    encoder: Encoder, rules: list[RuleSet], ordinary: list[Ordinary]
) -> tuple[dict[str, float], Calibration]:
    """The card's numbers for one encoder, and the calibration fitted on the calibration half.

    Every text goes through the operator's own ``SemanticIndex`` (units, centring, example cache,
    threshold and veto), so the card measures what rules run, not a copy of it."""
    center = _center(encoder, [o.text for o in ordinary if o.split == "calibration"])
    provisional = Calibration(encoder.name, 1.0, 0.0, 0.5, "", tuple(center))
    positives = [
        (k, t) for k, r in enumerate(rules) for t in r.paraphrases + r.negated + r.real_positives
    ]
    disclaimers = [(k, t) for k, r in enumerate(rules) for t in r.disclaimers + r.real_disclaimers]
    texts = {f"p{i}": t for i, (_, t) in enumerate(positives)}
    texts |= {f"d{i}": t for i, (_, t) in enumerate(disclaimers)}
    texts |= {f"o{i}": o.text for i, o in enumerate(ordinary)}
    index = SemanticIndex.build(encoder, provisional, texts.items(), examples=ExampleCache())
    pos = _best_cosines(index, rules, [f"p{i}" for i in range(len(positives))])
    dis = _best_cosines(index, rules, [f"d{i}" for i in range(len(disclaimers))])
    ordi = _best_cosines(index, rules, [f"o{i}" for i in range(len(ordinary))])
    n = len(rules)

    def pairs(idx: set[int] | None, ord_split: str | None) -> tuple[list[float], list[int]]:
        xs, ys = [], []
        for i, ((k, _), cos) in enumerate(zip(positives, pos, strict=True)):
            if idx is None or i in idx:
                xs += cos
                ys += [int(j == k) for j in range(n)]
        for o, cos in zip(ordinary, ordi, strict=True):
            if ord_split is None or o.split == ord_split:
                xs += cos
                ys += [0] * n
        return xs, ys

    xs, ys = pairs(None, None)
    top1 = float(
        np.mean([int(np.argmax(c)) == k for (k, _), c in zip(positives, pos, strict=True)])
    )
    neg_x = [c[k] for (k, _), c in zip(positives, pos, strict=True)]
    neg_x += [c[k] for (k, _), c in zip(disclaimers, dis, strict=True)]
    neg_y = [1] * len(positives) + [0] * len(disclaimers)

    calib_idx = {i for i in range(len(positives)) if i % 2 == 0}
    cx, cy = pairs(calib_idx, "calibration")
    lr = LogisticRegression(C=1e4, max_iter=1000).fit(np.array(cx)[:, None], cy)
    a, b = float(lr.coef_[0][0]), float(lr.intercept_[0])
    calib_ord = sorted(
        max(c) for o, c in zip(ordinary, ordi, strict=True) if o.split == "calibration"
    )
    raw = calib_ord[min(len(calib_ord) - 1, math.ceil(len(calib_ord) * (1 - MAX_ORDINARY_FIRE)))]
    threshold = math.ceil(1e3 / (1 + math.exp(-(a * raw + b)))) / 1e3
    n_calib = sum(o.split == "calibration" for o in ordinary)
    fitted_on = f"models/semantic/paraphrases.yaml (even positions) + {n_calib} real JDDC/STC-3 agent messages"
    cal = Calibration(encoder.name, a, b, threshold, fitted_on, tuple(center))
    fitted = index.with_calibration(cal)

    def fires(mid: str, k: int, veto: bool = True) -> bool:
        return bool(fitted.match(mid, rules[k].examples, veto=veto))

    def recall(kind: str) -> float:
        rows = [
            fires(f"p{i}", k)
            for i, (k, t) in enumerate(positives)
            if i % 2 == 1 and _kind(rules[k], t) == kind
        ]
        return float(np.mean(rows)) if rows else float("nan")

    test_ord = [f"o{i}" for i, o in enumerate(ordinary) if o.split == "test"]
    metrics = {
        "pair_auc": float(roc_auc_score(ys, xs)),
        "top1": top1,
        "negation_auc": float(roc_auc_score(neg_y, neg_x)),
        "threshold": threshold,
        "recall_paraphrase": recall("paraphrase"),
        "recall_negated": recall("negated"),
        "recall_real": recall("real"),
        "disclaimers_fired_no_veto": float(sum(fires(f"d{i}", k, veto=False) for i, (k, _) in enumerate(disclaimers))),
        "disclaimers_fired": float(sum(fires(f"d{i}", k) for i, (k, _) in enumerate(disclaimers))),
        "disclaimers": float(len(disclaimers)),
        "ordinary_fire_rate": float(np.mean([any(fires(mid, k) for k in range(n)) for mid in test_ord])) if test_ord else float("nan"),
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
