"""Plain data the rule engine takes and returns: conversations in, findings out.

Why separate from the ORM: ``rules/`` is a pure library. The pipeline converts stored
conversations (or ``qc analyze``'s records) into these types; nothing here knows a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Role = Literal["agent", "customer", "system"]
ROLES: tuple[str, ...] = ("agent", "customer", "system")
ROLE_FILTERS: tuple[str, ...] = ("agent", "customer", "any")
MESSAGE_TYPES: tuple[str, ...] = (
    "text",
    "image",
    "voice",
    "file",
    "link",
    "red_packet",
    "transfer",
    "recall",
)
CHANNELS: tuple[str, ...] = ("wechat", "wecom", "sms", "im", "call")
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class Message:
    """One message (or one transcript segment of a call)."""

    id: str
    role: str
    text: str = ""
    type: str = "text"
    ts: datetime | None = None
    start: float | None = None
    """For call transcript segments: seconds from the start of the audio."""
    end: float | None = None
    char_times: list[tuple[float, float] | None] | None = None
    """For machine-transcribed messages: the audio seconds of each character of ``text`` (so a
    span's evidence carries the seconds a reviewer jumps to)."""


def char_times(text: str, words: list[list[Any]]) -> list[tuple[float, float] | None]:
    """Per character of a transcribed ``text``: the seconds of the word it belongs to, from the
    stored ``[[start, end, word], …]`` (all None where text and words disagree, e.g. an edit)."""
    out: list[tuple[float, float] | None] = []
    for start, end, piece in words:
        out += [(float(start), float(end))] * len(str(piece))
    return out if len(out) == len(text) else [None] * len(text)


@dataclass(slots=True)
class Conversation:
    """What the evaluator needs to know about one conversation."""

    id: str
    channel: str
    messages: list[Message]
    customer_id: str = ""
    employee_id: str = ""
    team: str | None = None
    final: bool = True


@dataclass(slots=True)
class Evidence:
    """Where a finding is: characters of a message, a whole message, a window, or audio seconds."""

    kind: Literal["span", "message", "window", "audio"]
    message_id: str | None = None
    role: str | None = None
    start: int | None = None
    end: int | None = None
    text: str | None = None
    t_start: float | None = None
    t_end: float | None = None
    value: float | None = None
    unit: str | None = None
    message_ids: list[str] | None = None

    def key(self) -> tuple[Any, ...]:
        """Identity for de-duplication (the same place found twice counts once)."""
        return (self.kind, self.message_id, self.start, self.end, self.t_start, self.t_end)

    def to_dict(self) -> dict[str, Any]:
        """The findings-line shape of ARCHITECTURE.md."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "message_id": self.message_id,
            "role": self.role,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "t_start": self.t_start,
            "t_end": self.t_end,
            "value": self.value,
            "unit": self.unit,
        }
        if self.kind == "window":
            out["message_ids"] = list(self.message_ids or [])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evidence:
        """Inverse of ``to_dict`` (stored evidence back to objects)."""
        return cls(
            kind=data["kind"], message_id=data.get("message_id"), role=data.get("role"),
            start=data.get("start"), end=data.get("end"), text=data.get("text"),
            t_start=data.get("t_start"), t_end=data.get("t_end"), value=data.get("value"),
            unit=data.get("unit"), message_ids=data.get("message_ids"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Action:
    """An action attached to a rule; recorded on the violation, delivered by the CRM bridge."""

    type: Literal["alert", "transfer_customer", "tag_customer"]
    target: str

    def to_dict(self) -> dict[str, str]:
        """Stored form."""
        return {"type": self.type, "target": self.target}


@dataclass(slots=True)
class RuleResult:
    """The outcome of one rule on one conversation: triggered and error are separate."""

    rule_id: str
    rule_version: int
    kind: str
    triggered: bool
    evidence: list[Evidence] = field(default_factory=list)
    error: str | None = None
    stage: str = "rules"
    tag: str | None = None
    """For ``qa`` tag rules: the tag the answer's value mapped to."""


@dataclass(slots=True)
class ScoreItem:
    """One deduction on a scorecard."""

    rule_id: str
    deduct: int
    fatal: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Findings-line shape."""
        out: dict[str, Any] = {"rule_id": self.rule_id, "deduct": self.deduct}
        if self.fatal:
            out["fatal"] = True
        return out


@dataclass(slots=True)
class Score:
    """A conversation's scorecard: 100 minus deductions, floored at 0; fatal → 0."""

    score: int
    pass_mark: int
    passed: bool
    complete: bool
    items: list[ScoreItem]
