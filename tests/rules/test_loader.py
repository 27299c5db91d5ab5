"""Rule files: every problem is reported with file, rule id and key path; nothing unknown passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from qc_service.rules.errors import RuleValidationError
from qc_service.rules.loader import (
    load_builtin_pack,
    load_rules_data,
    load_rules_file,
    load_rules_text,
)
from qc_service.rules.registry import REGISTRY


def _errors(doc: object) -> list[str]:
    with pytest.raises(RuleValidationError) as info:
        load_rules_data(doc, source_name="rules.yaml")
    return [str(e) for e in info.value.errors]


def test_unknown_key_names_rule_and_path() -> None:
    errs = _errors(
        {
            "rules": [
                {"id": "a.b", "name": "x", "when": {"keyword": {"words": ["红包"], "min_cout": 2}}}
            ]
        }
    )
    assert errs == [
        "rules.yaml: rule a.b: rules[0].when.keyword.min_cout: unknown parameter of keyword "
        "(known: role, words, lexicon, file, min_count, allow, evasion, pinyin)"
    ]


def test_every_problem_is_listed_at_once() -> None:
    errs = _errors({
        "rules": [
            {"id": "Bad Id", "name": "x", "when": {"keyword": {"words": ["a"]}}},
            {"id": "ok", "name": "y", "severity": "huge", "deduct": 120, "when": {"any": [{"regex": {"pattern": "(a)\\1"}}]}},
            {"id": "ok", "name": "z", "when": {"keyword": {"words": ["x"], "role": "boss"}}},
        ]
    })  # fmt: skip
    joined = "\n".join(errs)
    assert "rules[0].id: id is required" in joined
    assert "rule ok: rules[1].severity" in joined
    assert "rules[1].deduct: deduct must be an integer 0..100" in joined
    assert "rules[1].when.any[0].regex.pattern: RE2 cannot compile this pattern" in joined
    assert "rules[2].id: duplicate rule id 'ok'" in joined
    assert "rules[2].when.keyword.role: role must be one of agent, customer, any" in joined


def test_conversation_level_operator_nested_in_message_level_is_an_error() -> None:
    errs = _errors({"rules": [{"id": "x", "name": "x", "when": {"sequence": {
        "first": {"keyword": {"words": ["投诉"]}},
        "then": {"absent": {"cond": {"keyword": {"words": ["抱歉"]}}}},
    }}}]})  # fmt: skip
    assert any(
        "rules[0].when.sequence.then.absent: absent is conversation-level" in e for e in errs
    )


def test_unknown_operator_and_missing_words() -> None:
    errs = _errors({"rules": [
        {"id": "x", "name": "x", "when": {"kewyord": {"words": ["a"]}}},
        {"id": "y", "name": "y", "when": {"keyword": {"role": "agent"}}},
    ]})  # fmt: skip
    assert any("rules[0].when.kewyord: unknown operator 'kewyord'" in e for e in errs)
    assert any(
        "rules[1].when.keyword: keyword needs at least one of words, lexicon, file" in e
        for e in errs
    )


def test_actions_are_validated() -> None:
    errs = _errors({"rules": [{"id": "x", "name": "x", "when": {"keyword": {"words": ["a"]}},
                               "actions": [{"alert": "boss"}, {"transfer_customer": "e1"}, {"page": 1}]}]})  # fmt: skip
    assert any("actions[0].alert" in e for e in errs)
    assert any("actions[1].transfer_customer" in e for e in errs)
    assert any("actions[2].page: unknown action" in e for e in errs)


def test_tag_keys_only_on_tag_rules() -> None:
    errs = _errors(
        {"rules": [{"id": "x", "name": "x", "tag": "t", "when": {"keyword": {"words": ["a"]}}}]}
    )
    assert any("rules[0].tag: tag belongs to tag rules" in e for e in errs)


def test_lexicon_file_relative_to_rule_file(tmp_path: Path) -> None:
    (tmp_path / "words.txt").write_text("# comment\n红包\n\n返现\n", encoding="utf-8")
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(
        "version: 1\nlexicons:\n  lure: {file: words.txt}\nrules:\n"
        "  - {id: lure, name: 利诱, when: {keyword: {lexicon: lure}}}\n",
        encoding="utf-8",
    )
    ruleset = load_rules_file(rule_file)
    assert ruleset.rules[0].lexicons == {"lexicon:lure": ["红包", "返现"]}


def test_missing_lexicon_file_is_a_located_error(tmp_path: Path) -> None:
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(
        "rules:\n  - {id: a, name: a, when: {keyword: {file: nope.txt}}}\n", encoding="utf-8"
    )
    with pytest.raises(RuleValidationError) as info:
        load_rules_file(rule_file)
    assert "rules[0].when.keyword.file: cannot read word file 'nope.txt'" in str(info.value)


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(RuleValidationError) as info:
        load_rules_text("rules:\n  - {id: a, name: [\n", source_name="bad.yaml")
    assert "bad.yaml" in str(info.value) and "line" in str(info.value)


def test_snapshot_rebuilds_without_files() -> None:
    ruleset = load_rules_data(
        {"rules": [{"id": "a", "name": "a", "when": {"keyword": {"file": "gone.txt"}}}]},
        snapshot={"a": {"file:gone.txt": ["红包"]}},
    )
    assert ruleset.index.matcher.patterns == ["红包"]


def test_every_operator_in_rules_md_is_registered_with_a_schema() -> None:
    rules_md = Path(__file__).resolve().parents[2].parent / "shared" / "RULES.md"
    if not rules_md.exists():
        pytest.skip(f"{rules_md} not found")
    names = []
    for line in rules_md.read_text(encoding="utf-8").splitlines():
        if (
            line.startswith("| ")
            and not line.startswith("| operator")
            and not line.startswith("|---")
        ):
            names.append(line.split("|")[1].strip())
    assert len(names) >= 18
    for name in names:
        assert name in REGISTRY, name
        assert REGISTRY.get(name).params, name


def test_builtin_pack_loads_and_runs_on_the_hot_lane() -> None:
    pack = load_builtin_pack()
    ids = {r.id for r in pack.rules}
    assert {
        "redline.private-contact",
        "redline.red-packet",
        "redline.guaranteed-returns",
        "redline.abuse",
    } <= ids
    assert all(
        r.hot for r in pack.rules if r.id.startswith("redline.")
    )  # red lines alert inside the ingest call
    assert not pack.get("service.shouting").hot  # audio waits for the deep lane
    assert all(
        any(a.type == "alert" and a.target == "agent" for a in r.actions)
        for r in pack.rules
        if r.id.startswith("redline.")
    )
