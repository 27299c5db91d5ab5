"""``--check`` for the demo set: the file matches the generator, every record is well formed, and
the set has the promised shape (red lines, evasions, share of clean dialogues)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from qc_service.demo import redlines as rl
from qc_service.demo.scenarios import MAX_MESSAGES, MIN_MESSAGES, Dialogue

CHANNELS = {"wechat", "wecom", "sms", "im", "call"}
ROLES = {"agent", "customer", "system"}
TYPES = {"text", "image", "voice", "file", "link", "red_packet", "transfer", "recall"}
LABELS = {*rl.AGENT_LABELS, rl.CUSTOMER_ABUSE}
WEEK = ("2026-11-16", "2026-11-22")
MIN_PER_LABEL, MIN_EVADED, MIN_CLEAN = 5, 2, 0.75


def validate(rec: dict[str, Any]) -> list[str]:
    """What is wrong with one record (empty when nothing is)."""
    errors = [f"missing {f}" for f in ("id", "channel", "started_at") if not rec.get(f)]
    errors += [f"missing {p}.id" for p in ("employee", "customer") if not rec.get(p, {}).get("id")]
    if rec.get("channel") not in CHANNELS:
        errors.append(f"bad channel {rec.get('channel')!r}")
    if not set(rec.get("demo_labels", [None])) <= LABELS:
        errors.append(f"bad demo_labels {rec.get('demo_labels')!r}")
    if not WEEK[0] <= rec.get("started_at", "")[:10] <= WEEK[1]:
        errors.append("started_at outside the week")
    if "messages" in rec:
        errors += _validate_messages(rec["messages"], rec["started_at"])
    elif "call" in rec:
        segs = rec["call"].get("segments", [])
        if not segs or any(s["role"] not in ROLES or not s["start"] < s["end"] for s in segs):
            errors.append("bad call segments")
    else:
        errors.append("neither messages nor call")
    return errors


def _validate_messages(messages: list[dict[str, Any]], started_at: str) -> list[str]:
    errors = []
    if not MIN_MESSAGES <= len(messages) <= MAX_MESSAGES:
        errors.append(f"{len(messages)} messages")
    if [m["id"] for m in messages] != [f"m{i}" for i in range(1, len(messages) + 1)]:
        errors.append("message ids not m1..mN")
    if any(m["role"] not in ROLES or m["type"] not in TYPES or not m["text"] for m in messages):
        errors.append("bad role, type or empty text")
    stamps = [datetime.fromisoformat(started_at)] + [
        datetime.fromisoformat(m["ts"]) for m in messages
    ]
    if stamps != sorted(stamps) or stamps[-1].date().isoformat() > WEEK[1]:
        errors.append("timestamps decrease or leave the week")
    return errors


def _fmt(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.most_common())


def summarize(
    records: list[dict[str, Any]], dialogues: list[Dialogue | None]
) -> tuple[list[str], list[str]]:
    """Report lines and the shape requirements that fail."""
    labels = Counter(lab for r in records for lab in r["demo_labels"])
    red = [r for r in records if set(r["demo_labels"]) & set(rl.AGENT_LABELS)]
    clean = 1 - len(red) / len(records)
    evaded = {lab: Counter[str]() for lab in rl.AGENT_LABELS}
    for d in dialogues:
        for lab, form, _ in d.forms if d else []:
            if rl.Line("", form=form).evaded:
                evaded[lab][form] += 1
    near = sum(
        1 for r, d in zip(records, dialogues, strict=True) if d and d.near_misses and r not in red
    )
    visits = Counter(r["customer"]["id"] for r in records)
    lines = [
        f"records {len(records)} (chats {sum('messages' in r for r in records)}, calls "
        f"{sum('call' in r for r in records)}); customers {len(visits)}, "
        f"repeat {sum(v > 1 for v in visits.values())}",
        f"channels: {_fmt(Counter(r['channel'] for r in records))}",
        f"teams: {_fmt(Counter(r['employee']['team'] for r in records))}",
        f"red-line conversations by team: {_fmt(Counter(r['employee']['team'] for r in red))}",
        f"red-line conversations by agent: {_fmt(Counter(r['employee']['id'] for r in red))}",
        f"labels: {_fmt(labels)}",
        f"clean (no agent red line): {len(records) - len(red)} = {clean:.1%}; "
        f"clean with a near miss: {near}",
        *(f"evaded {lab}: {sum(c.values())} lines; {_fmt(c)}" for lab, c in evaded.items()),
    ]
    failures = [
        f"{lab}: {labels[lab]} < {MIN_PER_LABEL}"
        for lab in rl.AGENT_LABELS
        if labels[lab] < MIN_PER_LABEL
    ]
    failures += [
        f"{lab}: evaded forms {len(c)} or lines {sum(c.values())} < {MIN_EVADED}"
        for lab, c in evaded.items()
        if len(c) < MIN_EVADED or sum(c.values()) < MIN_EVADED
    ]
    if clean < MIN_CLEAN:
        failures.append(f"clean share {clean:.1%} < {MIN_CLEAN:.0%}")
    if not 300 <= len(records) <= 400:
        failures.append(f"{len(records)} records, expected 300-400")
    return lines, failures


def check(path: Path, expected: str, dialogues: list[Dialogue | None]) -> int:
    """0 when the file is the generator's output, valid, and has the promised shape; else 1."""
    problems: list[str] = []
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if text != expected:
        problems.append(f"{path} differs from the generator's output (rerun the generator)")
    records = []
    for n, raw in enumerate(text.splitlines(), start=1):
        try:
            rec = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"line {n}: not JSON ({exc})")
            continue
        problems += [f"line {n} ({rec.get('id')}): {e}" for e in validate(rec)]
        records.append(rec)
    if records and len(records) == len(dialogues):
        report, failures = summarize(records, dialogues)
        problems += failures
        sys.stdout.write("".join(line + "\n" for line in report))
    sys.stdout.write("".join(f"FAIL {p}\n" for p in problems) or "OK\n")
    return 1 if problems else 0
