"""``qc analyze``: stateless analysis of a JSON Lines file, findings on stdout.

Why stateless: admins try rules and data without a store; it writes nothing and takes
everything (records, rules) from its arguments.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

from qc_service.audio.errors import AudioError
from qc_service.cli.render import print_table
from qc_service.config import Settings, get_settings
from qc_service.pipeline.asr import (
    ASR_OFF,
    needs_transcript,
    transcribe_audio,
    transcriber,
    utterance_messages,
)
from qc_service.pipeline.features import compute_features
from qc_service.records import MessageIn, RecordError, RecordIn, parse_record, to_conversation
from qc_service.rules.aggregate import reached
from qc_service.rules.analysis import Analysis, StageError, analyze, finding_lines
from qc_service.rules.compiled import RuleSet

EXIT_OK, EXIT_PARTIAL, EXIT_UNUSABLE = 0, 1, 2
PROGRESS_MIN_LINES = 200
LONG_SPEECH_SECONDS = 60.0
"""Calls with more speech than this to transcribe show a progress bar (on a terminal)."""


def read_jsonl(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """``(line number, parsed object or None, error)`` for every non-blank line."""
    with path.open(encoding="utf-8-sig") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                yield n, json.loads(raw), None
            except json.JSONDecodeError as exc:
                yield n, None, f"not valid JSON: {exc.msg} (column {exc.colno})"


def input_error(
    line: int, message: str, field: str | None = None, record_id: str | None = None
) -> dict[str, Any]:
    """An ``error`` findings line for an input line that could not be used."""
    out: dict[str, Any] = {
        "type": "error",
        "stage": "input",
        "line": line,
        "field": field,
        "message": message,
    }
    if record_id is not None:
        out["record_id"] = record_id
    return out


def analyze_file(
    path: Path, ruleset: RuleSet
) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
    """Findings lines in input order, plus each conversation's message texts for rendering."""
    lines: list[dict[str, Any]] = []
    texts: dict[str, dict[str, str]] = {}
    total = sum(1 for _ in path.open(encoding="utf-8-sig"))
    held: dict[tuple[str, str], str] = {}
    settings = get_settings()
    hits_seen: dict[tuple[str, str], list[tuple[str, Any, dict[str, Any]]]] = {}
    tagged: set[tuple[str, str]] = set()
    err_console = Console(stderr=True)
    with Progress(
        console=err_console, transient=True, disable=total < PROGRESS_MIN_LINES
    ) as progress:
        task = progress.add_task("analysing", total=total)
        for n, data, error in read_jsonl(path):
            progress.update(task, completed=n)
            if error is not None:
                lines.append(input_error(n, error))
                continue
            try:
                record = parse_record(data, line=n)
            except RecordError as exc:
                lines.append(input_error(n, exc.message, exc.field, exc.record_id))
                continue
            base_dirs = [path.parent, settings.data_dir]
            asr_errors = _transcribe(record, base_dirs, settings, err_console)
            conversation = to_conversation(record, final=True)
            texts[record.id] = {m.id: m.text for m in conversation.messages}
            call = record.call.model_dump() if record.call else None
            features, stage_errors = compute_features(
                ruleset, conversation, call, base_dirs=base_dirs, settings=settings
            )
            analysis = analyze(ruleset, conversation, features=features,
                               stage_errors=asr_errors + stage_errors)  # fmt: skip
            found = finding_lines(analysis, ruleset) + _aggregate_lines(
                analysis, ruleset, hits_seen, tagged
            )
            lines.extend(_exclusive(found, ruleset, held))
    return lines, texts


def _transcribe(
    record: RecordIn, base_dirs: list[Path], settings: Settings, console: Console
) -> list[StageError]:
    """Give a call with only audio its machine transcript (as the deep lane does), with a
    progress bar on a terminal for calls over a minute; the ``asr`` stage's error otherwise."""
    call = record.call.model_dump() if record.call else {}
    if not needs_transcript(record.channel, call, [m.text for m in record.all_messages()]):
        return []
    if settings.asr == "off":
        return [StageError("asr", ASR_OFF)]
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(f"transcribing {record.id}", total=None, visible=False)

        def progress(done: float, total: float) -> None:
            bar.update(task, completed=done, total=total, visible=total > LONG_SPEECH_SECONDS)

        try:
            utterances = transcribe_audio(
                call, base_dirs=base_dirs, settings=settings, progress=progress
            )
        except AudioError as exc:
            return [StageError("asr", str(exc))]
    found = utterance_messages(utterances, record.started_at, transcriber(settings).name)
    record.messages = [MessageIn.model_validate(m) for m in found]
    return []


def _aggregate_lines(
    analysis: Analysis,
    ruleset: RuleSet,
    hits_seen: dict[tuple[str, str], list[tuple[str, Any, dict[str, Any]]]],
    tagged: set[tuple[str, str]],
) -> list[dict[str, Any]]:
    """Aggregate tag rules over the file's history (the file is the customer's history here)."""
    out: list[dict[str, Any]] = []
    for hit in analysis.aggregate_hits:
        key = (hit.customer_id, hit.rule_id)
        seen = hits_seen.setdefault(key, [])
        seen.extend((k, ts, ev.to_dict()) for k, ts, ev in hit.hits)
        spec = ruleset.get(hit.rule_id).extra["aggregate"]
        inside = reached(
            [(k, ts) for k, ts, _ in seen],
            int(spec.get("window_days", 30)),
            int(spec.get("min_hits", 3)),
        )
        if inside is None or key in tagged:
            continue
        tagged.add(key)
        by_key = {k: ev for k, _, ev in seen}
        out.append({
            "type": "tag", "action": "add", "customer_id": hit.customer_id, "conversation_id": analysis.conversation_id,
            "tag": hit.tag, "rule_id": hit.rule_id, "rule_version": hit.rule_version, "source": "aggregate",
            "evidence": [{**by_key[k], "conversation_id": k.split("/", 1)[0]} for k in inside],
        })  # fmt: skip
    return out


def _exclusive(
    found: list[dict[str, Any]], ruleset: RuleSet, held: dict[tuple[str, str], str]
) -> list[dict[str, Any]]:
    """Exclusive groups across the file's history: a customer's new tag of a group is preceded by
    a ``remove`` line for the group's tag the customer had (小学 → 初中)."""
    out: list[dict[str, Any]] = []
    for line in found:
        if line["type"] == "tag" and line["action"] == "add":
            group = ruleset.get(line["rule_id"]).extra.get("exclusive_group")
            if group:
                key = (line["customer_id"], str(group))
                old = held.get(key)
                if old is not None and old != line["tag"]:
                    out.append(
                        {**line, "action": "remove", "tag": old, "evidence": line["evidence"]}
                    )
                held[key] = line["tag"]
        out.append(line)
    return out


def emit(lines: list[dict[str, Any]], texts: dict[str, dict[str, str]], fmt: str) -> None:
    """Write findings to stdout in the chosen format."""
    if fmt == "jsonl":
        out = sys.stdout
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        out.flush()
    else:
        print_table(Console(), lines, texts)


def exit_code(lines: list[dict[str, Any]]) -> int:
    """0 when everything was analysed, 1 when some record or stage failed."""
    return EXIT_PARTIAL if any(line["type"] == "error" for line in lines) else EXIT_OK
