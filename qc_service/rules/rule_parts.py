"""The parts of a rule besides its condition: scope, actions, and the tag-rule mappings.

Why apart from the loader: each part has its own small grammar and error messages; the loader
calls these with its ``report`` so every problem still names the rule id and key path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from qc_service.nlp.values import KINDS
from qc_service.rules.compiled import Node
from qc_service.rules.conditions import Report
from qc_service.rules.model import CHANNELS, Action

QA_KEYS = ("question", "answer", "map")
ID = re.compile(r"^[a-z0-9._-]+$")


def check_id(value: Any, path: str, seen: set[str], what: str, report: Report) -> None:
    """A rule's or segment's ``id``: required, ``[a-z0-9._-]+``, unique in the document."""
    if not isinstance(value, str) or not ID.match(value):
        report(path, "id is required: lower-case letters, digits, '.', '_' or '-'")
    elif value in seen:
        report(path, f"duplicate {what} id {value!r}")
    else:
        seen.add(value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_qa(
    data: Any, path: str, report: Report, parse: Callable[[Any, str], Node | None]
) -> Node | None:
    """``qa: {question: C, answer: {extract: KIND}, map: [{range: [a, b], tag: T} | {equals: v,
    tag: T}]}``; returns the parsed question (a message-level condition), or None on errors.

    ``parse(data, path)`` parses a message-level condition (the loader's ``ConditionParser``).
    """
    if not isinstance(data, dict):
        report(path, "qa takes {question: <condition>, answer: {extract: <kind>}, map: [...]}")
        return None
    for key in data:
        if key not in QA_KEYS:
            report(f"{path}.{key}", f"unknown key (known: {', '.join(QA_KEYS)})")
    question = None
    if "question" not in data:
        report(f"{path}.question", "question is required (a message-level condition)")
    else:
        question = parse(data["question"], f"{path}.question")
    answer = data.get("answer")
    kind = answer.get("extract") if isinstance(answer, dict) else None
    if not isinstance(answer, dict) or set(answer) != {"extract"}:
        report(f"{path}.answer", f"answer takes {{extract: {' | '.join(KINDS)}}}")
    elif kind not in KINDS:
        report(f"{path}.answer.extract", f"extract must be one of {', '.join(KINDS)}")
    items = data.get("map")
    if not isinstance(items, list) or not items:
        report(
            f"{path}.map",
            "map takes a non-empty list of {range: [a, b], tag: T} or {equals: v, tag: T}",
        )
        return None
    for i, item in enumerate(items):
        ipath = f"{path}.map[{i}]"
        if not isinstance(item, dict) or set(item) not in ({"range", "tag"}, {"equals", "tag"}):
            report(ipath, "a map item is {range: [a, b], tag: T} or {equals: v, tag: T}")
            continue
        tag = item["tag"]
        if not isinstance(tag, str) or not tag.strip():
            report(f"{ipath}.tag", "tag must be a non-empty string")
        if "range" in item:
            bounds = item["range"]
            if (
                not isinstance(bounds, list)
                or len(bounds) != 2
                or not all(is_number(b) for b in bounds)
                or bounds[0] > bounds[1]
            ):
                report(f"{ipath}.range", "range takes [low, high] numbers, low ≤ high (inclusive)")
            elif kind in ("date", "city", "yes_no"):
                report(f"{ipath}.range", f"range maps numbers; {kind} answers use equals")
        else:
            value = item["equals"]
            if kind == "yes_no" and value not in (True, False, "yes", "no"):
                report(f"{ipath}.equals", "a yes_no answer maps equals: yes or equals: no")
            elif not isinstance(value, str | int | float | bool):
                report(f"{ipath}.equals", "equals takes a string, number or yes/no")
    return question


def check_aggregate(data: Any, path: str, report: Report) -> None:
    """``aggregate: {window_days: 30, min_hits: 3}``."""
    if not isinstance(data, dict) or set(data) - {"window_days", "min_hits"}:
        report(path, "aggregate takes {window_days: N, min_hits: N}")
        return
    for key, default in (("window_days", 30), ("min_hits", 3)):
        value = data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            report(f"{path}.{key}", f"{key} must be a whole number ≥ 1")


def check_group(data: Any, path: str, tag: Any, report: Report) -> None:
    """``group: {match: 家长群*, on_join: tag, on_leave: untag}`` (group join/leave events)."""
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("match"), str)
        or not data["match"].strip()
    ):
        report(path, "group takes {match: <group name pattern>, on_join: tag, on_leave: untag}")
        return
    for key in data:
        if key not in ("match", "on_join", "on_leave"):
            report(f"{path}.{key}", "unknown key (known: match, on_join, on_leave)")
    if data.get("on_join", "tag") not in ("tag", "none"):
        report(f"{path}.on_join", "on_join must be tag or none")
    if data.get("on_leave", "untag") not in ("untag", "keep"):
        report(f"{path}.on_leave", "on_leave must be untag or keep")
    if not isinstance(tag, str):
        report(f"{path}", "a group rule names its tag with tag:")


def parse_scope(data: Any, path: str, report: Report) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if data is None:
        return (), ()
    if not isinstance(data, dict) or set(data) - {"channels", "teams"}:
        report(path, "scope takes channels and teams")
        return (), ()
    channels = data.get("channels", [])
    teams = data.get("teams", [])
    bad = [c for c in channels if c not in CHANNELS] if isinstance(channels, list) else [channels]
    if bad:
        report(f"{path}.channels", f"unknown channel(s) {bad} (known: {', '.join(CHANNELS)})")
    if not isinstance(teams, list) or not all(isinstance(t, str) for t in teams):
        report(f"{path}.teams", "teams must be a list of team names")
        teams = []
    return tuple(channels) if not bad else (), tuple(teams)


def parse_actions(data: Any, path: str, report: Report) -> list[Action]:
    if not isinstance(data, list):
        report(path, "actions must be a list")
        return []
    actions: list[Action] = []
    for i, item in enumerate(data):
        ipath = f"{path}[{i}]"
        if not isinstance(item, dict) or len(item) != 1:
            report(
                ipath,
                "an action is a one-key mapping: alert, transfer_customer or tag_customer",
            )
            continue
        ((key, value),) = item.items()
        if key == "alert":
            if value not in ("agent", "supervisor"):
                report(f"{ipath}.alert", "alert goes to agent or supervisor")
                continue
            actions.append(Action("alert", value))
        elif key == "transfer_customer":
            to = value.get("to") if isinstance(value, dict) else None
            if not isinstance(to, str) or not to or set(value) != {"to"}:
                report(
                    f"{ipath}.transfer_customer",
                    "transfer_customer takes {to: supervisor | <employee id>}",
                )
                continue
            actions.append(Action("transfer_customer", to))
        elif key == "tag_customer":
            if not isinstance(value, str) or not value.strip():
                report(f"{ipath}.tag_customer", "tag_customer takes a tag name")
                continue
            actions.append(Action("tag_customer", value))
        else:
            report(
                f"{ipath}.{key}",
                "unknown action (known: alert, transfer_customer, tag_customer)",
            )
    return actions
