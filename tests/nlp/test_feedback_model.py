"""The feedback (overturn) model on a seeded verdict history: it ranks the findings reviewers
overturn first, stays off without enough data, is idempotent by fingerprint and keeps no text."""

from __future__ import annotations

import io
import pickle
import random
from datetime import UTC, datetime, timedelta

import joblib
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from qc_service.nlp.feedback import (
    AgentHistory,
    FeedbackModel,
    Finding,
    NotEnoughData,
    Verdict,
    fingerprint,
    train,
    with_history,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

# (rule, evidence span, message with its neighbours, P(overturned)) — a reviewer overturns
# "自己看" when the agent is pointing the customer to a document, and a red packet the agent
# refused; both are flagged by the keyword alone.
KINDS = [
    (
        "service.impatient",
        "自己看",
        "客户：保修条款在哪？\n坐席：在合同第三页，您可以自己看一下，有疑问随时问我",
        0.85,
    ),
    (
        "service.impatient",
        "自己看",
        "客户：发票开了吗？\n坐席：电子发票已发到您邮箱，方便时自己看一下哈",
        0.85,
    ),
    (
        "service.impatient",
        "我说过了",
        "客户：到底几号发货？\n坐席：我说过了，你听不懂吗，自己看",
        0.08,
    ),
    ("service.impatient", "自己看", "客户：怎么退款？\n坐席：说了多少遍了，自己看，别再问了", 0.08),
    (
        "redline.red-packet",
        "红包",
        "客户：能便宜点吗？\n坐席：加我微信给您发个红包，好评再返现",
        0.05,
    ),
    (
        "redline.red-packet",
        "红包",
        "客户：你们发红包吗？\n坐席：抱歉，公司规定不能私下发红包，我们有官方优惠券",
        0.8,
    ),
    ("redline.private-contact", "加 V 信", "客户：怎么联系你？\n坐席：加 V 信聊，优惠多", 0.1),
]
AGENTS = ["e1", "e2", "e3", "e4", "e7"]
PRONE_AGENT = "e7"
"""Whose findings reviewers overturn more often (a lenient rule for this agent's script)."""


def seeded_history(n: int, seed: int, start: int = 0) -> list[Verdict]:
    """``n`` verdicts one minute apart; labels drawn from KINDS and the agent."""
    rng = random.Random(seed)
    out = []
    for i in range(start, start + n):
        rule, span, context, p = rng.choice(KINDS)
        agent = rng.choice(AGENTS)
        if agent == PRONE_AGENT:
            p = 1 - (1 - p) * 0.4
        overturned = rng.random() < p
        appealed = rng.random() < (0.7 if overturned else 0.4)
        out.append(Verdict(
            verdict_id=i, rule_id=rule, evidence_text=span, context_text=context, agent_id=agent,
            appealed=appealed, overturned=overturned, decided_at=T0 + timedelta(minutes=i),
        ))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def history() -> list[Verdict]:
    return seeded_history(240, seed=7)


@pytest.fixture(scope="module")
def model(history: list[Verdict]) -> FeedbackModel:
    trained = train(history, trained_at=T0 + timedelta(days=1))
    assert isinstance(trained, FeedbackModel), trained
    return trained


def test_ranks_overturn_prone_findings_first_on_a_seeded_history(
    history: list[Verdict], model: FeedbackModel
) -> None:
    later = seeded_history(120, seed=8, start=len(history))
    findings = [f for f, _ in with_history(history + later)][len(history) :]
    labels = [v.overturned for v in sorted(later, key=lambda v: v.decided_at)]
    scores = model.score(findings)
    assert roc_auc_score(labels, scores) > 0.85
    top = np.argsort(scores)[::-1][:20]
    assert sum(labels[i] for i in top) / 20 >= 0.8  # the top of the queue is mostly overturns
    assert sum(labels) / len(labels) < 0.6  # … well above the base rate
    assert model.metrics["auc"] > 0.8 and model.metrics["n_test"] == 60
    assert model.meta["verdicts"] == 240


def test_context_rule_and_agent_history_move_the_risk(model: FeedbackModel) -> None:
    polite, rude = KINDS[0], KINDS[3]
    as_pointer, as_brush_off = model.score([
        Finding("service.impatient", polite[1], polite[2]), Finding("service.impatient", rude[1], rude[2]),
    ])  # fmt: skip
    assert as_pointer > 0.5 > as_brush_off
    lure = KINDS[4]
    clean, prone = model.score([
        Finding(lure[0], lure[1], lure[2], agent=AgentHistory(decided=20, overturned=1)),
        Finding(lure[0], lure[1], lure[2], agent=AgentHistory(decided=20, overturned=16)),
    ])  # fmt: skip
    assert prone > clean


def test_agent_history_counts_only_verdicts_decided_earlier() -> None:
    base = {"rule_id": "r", "evidence_text": "x", "context_text": "", "appealed": False}
    verdicts = [
        Verdict(verdict_id=4, agent_id="a", overturned=False, decided_at=T0 + timedelta(hours=3), **base),
        Verdict(verdict_id=1, agent_id="a", overturned=True, decided_at=T0, **base),
        Verdict(verdict_id=2, agent_id="a", overturned=True, decided_at=T0 + timedelta(hours=1), **base),
        Verdict(verdict_id=3, agent_id="a", overturned=False, decided_at=T0 + timedelta(hours=1), **base),
        Verdict(verdict_id=5, agent_id="b", overturned=True, decided_at=T0 + timedelta(hours=4), **base),
    ]  # fmt: skip
    histories = [f.agent for f, _ in with_history(verdicts)]
    assert histories == [
        AgentHistory(0, 0),  # the first verdict knows nothing
        AgentHistory(1, 1),  # two decided at the same time do not see each other
        AgentHistory(1, 1),
        AgentHistory(3, 2),
        AgentHistory(0, 0),  # another agent's record does not count
    ]


def test_too_little_data_gives_the_reason_and_no_model(history: list[Verdict]) -> None:
    few = train(history[:12])
    assert isinstance(few, NotEnoughData)
    assert "12 decided verdicts (needs at least 30)" in few.reason
    assert few.counts["verdicts"] == 12 and few.fingerprint == fingerprint(history[:12])
    one_sided = train([v for v in history if not v.overturned][:40])
    assert isinstance(one_sided, NotEnoughData)
    assert one_sided.reason == "too little data: 0 overturned (needs at least 5)"
    assert isinstance(train(history[:12], min_verdicts=10, min_per_class=1), FeedbackModel)


def test_fingerprint_and_weights_depend_only_on_the_verdicts(
    history: list[Verdict], model: FeedbackModel
) -> None:
    shuffled = random.Random(1).sample(history, len(history))
    assert fingerprint(shuffled) == fingerprint(history) == model.fingerprint
    again = train(shuffled)
    assert isinstance(again, FeedbackModel)
    np.testing.assert_array_equal(again.coef, model.coef)
    flipped = [
        *history[:-1],
        Verdict(**{**_fields(history[-1]), "overturned": not history[-1].overturned}),
    ]
    assert fingerprint(flipped) != fingerprint(history)
    assert fingerprint(history + seeded_history(1, seed=9, start=999)) != fingerprint(history)


def _fields(v: Verdict) -> dict[str, object]:
    return {name: getattr(v, name) for name in Verdict.__slots__}


def _strings(obj: object) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in _strings(k) + _strings(v)]
    if isinstance(obj, list | tuple):
        return [s for v in obj for s in _strings(v)]
    return []


def test_artifact_holds_no_training_text_and_round_trips(
    history: list[Verdict], model: FeedbackModel
) -> None:
    blob = model.to_bytes()
    data = joblib.load(io.BytesIO(blob))
    unpacked = pickle.dumps(data)
    lines = [line for k in KINDS for line in k[2].split("\n")]
    for needle in lines + [line[3:9] for line in lines]:
        for enc in ("utf-8", "utf-16-le", "utf-32-le"):
            assert needle.encode(enc) not in blob and needle.encode(enc) not in unpacked, needle
    strings = _strings(data)
    assert all(s.isascii() for s in strings)  # rule ids and settings only: no Chinese text
    assert not set(strings) & set(AGENTS)  # nor agent ids (their history comes in at scoring)
    assert {k: v.dtype.kind for k, v in data.items() if isinstance(v, np.ndarray)} == {"coef": "f"}
    loaded = FeedbackModel.from_bytes(blob)
    findings = [f for f, _ in with_history(history)][:30]
    assert loaded.score(findings) == model.score(findings)
    assert len(blob) < 500_000
    with pytest.raises(ValueError, match="qc-feedback/1"):
        FeedbackModel.from_dict({"format": "qc-sentiment/1"})
