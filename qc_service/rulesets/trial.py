"""试运行: a draft tried on a pasted dialogue (``坐席: …`` / ``客户: …`` lines), storing nothing.

Why its own parser: an admin pastes what they saw in a chat window, not a JSON record; each line
names its speaker, and a line without one continues the previous message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qc_service.errors import QCError
from qc_service.records import RecordError, parse_record, to_conversation
from qc_service.rules.analysis import analyze
from qc_service.rules.compiled import RuleSet

SPEAKERS = {"坐席": "agent", "客服": "agent", "销售": "agent", "agent": "agent",
            "客户": "customer", "customer": "customer", "系统": "system"}  # fmt: skip
_LINE = re.compile(r"^\s*([^:：]{1,12})\s*[:：]\s*(.*)$")


@dataclass(slots=True)
class TrialMessage:
    message_id: str
    role: str
    text: str
    spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass(slots=True)
class TrialHit:
    rule_id: str
    name: str
    kind: str
    severity: str | None
    quotes: list[str]


@dataclass(slots=True)
class Trial:
    messages: list[TrialMessage]
    hits: list[TrialHit]
    errors: list[str]


def parse_dialogue(text: str) -> list[TrialMessage]:
    """Lines ``坐席: …`` / ``客户: …`` → messages; unknown speakers are refused with the line."""
    out: list[TrialMessage] = []
    for n, raw in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not raw.strip():
            continue
        m = _LINE.match(raw)
        if m and m.group(1).strip() in SPEAKERS:
            out.append(
                TrialMessage(f"m{len(out) + 1}", SPEAKERS[m.group(1).strip()], m.group(2).strip())
            )
        elif out:
            out[-1].text += "\n" + raw.strip()
        else:
            raise QCError(f"line {n}: start with 坐席: or 客户:", field="dialogue")
    if not out:
        raise QCError("paste a dialogue: lines 坐席: … / 客户: …", field="dialogue")
    return out


def run_trial(ruleset: RuleSet, dialogue: str) -> Trial:
    """Every finding of ``ruleset`` on the dialogue, with the evidence spans per message."""
    messages = parse_dialogue(dialogue)
    record = {"id": "trial", "channel": "im", "employee": {"id": "trial"},
              "customer": {"id": "trial"},
              "messages": [{"id": m.message_id, "role": m.role, "text": m.text} for m in messages]}  # fmt: skip
    try:
        conv = to_conversation(parse_record(record), final=True)
    except RecordError as exc:
        raise QCError(exc.message, field="dialogue") from None
    analysis = analyze(ruleset, conv)
    by_id = {m.message_id: m for m in messages}
    hits = []
    findings = [(v.rule_id, v.evidence) for v in analysis.violations]
    findings += [(t.rule_id, t.evidence) for t in analysis.tags]
    for rule_id, evidence in findings:
        rule = ruleset.get(rule_id)
        quotes = []
        for e in evidence:
            msg = by_id.get(e.message_id or "")
            if msg is not None and e.start is not None and e.end is not None:
                msg.spans.append((e.start, e.end))
                quotes.append(msg.text[e.start : e.end])
            elif msg is not None:
                quotes.append(msg.text)
        hits.append(
            TrialHit(rule_id, rule.name, rule.kind, getattr(rule, "severity", None), quotes)
        )
    return Trial(messages, hits, [f"{e.stage}: {e.message}" for e in analysis.errors])
