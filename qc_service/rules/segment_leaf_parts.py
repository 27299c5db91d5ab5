"""The leaves of a segment condition (RULES.md: said, hit, tag, attr, last, silent, in_group,
event, in_segment) and ``all``/``any``/``not`` over them: parsed and checked, defaults filled in.

Why a base class of the segment parser: each leaf has its own small grammar; the parser reports
every problem with the segment id and key path through the same ``report``.
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

from qc_service.rules.compiled import iter_leaves
from qc_service.rules.conditions import ConditionParser, parse_tree
from qc_service.rules.model import SEVERITIES
from qc_service.rules.registry import REGISTRY
from qc_service.rules.rule_parts import is_number
from qc_service.rules.segment_model import SegAll, SegAny, SegLeaf, SegNode, SegNot, window_seconds

LEAF_KEYS: dict[str, tuple[str, ...]] = {
    "said": ("cond", "role", "window", "min"),
    "hit": ("rule", "severity_at_least", "window", "min"),
    "tag": ("any_of", "all_of", "none_of", "source"),
    "attr": ("field", "op", "value"),
    "last": ("role", "within_days", "before_days"),
    "silent": ("side", "over_hours"),
    "in_group": ("match", "since_days"),
    "event": ("type", "where", "window", "min"),
    "in_segment": ("id", "for_days"),
}
ATTR_OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between", "exists", "missing")


class LeafParser:
    """Parses segment conditions; the subclass provides ``report``, ``conditions``,
    ``rule_ids`` (None: not checked) and ``known_segments``."""

    conditions: ConditionParser
    rule_ids: set[str] | None
    known_segments: set[str] | None

    def report(self, path: str, message: str) -> None:
        raise NotImplementedError

    # -- conditions --------------------------------------------------------------------
    def _node(self, data: Any, path: str, doc_ids: set[Any]) -> SegNode | None:
        return parse_tree(
            data, path, self.report, leaf=lambda key, body, lpath: self._seg_leaf(key, body, lpath, doc_ids),
            all_of=SegAll, any_of=SegAny, not_of=SegNot, what="a leaf",
        )  # fmt: skip

    def _seg_leaf(self, key: str, body: Any, lpath: str, doc_ids: set[Any]) -> SegNode | None:
        if key not in LEAF_KEYS:
            if key in REGISTRY:
                self.report(
                    lpath, f"{key} is a message-level operator: use it inside said: {{cond: …}}"
                )
            else:
                self.report(lpath, f"unknown segment leaf {key!r} (known: {', '.join(LEAF_KEYS)})")
            return None
        if not isinstance(body, dict):
            self.report(lpath, f"{key} takes a mapping of {', '.join(LEAF_KEYS[key])}")
            return None
        for k in body:
            if k not in LEAF_KEYS[key]:
                self.report(f"{lpath}.{k}", f"unknown key (known: {', '.join(LEAF_KEYS[key])})")
                return None
        handler: Callable[[dict[str, Any], str, set[Any]], SegLeaf | None]
        handler = getattr(self, f"_leaf_{key}")
        return handler(dict(body), lpath, doc_ids)

    def _window_min(self, body: dict[str, Any], path: str) -> bool:
        ok = True
        window = body.setdefault("window", "all")
        try:
            window_seconds(window)
        except ValueError:
            self.report(f"{path}.window", "window is like 30d or 12h, or all")
            ok = False
        n = body.setdefault("min", 1)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            self.report(f"{path}.min", "min must be a whole number ≥ 1")
            ok = False
        return ok

    def _choice(
        self, body: dict[str, Any], key: str, choices: tuple[str, ...], default: str, path: str
    ) -> bool:
        value = body.setdefault(key, default)
        if value not in choices:
            self.report(f"{path}.{key}", f"{key} must be one of {', '.join(choices)}")
            return False
        return True

    def _positive(
        self, body: dict[str, Any], key: str, path: str, required: bool, default: float = 0
    ) -> bool:
        if key not in body:
            if required:
                self.report(f"{path}.{key}", f"{key} is required")
                return False
            body[key] = default
            return True
        if not is_number(body[key]) or body[key] < 0:
            self.report(f"{path}.{key}", f"{key} must be a number ≥ 0")
            return False
        return True

    def _leaf_said(self, body: dict[str, Any], path: str, _ids: set[Any]) -> SegLeaf | None:
        ok = self._window_min(body, path) & self._choice(
            body, "role", ("customer", "agent"), "customer", path
        )
        if "cond" not in body:
            self.report(f"{path}.cond", "cond is required (a message-level condition)")
            return None
        cond = self.conditions.parse(body["cond"], f"{path}.cond", message_level=True)
        for leaf in iter_leaves(cond):
            if leaf.spec.feature:
                self.report(
                    leaf.path,
                    f"{leaf.op} needs the {leaf.spec.feature} feature; said takes text operators",
                )
                ok = False
        return SegLeaf("said", body, path, cond) if ok and cond is not None else None

    def _leaf_hit(self, body: dict[str, Any], path: str, _ids: set[Any]) -> SegLeaf | None:
        ok = self._window_min(body, path)
        rule = body.get("rule")
        if not isinstance(rule, str) or not rule.strip():
            self.report(f"{path}.rule", "rule is required (a rule id or a glob such as redline.*)")
            return None
        if self.rule_ids is not None and not any(fnmatchcase(r, rule) for r in self.rule_ids):
            self.report(f"{path}.rule", f"unknown rule id {rule!r}: no rule matches it")
            ok = False
        sev = body.setdefault("severity_at_least", "low")
        if sev not in SEVERITIES:
            self.report(
                f"{path}.severity_at_least",
                f"severity_at_least must be one of {', '.join(SEVERITIES)}",
            )
            ok = False
        return SegLeaf("hit", body, path) if ok else None

    def _leaf_tag(self, body: dict[str, Any], path: str, _ids: set[Any]) -> SegLeaf | None:
        ok = self._choice(body, "source", ("auto", "manual", "any"), "any", path)
        lists = [k for k in ("any_of", "all_of", "none_of") if k in body]
        if not lists:
            self.report(path, "tag takes any_of, all_of or none_of (tag names)")
            return None
        for k in lists:
            names = body[k]
            if isinstance(names, str):
                body[k] = names = [names]
            if (
                not isinstance(names, list)
                or not names
                or not all(isinstance(n, str) and n.strip() for n in names)
            ):
                self.report(f"{path}.{k}", f"{k} takes a non-empty list of tag names")
                ok = False
        return SegLeaf("tag", body, path) if ok else None

    def _leaf_attr(self, body: dict[str, Any], path: str, _ids: set[Any]) -> SegLeaf | None:
        if not isinstance(body.get("field"), str) or not body["field"].strip():
            self.report(
                f"{path}.field", "field is required (a customer field or an extracted value)"
            )
            return None
        op = body.get("op")
        if op not in ATTR_OPS:
            self.report(f"{path}.op", f"op must be one of {', '.join(ATTR_OPS)}")
            return None
        value = body.get("value")
        if op in ("exists", "missing"):
            if "value" in body:
                self.report(f"{path}.value", f"{op} takes no value")
                return None
        elif op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                self.report(f"{path}.value", f"{op} takes a non-empty list")
                return None
        elif op == "between":
            if not (
                isinstance(value, list)
                and len(value) == 2
                and all(is_number(v) for v in value)
                and value[0] <= value[1]
            ):
                self.report(
                    f"{path}.value", "between takes [low, high] numbers, low ≤ high (inclusive)"
                )
                return None
        elif op in ("gt", "gte", "lt", "lte") and not is_number(value):
            self.report(f"{path}.value", f"{op} takes a number")
            return None
        elif op in ("eq", "ne") and not isinstance(value, str | int | float | bool):
            self.report(f"{path}.value", f"{op} takes a string, number or true/false")
            return None
        return SegLeaf("attr", body, path)

    def _leaf_last(self, body: dict[str, Any], path: str, _ids: set[Any]) -> SegLeaf | None:
        ok = self._choice(body, "role", ("customer", "agent"), "customer", path)
        given = [k for k in ("within_days", "before_days") if k in body]
        if len(given) != 1:
            self.report(path, "last takes exactly one of within_days, before_days")
            return None
        ok &= self._positive(body, given[0], path, True)
        body.setdefault("within_days", None)
        body.setdefault("before_days", None)
        return SegLeaf("last", body, path) if ok else None

    def _leaf_silent(self, body: dict[str, Any], path: str, _ids: set[Any]) -> SegLeaf | None:
        ok = self._choice(body, "side", ("agent", "customer"), "agent", path)
        ok &= self._positive(body, "over_hours", path, True)
        return SegLeaf("silent", body, path) if ok else None

    def _leaf_in_group(self, body: dict[str, Any], path: str, _ids: set[Any]) -> SegLeaf | None:
        if not isinstance(body.get("match"), str) or not body["match"].strip():
            self.report(f"{path}.match", "match is required (a group name or glob such as 家长群*)")
            return None
        ok = self._positive(body, "since_days", path, False)
        return SegLeaf("in_group", body, path) if ok else None

    def _leaf_event(self, body: dict[str, Any], path: str, _ids: set[Any]) -> SegLeaf | None:
        ok = self._window_min(body, path)
        if not isinstance(body.get("type"), str) or not body["type"].strip():
            self.report(f"{path}.type", "type is required (group_join, group_leave, …)")
            return None
        where = body.setdefault("where", {})
        if not isinstance(where, dict) or not all(isinstance(v, str) for v in where.values()):
            self.report(f"{path}.where", "where takes a mapping of event field → value or glob")
            ok = False
        return SegLeaf("event", body, path) if ok else None

    def _leaf_in_segment(
        self, body: dict[str, Any], path: str, doc_ids: set[Any]
    ) -> SegLeaf | None:
        sid = body.get("id")
        if not isinstance(sid, str) or not sid.strip():
            self.report(f"{path}.id", "id is required (a segment id)")
            return None
        if sid not in doc_ids | (self.known_segments or set()):
            self.report(f"{path}.id", f"unknown segment id {sid!r}")
            return None
        ok = self._positive(body, "for_days", path, False)
        return SegLeaf("in_segment", body, path) if ok else None
