"""Rule-document errors with their line and column (UI.md: ``第 N 行，第 M 列：<message>``).

Why from key paths: the loader already names every problem by its key path
(``rules[0].when.any[1].keyword.min_count``); composing the YAML text into nodes keeps each
node's start mark, so the path leads to the exact key. A path that ends at a missing key points
at the deepest mapping that exists (where the key should be written).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from qc_service.rules.errors import RuleValidationError
from qc_service.rules.loader import load_rules_data

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_LINE_COL = re.compile(r"line (\d+), column (\d+)")


@dataclass(frozen=True, slots=True)
class Located:
    """One problem of a draft: 1-based line and column, the rule it concerns, the message."""

    line: int
    column: int
    message: str
    rule_id: str | None = None
    path: str = ""


def locate(root: yaml.Node | None, path: str) -> tuple[int, int]:
    """The 1-based (line, column) of ``path`` in a composed document (its deepest existing part)."""
    if root is None:
        return 1, 1
    node: yaml.Node = root
    mark = node.start_mark
    for key, index in _STEP.findall(path):
        nxt: tuple[yaml.Node, Any] | None = None
        if key and isinstance(node, yaml.MappingNode):
            nxt = next(
                ((v, k.start_mark) for k, v in node.value if getattr(k, "value", None) == key), None
            )
        elif index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
            child = node.value[int(index)]
            nxt = (child, child.start_mark)
        if nxt is None:
            break
        node, mark = nxt
    return mark.line + 1, mark.column + 1


def draft_errors(text: str) -> list[Located]:
    """Every problem of a rule document, located; empty when it loads."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        return [Located(mark.line + 1 if mark else 1, mark.column + 1 if mark else 1,
                        f"not valid YAML: {problem}")]  # fmt: skip
    if not isinstance(doc, dict):
        return [Located(1, 1, "the rule document must be a mapping with a rules: list")]
    try:
        load_rules_data(doc, source_name="draft")
    except RuleValidationError as exc:
        out = []
        for e in exc.errors:
            m = _LINE_COL.fullmatch(e.path)
            line, col = (int(m.group(1)), int(m.group(2))) if m else locate(root, e.path)
            out.append(Located(line, col, e.message, e.rule_id, e.path))
        return sorted(out, key=lambda x: (x.line, x.column))
    return []
