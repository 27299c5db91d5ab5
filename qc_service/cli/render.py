"""Human-readable rendering of findings (tables, highlighted evidence) for the terminal.

Why separate from the commands: ``qc analyze --format table`` and ``make demo`` show the same
evidence the same way a reviewer sees it: the original text with the hit highlighted.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text


def highlight(text: str, spans: list[tuple[int, int]]) -> Text:
    """The original text with evidence spans in bold red."""
    out = Text(text)
    for start, end in spans:
        out.stylize("bold red reverse", start, end)
    return out


def evidence_text(evidence: list[dict[str, Any]], messages: dict[str, str] | None = None) -> Text:
    """Evidence items as highlighted message text (or the evidence text alone)."""
    by_msg: dict[str, list[tuple[int, int]]] = {}
    order: list[str] = []
    extra: list[str] = []
    for ev in evidence:
        mid = ev.get("message_id")
        if ev.get("kind") == "span" and mid is not None and messages and mid in messages:
            if mid not in by_msg:
                order.append(mid)
            by_msg.setdefault(mid, []).append((ev["start"], ev["end"]))
        elif ev.get("kind") == "window":
            extra.append(f"expected within {len(ev.get('message_ids') or [])} messages")
        else:
            extra.append(f"{mid}: {ev.get('text')}")
    out = Text()
    for mid in order:
        if out:
            out.append("\n")
        out.append(f"{mid}: ", style="dim")
        out.append_text(highlight((messages or {})[mid], by_msg[mid]))
    for item in extra:
        if out:
            out.append("\n")
        out.append(item)
    return out


def findings_table(lines: list[dict[str, Any]], messages: dict[str, dict[str, str]]) -> Table:
    """Violations and tags, one row each, with highlighted evidence."""
    table = Table(title="Findings", show_lines=True)
    for col in ("conversation", "finding", "rule", "severity", "evidence"):
        table.add_column(col, overflow="fold")
    for line in lines:
        if line["type"] not in ("violation", "tag"):
            continue
        cid = line["conversation_id"]
        finding = (
            "violation" if line["type"] == "violation" else f"tag {line['action']}: {line['tag']}"
        )
        table.add_row(
            cid, finding, line["rule_id"], line.get("severity", ""),
            evidence_text(line["evidence"], messages.get(cid, {})),
        )  # fmt: skip
    return table


def summary_table(lines: list[dict[str, Any]]) -> Table:
    """Counts by rule, the score distribution and errors."""
    by_rule = Counter(line["rule_id"] for line in lines if line["type"] == "violation")
    scores = [line for line in lines if line["type"] == "score"]
    table = Table(title="Summary")
    table.add_column("what")
    table.add_column("count", justify="right")
    for rule_id, n in by_rule.most_common():
        table.add_row(f"violations: {rule_id}", str(n))
    table.add_row("conversations scored", str(len(scores)))
    table.add_row("passed", str(sum(1 for s in scores if s["passed"])))
    table.add_row("errors", str(sum(1 for line in lines if line["type"] == "error")))
    return table


def print_table(
    console: Console, lines: list[dict[str, Any]], messages: dict[str, dict[str, str]]
) -> None:
    """The ``--format table`` output."""
    console.print(findings_table(lines, messages))
    console.print(summary_table(lines))
    for line in lines:
        if line["type"] == "error":
            where = line.get("conversation_id") or f"line {line.get('line')}"
            field = f" {line['field']}:" if line.get("field") else ""
            detail = escape(f"{where} [{line['stage']}]{field} {line['message']}")
            console.print(f"[red]error[/red] {detail}")
