"""The shipped sentiment model: loads, scores the right side, holds no training text."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest

from qc_service.nlp import corpora as ts
from qc_service.nlp.sentiment import DEFAULT_PATH, SentimentModel, normalize_text


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    return SentimentModel.load()


def shared_data() -> Path:
    root = ts.data_root(None)
    if not (root / ts.FILES["waimai"]).is_file():
        pytest.skip(f"shared data not found at {root} (set QC_SHARED_DATA)")
    return root


def test_clear_customer_service_sentences_score_on_the_right_side(model: SentimentModel) -> None:
    neg, pos = model.score(["太差了，再也不买了", "东西很好，客服态度也好"])
    assert neg < 0 < pos
    more = model.score(["我要投诉！等了三天还没发货", "谢谢，问题解决了，非常满意"])
    assert more[0] < -0.3 and more[1] > 0.3


def test_scores_are_bounded_batched_and_deterministic(model: SentimentModel) -> None:
    texts = ["好评", "差评", "", "ＡＢＣ全角", "一般般"] * 1000  # more than one batch
    s = model.score(texts)
    assert s.shape == (len(texts),) and np.all(s >= -1) and np.all(s <= 1)
    np.testing.assert_allclose(s[:5], model.score(texts[:5]))
    assert model.score([]).shape == (0,)


def test_full_width_is_folded_before_hashing(model: SentimentModel) -> None:
    assert normalize_text("ＯＫ，好的　") == "ok,好的 "
    np.testing.assert_allclose(model.score(["ＯＫ，好的"]), model.score(["ok,好的"]))


def test_conversation_scores_are_length_weighted_per_role(model: SentimentModel) -> None:
    msgs = [("customer", "太差了，再也不买了"), ("agent", "非常抱歉"), ("customer", "好")]
    out = model.conversation_scores(msgs)
    s = model.score([t for _, t in msgs])
    assert out["customer"] == pytest.approx((s[0] * 9 + s[2] * 1) / 10)
    assert out["agent"] == pytest.approx(s[1])
    assert "agent" not in model.conversation_scores([("agent", "  "), ("customer", "好")])


@pytest.mark.shared_data
def test_held_out_waimai_accuracy(model: SentimentModel) -> None:
    texts, labels = ts.held_out(shared_data(), "waimai")
    idx = np.random.default_rng(ts.SEED).choice(len(texts), 200, replace=False)
    s = model.score([texts[i] for i in idx])
    y = np.asarray([labels[i] for i in idx])
    assert np.mean(np.where(s > 0, 1, -1) == y) >= 0.8


@pytest.mark.shared_data
def test_artifact_contains_no_training_text() -> None:
    root = shared_data()
    sentences: list[str] = []
    for domain in ts.REVIEW_DOMAINS:
        texts, _ = ts.load_reviews(root, domain)
        sentences += (
            sorted(texts, key=len, reverse=True)[:3] + [t for t in texts if len(t) > 12][:3]
        )
    raw = DEFAULT_PATH.read_bytes()
    unpacked = pickle.dumps(joblib.load(DEFAULT_PATH))
    for sentence in sentences:
        for needle in (sentence, sentence[:12]):
            for enc in ("utf-8", "utf-16-le", "utf-32-le"):
                b = needle.encode(enc)
                assert b not in raw and b not in unpacked, needle
    data = joblib.load(DEFAULT_PATH)
    assert set(data) == {"format", "idf", "coef", "intercept", "classes", "meta"}
    strings = [v for v in data["meta"].values() if isinstance(v, str)]
    assert all(s.isascii() for s in strings)  # settings only, no Chinese text


def test_artifact_is_small() -> None:
    assert DEFAULT_PATH.stat().st_size < 5_000_000
    assert os.path.basename(DEFAULT_PATH) == "sentiment.joblib"
