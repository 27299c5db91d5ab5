"""Parse and validate condition trees against the operators' declared schemas.

Why here and not in each operator: every operator gets the same checks (unknown keys, types,
bounds, choices, one-of groups) and the same error shape, naming rule id and key path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from qc_service.rules.compiled import AllOf, AnyOf, Leaf, Node, NotOf
from qc_service.rules.model import ROLE_FILTERS
from qc_service.rules.registry import REGISTRY, Param

T = TypeVar("T")
Report = Callable[[str, str], None]
"""``report(path, message)`` records one load error."""
WordResolver = Callable[[Any, str], list[str]]
"""Resolves ``{words, lexicon, file}`` (or a plain list) at a key path into words."""

_HOURS = "HH:MM-HH:MM"
_WORD_KEYS = ("words", "lexicon", "file")


def parse_tree(
    data: Any, path: str, report: Report, *, leaf: Callable[[str, Any, str], T | None],
    all_of: Callable[[list[T], str], T], any_of: Callable[[list[T], str], T],
    not_of: Callable[[T, str], T], what: str,
) -> T | None:  # fmt: skip
    """``all`` / ``any`` / ``not`` over leaves, with the errors' key paths — shared by rule
    conditions and segment conditions (each with its own leaves and node types)."""
    if not isinstance(data, dict) or len(data) != 1:
        report(path, f"a condition is a mapping with exactly one key (all, any, not or {what})")
        return None
    ((key, body),) = data.items()

    def again(node: Any, at: str) -> T | None:
        return parse_tree(
            node, at, report, leaf=leaf, all_of=all_of, any_of=any_of, not_of=not_of, what=what
        )

    if key in ("all", "any"):
        if not isinstance(body, list) or not body:
            report(f"{path}.{key}", f"{key} takes a non-empty list of conditions")
            return None
        children = [again(c, f"{path}.{key}[{i}]") for i, c in enumerate(body)]
        kept: list[T] = [c for c in children if c is not None]
        if len(kept) < len(children):
            return None
        return all_of(kept, path) if key == "all" else any_of(kept, path)
    if key == "not":
        child = again(body, f"{path}.not")
        return not_of(child, path) if child is not None else None
    return leaf(key, body, f"{path}.{key}")


def _check_param(name: str, param: Param, value: Any, path: str, report: Report) -> Any:
    """Type- and bound-check one parameter value; returns the value to keep (or None)."""
    kind = param.kind
    if kind == "bool":
        if not isinstance(value, bool):
            report(path, f"{name} must be true or false")
            return None
        return value
    if kind in ("int", "float", "number"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "int" and not isinstance(value, int):
            ok = False
        if not ok:
            report(path, f"{name} must be {'an integer' if kind == 'int' else 'a number'}")
            return None
        if param.minimum is not None and value < param.minimum:
            report(path, f"{name} must be ≥ {param.minimum:g}")
            return None
        if param.maximum is not None and value > param.maximum:
            report(path, f"{name} must be ≤ {param.maximum:g}")
            return None
        return value
    if kind in ("str", "enum"):
        if not isinstance(value, str) or not value.strip():
            report(path, f"{name} must be a non-empty string")
            return None
        if kind == "enum" and value not in param.choices:
            report(path, f"{name} must be one of {', '.join(param.choices)} (got {value!r})")
            return None
        return value
    if kind == "hours":
        if not isinstance(value, str) or not _valid_hours(value):
            report(path, f"{name} must look like {_HOURS!r}")
            return None
        return value
    if kind in ("str_list", "enum_list"):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
            report(path, f"{name} must be a list of non-empty strings")
            return None
        if kind == "enum_list":
            bad = [i for i in items if i not in param.choices]
            if bad:
                report(
                    path, f"unknown {name}: {', '.join(bad)} (known: {', '.join(param.choices)})"
                )
                return None
        return list(items)
    return value  # word_source and condition are handled by the caller


def _valid_hours(text: str) -> bool:
    parts = text.split("-")
    if len(parts) != 2:
        return False
    for part in parts:
        hm = part.strip().split(":")
        if len(hm) != 2 or not all(x.isdigit() for x in hm):
            return False
        if not (0 <= int(hm[0]) <= 24 and 0 <= int(hm[1]) < 60):
            return False
    return True


class ConditionParser:
    """Turns condition dicts into nodes, reporting every problem with its path."""

    def __init__(self, report: Report, resolve_words: WordResolver) -> None:
        self.report = report
        self.resolve_words = resolve_words

    def parse(self, data: Any, path: str, *, message_level: bool = False) -> Node | None:
        """Parse one condition; ``message_level`` forbids conversation-level operators."""
        return parse_tree(
            data, path, self.report,
            leaf=lambda key, body, lpath: self._leaf(key, body, lpath, message_level),
            all_of=AllOf, any_of=AnyOf, not_of=NotOf, what="an operator",
        )  # fmt: skip

    def _leaf(self, op: str, body: Any, path: str, message_level: bool) -> Leaf | None:
        if op not in REGISTRY:
            self.report(path, f"unknown operator {op!r} (known: {', '.join(REGISTRY.names())})")
            return None
        spec = REGISTRY.get(op)
        if message_level and spec.level != "message":
            self.report(
                path,
                f"{op} is conversation-level and cannot be nested where a message-level condition is expected",
            )
            return None
        if body is None:
            body = {}
        if not isinstance(body, dict):
            self.report(path, f"{op} takes a mapping of parameters")
            return None
        ok = True
        role = body.get("role", "any")
        if role not in ROLE_FILTERS:
            self.report(
                f"{path}.role", f"role must be one of {', '.join(ROLE_FILTERS)} (got {role!r})"
            )
            ok = False
        params: dict[str, Any] = {}
        children: dict[str, Node] = {}
        for key in body:
            if key != "role" and key not in spec.params:
                self.report(
                    f"{path}.{key}",
                    f"unknown parameter of {op} (known: role, {', '.join(spec.params)})",
                )
                ok = False
        for name, param in spec.params.items():
            ppath = f"{path}.{name}"
            if name not in body:
                if param.required:
                    self.report(ppath, f"{op} needs {name}")
                    ok = False
                elif param.default is not None:
                    params[name] = param.default
                continue
            value = body[name]
            if param.kind == "condition":
                inner_message = not (op == "absent" and _is_position(value))
                child = self.parse(value, ppath, message_level=inner_message)
                if child is None:
                    ok = False
                else:
                    children[name] = child
                continue
            if param.kind == "word_source":
                words = self.resolve_words(value, ppath)
                if not words:
                    ok = False
                params[name] = words
                continue
            checked = _check_param(name, param, value, ppath, self.report)
            if checked is None:
                ok = False
            else:
                params[name] = checked
        for group in spec.one_of:
            given = [g for g in group if g in body]
            if len(given) != 1:
                self.report(path, f"{op} needs exactly one of {', '.join(group)}")
                ok = False
        if spec.any_of and not any(k in body for k in spec.any_of):
            self.report(path, f"{op} needs at least one of {', '.join(spec.any_of)}")
            ok = False
        if ok and spec.any_of == _WORD_KEYS:
            source = {k: body[k] for k in _WORD_KEYS if k in body}
            params["resolved_words"] = self.resolve_words(source, path)
            ok = bool(params["resolved_words"])
        if not ok:
            return None
        return Leaf(op, spec, params, role, path, children=children)


def _is_position(value: Any) -> bool:
    return isinstance(value, dict) and list(value) == ["position"]
