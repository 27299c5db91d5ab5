"""The labelled corpora of ../shared/data the sentiment model is trained and measured on.

Why apart from the trainer: the tests draw exactly the held-out splits the model card reports,
and the card names every source and its licence from the same table.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

SEED = 20240611
TEST_SIZE = 0.2

REVIEW_DOMAINS = ("waimai", "hotel", "shopping", "car")
FILES = {
    "waimai": "sentiment_waimai_10k/waimai_10k.csv",
    "hotel": "sentiment_chnsenticorp_htl/ChnSentiCorp_htl_all.csv",
    "shopping": "sentiment_online_shopping_10_cats/online_shopping_10_cats_strat300.csv",
    "car": "sentiment_bdci2018_car_aspect/train_2.csv",
    "stc3": "stc3_weibo_helpdesk_dialogues/train_data_cn_compact.jsonl",
}
SOURCES = {
    "waimai": "food-delivery reviews (SophonPlus/ChineseNlpCorpus @a0b781d); licence: none stated",
    "hotel": "ChnSentiCorp hotel reviews (SophonPlus/ChineseNlpCorpus @a0b781d); licence: none "
    "(research use by convention)",
    "shopping": "online_shopping_10_cats, 5,800-row stratified sample (SophonPlus @a0b781d); "
    "licence: none stated",
    "car": "BDCI 2018 car-forum opinions, 3-class (lqfeng/NLPDataset @fb49caf); licence: none, "
    "competition data",
    "stc3": "NTCIR-14 STC-3 Weibo customer↔helpdesk dialogues (sakai-lab/stc3-dataset); "
    "annotations CC BY 4.0, Weibo text without licence",
}

Labelled = tuple[list[str], list[int]]
Dialogue = tuple[list[tuple[str, str]], float]
"""``([(role, text), …], mean satisfaction S)``; roles ``customer`` | ``agent``."""


def data_root(arg: str | None) -> Path:
    """``--data``, else $QC_SHARED_DATA, else ``../shared/data`` beside the checkout."""
    if arg:
        return Path(arg)
    env = os.environ.get("QC_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def load_reviews(root: Path, domain: str) -> Labelled:
    """Texts and labels (−1 negative, 0 neutral, 1 positive) of one review domain.

    Car texts appear once per aspect: a text with both a positive and a negative aspect is
    dropped, otherwise it is positive/negative if any aspect is, neutral when all are.
    """
    rows = _read_csv(root / FILES[domain])
    if domain != "car":
        out = [(r["review"].strip(), 1 if r["label"] == "1" else -1) for r in rows]
        kept = [(t, y) for t, y in out if t]
        return [t for t, _ in kept], [y for _, y in kept]
    by_text: dict[str, set[int]] = {}
    for r in rows:
        by_text.setdefault(r["content"].strip(), set()).add(int(r["sentiment_value"]))
    texts, labels = [], []
    for text, values in by_text.items():
        if not text or {-1, 1} <= values:
            continue
        texts.append(text)
        labels.append(1 if 1 in values else -1 if -1 in values else 0)
    return texts, labels


def load_dialogues(root: Path) -> list[Dialogue]:
    """STC-3 training dialogues: each utterance a message, helpdesk → agent."""
    out: list[Dialogue] = []
    with (root / FILES["stc3"]).open(encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            msgs = [
                ("customer" if t["role"] == "customer" else "agent", u.strip())
                for t in d["turns"]
                for u in t["utterances"]
                if u.strip()
            ]
            out.append((msgs, float(d["quality_mean"]["S"])))
    return out


def split_reviews(data: Labelled, seed: int = SEED) -> tuple[Labelled, Labelled]:
    """Stratified train / held-out split."""
    tr_x, te_x, tr_y, te_y = train_test_split(
        data[0], data[1], test_size=TEST_SIZE, random_state=seed, stratify=data[1]
    )
    return (list(tr_x), list(tr_y)), (list(te_x), list(te_y))


def split_dialogues(
    dialogues: list[Dialogue], seed: int = SEED
) -> tuple[list[Dialogue], list[Dialogue]]:
    """Train / held-out split of the dialogues (by dialogue)."""
    idx = np.random.default_rng(seed).permutation(len(dialogues))
    cut = int(round(len(dialogues) * (1 - TEST_SIZE)))
    return [dialogues[i] for i in idx[:cut]], [dialogues[i] for i in idx[cut:]]


def held_out(root: Path, domain: str, seed: int = SEED) -> Labelled:
    """The held-out part of a review domain, exactly as the card's metrics use it."""
    return split_reviews(load_reviews(root, domain), seed)[1]
