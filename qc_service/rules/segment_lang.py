"""The segment language of RULES.md (``segments:`` next to ``rules:``): parse and validate.

Why in ``rules/``: a segment is part of the rule document, loaded (and refused) with the rules,
with the loader's error style (segment id and key path); ``said`` takes a message-level
condition, parsed by the same ``ConditionParser`` as a rule's. Pure: no database here; the
``segments`` domain evaluates what this returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from qc_service.rules.compiled import LexicalIndex, Node, iter_leaves
from qc_service.rules.conditions import ConditionParser, Report, WordResolver
from qc_service.rules.model import SEVERITIES
from qc_service.rules.registry import REGISTRY

SEGMENT_KEYS = (
    "id", "name", "description", "enabled", "schedule", "when", "on_enter", "on_leave", "hold",
    "guard", "first_run",
)  # fmt: skip
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
MAX_TAG_CHARS = 15
"""WeCom's limit on a tag name (WECOM.md); a segment's tag goes to the CRM."""
_WINDOW = re.compile(r"^(\d+)([dh])$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(eq=False, slots=True)
class SegLeaf:
    """One leaf of a segment's condition, with its parameters (defaults filled in)."""

    kind: str
    params: dict[str, Any]
    path: str
    cond: Node | None = None
    """``said``: the compiled message-level condition."""

    @property
    def window_seconds(self) -> float | None:
        """The leaf's look-back in seconds (None: ``all`` or not windowed)."""
        return window_seconds(self.params.get("window", "all"))

    @property
    def horizon_seconds(self) -> float | None:
        """How long a customer must have been known for a negative use of this leaf to be true
        (RULES.md: someone added yesterday is not "silent for 30 days")."""
        if self.kind == "last" and self.params.get("before_days") is not None:
            return float(self.params["before_days"]) * 86400
        return self.window_seconds


@dataclass(eq=False, slots=True)
class SegAll:
    children: list[SegNode]
    path: str


@dataclass(eq=False, slots=True)
class SegAny:
    children: list[SegNode]
    path: str


@dataclass(eq=False, slots=True)
class SegNot:
    child: SegNode
    path: str


SegNode = SegLeaf | SegAll | SegAny | SegNot


@dataclass(frozen=True, slots=True)
class SegAction:
    """``tag_customer`` (a tag through the outbox) or ``notify`` (an alert on the stream)."""

    type: str
    target: str


@dataclass(eq=False, slots=True)
class SegmentDef:
    """One validated segment version."""

    id: str
    name: str
    when: SegNode
    schedule: dict[str, Any]
    on_enter: list[SegAction]
    on_leave: str
    """``default`` (remove the tags this segment put on) or ``keep``."""
    on_leave_actions: list[SegAction]
    hold_days: float
    guard_pct: float | None
    first_run: str
    enabled: bool
    definition: dict[str, Any]
    version: int = 0
    lexicons: dict[str, list[str]] = field(default_factory=dict)
    """The words of every lexicon or file its ``said`` conditions used (the version's snapshot)."""
    index: LexicalIndex | None = field(default=None, repr=False)
    """The lexical index of every ``said`` condition (built by the loader)."""

    @property
    def tags(self) -> list[str]:
        """The tags this segment puts on when a customer enters."""
        return [a.target for a in self.on_enter if a.type == "tag_customer"]

    def leaves(self) -> list[SegLeaf]:
        """Every leaf, in document order."""
        return list(iter_seg_leaves(self.when))


def iter_seg_leaves(node: SegNode) -> Iterable[SegLeaf]:
    """Leaves of a segment condition."""
    if isinstance(node, SegLeaf):
        yield node
    elif isinstance(node, SegNot):
        yield from iter_seg_leaves(node.child)
    else:
        for child in node.children:
            yield from iter_seg_leaves(child)


def window_seconds(value: Any) -> float | None:
    """``30d`` / ``12h`` → seconds; ``all`` → None."""
    if value == "all" or value is None:
        return None
    m = _WINDOW.match(str(value))
    if m is None:
        raise ValueError(value)
    return int(m.group(1)) * (86400 if m.group(2) == "d" else 3600)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class SegmentParser:
    """Parses ``segments:`` of one document; every problem goes to ``report`` with its path."""

    def __init__(
        self, report: Report, resolve_words: WordResolver, set_segment: Any,
        rule_ids: set[str] | None, segment_ids: set[str] | None,
    ) -> None:  # fmt: skip
        self.errors = 0
        self._outer = report
        self.conditions = ConditionParser(self.report, resolve_words)
        self.set_segment = set_segment
        self.rule_ids = rule_ids
        self.known_segments = segment_ids

    def report(self, path: str, message: str) -> None:
        """Count the error (a segment with errors is not returned) and pass it on."""
        self.errors += 1
        self._outer(path, message)

    def parse_all(self, data: Any) -> list[SegmentDef]:
        if data is None:
            return []
        if not isinstance(data, list):
            self.report("segments", "segments must be a list")
            return []
        out: list[SegmentDef] = []
        seen: set[str] = set()
        raw_ids = {d.get("id") for d in data if isinstance(d, dict)}
        for i, item in enumerate(data):
            sid = item.get("id") if isinstance(item, dict) else None
            self.set_segment(sid if isinstance(sid, str) else None)
            seg = self._segment(item, f"segments[{i}]", seen, raw_ids)
            if seg is not None:
                out.append(seg)
        self.set_segment(None)
        self._check_cycles(out, {d.get("id"): i for i, d in enumerate(data) if isinstance(d, dict)})
        return out

    def _segment(
        self, data: Any, path: str, seen: set[str], doc_ids: set[Any]
    ) -> SegmentDef | None:
        if not isinstance(data, dict):
            self.report(path, "a segment is a mapping")
            return None
        before = self.errors
        sid = data.get("id")
        if not isinstance(sid, str) or not re.match(r"^[a-z0-9._-]+$", sid):
            self.report(f"{path}.id", "id is required: lower-case letters, digits, '.', '_' or '-'")
        elif sid in seen:
            self.report(f"{path}.id", f"duplicate segment id {sid!r}")
        else:
            seen.add(sid)
        for key in data:
            if key not in SEGMENT_KEYS:
                self.report(f"{path}.{key}", f"unknown key (known: {', '.join(SEGMENT_KEYS)})")
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            self.report(f"{path}.name", "name is required")
        if "enabled" in data and not isinstance(data["enabled"], bool):
            self.report(f"{path}.enabled", "enabled must be true or false")
        schedule = self._schedule(data.get("schedule", {"daily": "02:00"}), f"{path}.schedule")
        when = None
        if "when" not in data:
            self.report(f"{path}.when", "when is required")
        else:
            when = self._node(data["when"], f"{path}.when", doc_ids)
        on_enter = self._actions(data.get("on_enter", []), f"{path}.on_enter")
        on_leave, leave_actions = self._on_leave(
            data.get("on_leave", "default"), f"{path}.on_leave"
        )
        hold = self._mapping_number(data.get("hold"), f"{path}.hold", "min_days", 0.0)
        guard = self._mapping_number(data.get("guard"), f"{path}.guard", "max_change_pct", None)
        if guard is not None and not 0 < guard <= 100:
            self.report(f"{path}.guard.max_change_pct", "max_change_pct must be in (0, 100]")
        first_run = data.get("first_run", "tag_only")
        if first_run not in ("tag_only", "full"):
            self.report(f"{path}.first_run", "first_run must be tag_only or full")
        if self.errors > before or when is None:
            return None
        return SegmentDef(
            id=str(sid), name=str(name), when=when, schedule=schedule, on_enter=on_enter,
            on_leave=on_leave, on_leave_actions=leave_actions, hold_days=float(hold or 0),
            guard_pct=guard, first_run=str(first_run), enabled=bool(data.get("enabled", True)),
            definition=dict(data),
        )  # fmt: skip

    def _schedule(self, data: Any, path: str) -> dict[str, Any]:
        if isinstance(data, dict) and set(data) == {"daily"}:
            if isinstance(data["daily"], str) and _HHMM.match(data["daily"]):
                return {"daily": data["daily"]}
            self.report(f"{path}.daily", 'daily takes a time of day "HH:MM" (tenant\'s zone)')
            return {"daily": "02:00"}
        if isinstance(data, dict) and set(data) == {"every_hours"}:
            n = data["every_hours"]
            if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 24 * 7:
                return {"every_hours": n}
            self.report(f"{path}.every_hours", "every_hours takes a whole number 1..168")
            return {"daily": "02:00"}
        self.report(path, 'schedule takes {daily: "HH:MM"} or {every_hours: N}')
        return {"daily": "02:00"}

    def _mapping_number(self, data: Any, path: str, key: str, default: Any) -> Any:
        if data is None:
            return default
        if not isinstance(data, dict) or set(data) != {key}:
            self.report(path, f"takes {{{key}: N}}")
            return default
        value = data[key]
        if not _number(value) or value < 0:
            self.report(f"{path}.{key}", f"{key} must be a number ≥ 0")
            return default
        return float(value)

    def _actions(self, data: Any, path: str) -> list[SegAction]:
        if not isinstance(data, list):
            self.report(
                path, "takes a list of {tag_customer: T} or {notify: owner|supervisor|<id>}"
            )
            return []
        out = []
        for i, item in enumerate(data):
            ipath = f"{path}[{i}]"
            if not isinstance(item, dict) or len(item) != 1:
                self.report(
                    ipath,
                    "an action is {tag_customer: T} or {notify: owner|supervisor|<employee id>}",
                )
                continue
            ((kind, target),) = item.items()
            if kind not in ("tag_customer", "notify"):
                self.report(f"{ipath}.{kind}", "unknown action (known: tag_customer, notify)")
                continue
            if not isinstance(target, str) or not target.strip():
                self.report(f"{ipath}.{kind}", f"{kind} takes a non-empty string")
                continue
            if kind == "tag_customer" and len(target) > MAX_TAG_CHARS:
                self.report(
                    f"{ipath}.{kind}",
                    f"tag {target!r} has {len(target)} characters; a tag name has at most {MAX_TAG_CHARS}",
                )
                continue
            out.append(SegAction(kind, target.strip()))
        return out

    def _on_leave(self, data: Any, path: str) -> tuple[str, list[SegAction]]:
        if data in ("default", "keep"):
            return str(data), []
        if isinstance(data, list):
            actions = self._actions(data, path)
            for a in actions:
                if a.type != "notify":
                    self.report(
                        path, "on_leave lists only notify actions (default removes the tags)"
                    )
            return "default", [a for a in actions if a.type == "notify"]
        self.report(path, "on_leave takes default, keep, or a list of {notify: …}")
        return "default", []

    # -- conditions --------------------------------------------------------------------
    def _node(self, data: Any, path: str, doc_ids: set[Any]) -> SegNode | None:
        if not isinstance(data, dict) or len(data) != 1:
            self.report(
                path, "a condition is a mapping with exactly one key (all, any, not or a leaf)"
            )
            return None
        ((key, body),) = data.items()
        if key in ("all", "any"):
            if not isinstance(body, list) or not body:
                self.report(f"{path}.{key}", f"{key} takes a non-empty list of conditions")
                return None
            kids = [self._node(c, f"{path}.{key}[{i}]", doc_ids) for i, c in enumerate(body)]
            if any(k is None for k in kids):
                return None
            nodes = [k for k in kids if k is not None]
            return SegAll(nodes, path) if key == "all" else SegAny(nodes, path)
        if key == "not":
            child = self._node(body, f"{path}.not", doc_ids)
            return SegNot(child, path) if child is not None else None
        lpath = f"{path}.{key}"
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
        if not _number(body[key]) or body[key] < 0:
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
                and all(_number(v) for v in value)
                and value[0] <= value[1]
            ):
                self.report(
                    f"{path}.value", "between takes [low, high] numbers, low ≤ high (inclusive)"
                )
                return None
        elif op in ("gt", "gte", "lt", "lte") and not _number(value):
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

    def _check_cycles(self, segments: list[SegmentDef], positions: dict[Any, int]) -> None:
        deps = {
            s.id: [leaf.params["id"] for leaf in s.leaves() if leaf.kind == "in_segment"]
            for s in segments
        }
        state: dict[str, int] = {}

        def visit(sid: str, trail: list[str]) -> None:
            if state.get(sid) == 2 or sid not in deps:
                return
            if state.get(sid) == 1:
                cycle = trail[trail.index(sid) :] + [sid]
                self.set_segment(sid)
                self.report(
                    f"segments[{positions[sid]}].when", f"in_segment cycle: {' → '.join(cycle)}"
                )
                self.set_segment(None)
                return
            state[sid] = 1
            for dep in deps[sid]:
                visit(dep, [*trail, sid])
            state[sid] = 2

        for sid in deps:
            visit(sid, [])


def run_order(segments: list[SegmentDef]) -> list[SegmentDef]:
    """Segments ordered so an ``in_segment`` target runs before the segments that read it."""
    by_id = {s.id: s for s in segments}
    done: list[SegmentDef] = []
    seen: set[str] = set()

    def visit(s: SegmentDef) -> None:
        if s.id in seen:
            return
        seen.add(s.id)
        for leaf in s.leaves():
            dep = by_id.get(leaf.params.get("id", "")) if leaf.kind == "in_segment" else None
            if dep is not None:
                visit(dep)
        done.append(s)

    for s in segments:
        visit(s)
    return done
