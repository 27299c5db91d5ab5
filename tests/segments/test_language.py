"""The segment language's load errors (RULES.md) and the docs' examples, which must load."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from qc_service.rules.errors import RuleValidationError
from qc_service.rules.loader import load_rules_data

DOCS = Path(__file__).parents[2] / "docs" / "rules.md"
RULE = {"id": "redline.wechat", "name": "w", "when": {"keyword": {"words": ["微信"]}}}


def _errors(*segments: dict[str, object]) -> list[str]:
    with pytest.raises(RuleValidationError) as exc:
        load_rules_data({"rules": [RULE], "segments": list(segments)}, source_name="r.yaml")
    return [str(e) for e in exc.value.errors]


def seg(sid: str = "seg.a", **kw: object) -> dict[str, object]:
    return {"id": sid, "name": "n", "when": {"tag": {"any_of": ["x"]}}, **kw}


def test_each_load_error_names_the_segment_and_key_path() -> None:
    assert _errors(seg(when={"keyword": {"words": ["报价"]}})) == [
        "r.yaml: segment seg.a: segments[0].when.keyword: keyword is a message-level operator: "
        "use it inside said: {cond: …}"]  # fmt: skip
    assert _errors(seg(colour="red")) == [
        "r.yaml: segment seg.a: segments[0].colour: unknown key (known: id, name, description, enabled, "
        "schedule, when, on_enter, on_leave, hold, guard, first_run)"]  # fmt: skip
    (long,) = _errors(seg(on_enter=[{"tag_customer": "一二三四五六七八九十一二三四五六"}]))
    assert "segments[0].on_enter[0].tag_customer" in long and "at most 15" in long
    (unknown,) = _errors(seg(when={"hit": {"rule": "quality.*"}}))
    assert "segments[0].when.hit.rule: unknown rule id 'quality.*'" in unknown
    (cycle,) = _errors(seg("seg.a", when={"in_segment": {"id": "seg.b"}}),
                       seg("seg.b", when={"in_segment": {"id": "seg.a"}}))  # fmt: skip
    assert "in_segment cycle: seg.a → seg.b → seg.a" in cycle
    (window,) = _errors(
        seg(when={"said": {"cond": {"keyword": {"words": ["a"]}}, "window": "30 days"}})
    )
    assert "segments[0].when.said.window" in window


def test_the_docs_examples_load() -> None:
    text = DOCS.read_text(encoding="utf-8")
    chapter = text[text.index("## Segments (人群分组)") :]
    chapter = chapter[: chapter.index("\n## ", 5)]
    blocks = re.findall(r"```yaml\n(.*?)```", chapter, flags=re.S)
    assert len(blocks) >= 10
    doc = yaml.safe_load(blocks[0] + "".join(blocks[1:10]))
    ruleset = load_rules_data(doc, source_name="docs/rules.md")
    assert len(ruleset.segments) == 10
