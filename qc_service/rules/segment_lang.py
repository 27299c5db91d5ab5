"""The segment language of RULES.md (``segments:`` next to ``rules:``): parse and validate.

Why in ``rules/``: a segment is part of the rule document, loaded (and refused) with the rules,
with the loader's error style (segment id and key path); ``said`` takes a message-level
condition, parsed by the same ``ConditionParser`` as a rule's. Pure: no database here; the
``segments`` domain evaluates what this returns. Conditions: ``segment_leaf_parts``; the data:
``segment_model``.
"""

from __future__ import annotations

import re
from typing import Any

from qc_service.rules.conditions import ConditionParser, Report, WordResolver
from qc_service.rules.rule_parts import check_id, is_number
from qc_service.rules.segment_leaf_parts import LeafParser
from qc_service.rules.segment_model import SegAction, SegmentDef

SEGMENT_KEYS = (
    "id", "name", "description", "enabled", "schedule", "when", "on_enter", "on_leave", "hold",
    "guard", "first_run",
)  # fmt: skip
MAX_TAG_CHARS = 15
"""WeCom's limit on a tag name (WECOM.md); a segment's tag goes to the CRM."""
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class SegmentParser(LeafParser):
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
        check_id(sid, f"{path}.id", seen, "segment", self.report)
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
        if not is_number(value) or value < 0:
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
