"""The operator registry: every operator is a stable string with a declared parameter schema.

Why a registry: conditions are data. The loader validates a rule against the schema its
operator declared (naming rule id and key path), the planner reads ``level``/``lexical`` to
choose a lane, and the evaluator dispatches to the handler. A duplicate or unknown name fails
loudly; an operator whose features are not computed yet is registered without a handler and
reports a per-stage error instead of a silent "no violation".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from qc_service.rules.compiled import EvalContext, Leaf
    from qc_service.rules.model import Evidence

ParamKind = Literal[
    "str", "int", "float", "number", "bool", "str_list", "words", "word_source",
    "condition", "enum", "enum_list", "hours",
]  # fmt: skip
Level = Literal["message", "conversation"]

MessageHits = dict[int, list["Evidence"]]
"""Message index → evidence found in that message (present = the condition holds there)."""
MessageHandler = Callable[["Leaf", "EvalContext"], MessageHits]
ConversationHandler = Callable[["Leaf", "EvalContext"], "tuple[bool, list[Evidence]]"]
Pattern = tuple[str, str, bool]
"""``(owner role, word, raw)``: a word for the rule set's automaton; raw = match without folding."""
Compiler = Callable[["Leaf", Callable[[str, str], None]], list[Pattern]]
"""Prepares a leaf once at load time (``report(path, message)`` on errors); returns its patterns."""


class OperatorUnavailable(Exception):
    """The operator (or one of its options) cannot be evaluated here: a per-rule error."""

    def __init__(self, message: str, stage: str = "rules") -> None:
        super().__init__(message)
        self.stage = stage


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of an operator: its kind and bounds, checked by the loader."""

    kind: ParamKind
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""


@dataclass(slots=True)
class OperatorSpec:
    """An operator as the loader, planner and evaluator see it."""

    name: str
    level: Level
    params: dict[str, Param]
    doc: str
    lexical: bool = False
    feature: str | None = None
    one_of: tuple[tuple[str, ...], ...] = ()
    """Groups of parameters of which exactly one must be given (``over_dbfs`` | ``over_baseline_db``)."""
    any_of: tuple[str, ...] = ()
    """Parameters of which at least one must be given (``words`` | ``lexicon`` | ``file``)."""
    message_handler: MessageHandler | None = None
    conversation_handler: ConversationHandler | None = None
    compiler: Compiler | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def available(self) -> bool:
        """Whether this operator can be evaluated today."""
        return self.message_handler is not None or self.conversation_handler is not None


class Registry:
    """Name → operator spec; refuses duplicates and names unknown operators clearly."""

    def __init__(self) -> None:
        self._ops: dict[str, OperatorSpec] = {}

    def add(self, spec: OperatorSpec) -> OperatorSpec:
        """Register a spec; a second spec under the same name is a programming error."""
        if spec.name in self._ops:
            raise ValueError(f"operator {spec.name!r} is registered twice")
        self._ops[spec.name] = spec
        return spec

    def get(self, name: str) -> OperatorSpec:
        """The spec of ``name``; KeyError naming the known operators if there is none."""
        try:
            return self._ops[name]
        except KeyError:
            raise KeyError(
                f"unknown operator {name!r} (known: {', '.join(sorted(self._ops))})"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._ops

    def __iter__(self) -> Iterator[OperatorSpec]:
        return iter(self._ops.values())

    def names(self) -> list[str]:
        """Registered operator names, sorted."""
        return sorted(self._ops)

    def message_handler(self, name: str) -> Callable[[MessageHandler], MessageHandler]:
        """Decorator attaching a message-level handler to a registered spec."""

        def wrap(fn: MessageHandler) -> MessageHandler:
            spec = self.get(name)
            if spec.level != "message" or spec.message_handler is not None:
                raise ValueError(f"operator {name!r}: bad or duplicate message handler")
            spec.message_handler = fn
            return fn

        return wrap

    def compiler(self, name: str) -> Callable[[Compiler], Compiler]:
        """Decorator attaching a load-time compiler to a registered spec."""

        def wrap(fn: Compiler) -> Compiler:
            spec = self.get(name)
            if spec.compiler is not None:
                raise ValueError(f"operator {name!r}: duplicate compiler")
            spec.compiler = fn
            return fn

        return wrap

    def conversation_handler(
        self, name: str
    ) -> Callable[[ConversationHandler], ConversationHandler]:
        """Decorator attaching a conversation-level handler to a registered spec."""

        def wrap(fn: ConversationHandler) -> ConversationHandler:
            spec = self.get(name)
            if spec.level != "conversation" or spec.conversation_handler is not None:
                raise ValueError(f"operator {name!r}: bad or duplicate conversation handler")
            spec.conversation_handler = fn
            return fn

        return wrap


REGISTRY = Registry()
