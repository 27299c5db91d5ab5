"""The parts of a rule besides its condition: scope, actions, and the tag-rule mappings.

Why apart from the loader: each part has its own small grammar and error messages; the loader
calls these with its ``report`` so every problem still names the rule id and key path.
"""

from __future__ import annotations

from typing import Any

from qc_service.rules.conditions import Report
from qc_service.rules.model import CHANNELS, Action


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
