"""``qc segments run``: run segments at an ``as_of`` and print each transition and its tags.

Why the exit codes of RULES.md: a cron or CI job must tell "ran, nothing changed" (0) from "a
segment failed or its guard held the run" (1) and from bad input (2).
"""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.console import Console
from rich.table import Table

from qc_service.alerts.hub import RedisHub
from qc_service.config import get_settings
from qc_service.segments.service import RunResult, run_segments
from qc_service.store import open_store

segments_app = typer.Typer(help="Segments (人群分组): run them now.", no_args_is_help=True)
err = Console(stderr=True)


def _as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        err.print(f"[red]--as-of: not an ISO time: {text!r} (e.g. 2026-11-30T02:00:00+08:00)[/red]")
        raise typer.Exit(2) from None
    if value.tzinfo is None:
        err.print("[red]--as-of: give a time zone offset (e.g. +08:00)[/red]")
        raise typer.Exit(2)
    return value


@segments_app.command("run")
def run(
    segment: str | None = typer.Option(None, "--segment", help="only this segment id"),
    as_of: str | None = typer.Option(None, "--as-of", help="ISO time with offset (default: now)"),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="print what a run would apply; apply nothing"
    ),
    fmt: str = typer.Option("table", "--format", help="table or jsonl"),
) -> None:
    """Run every enabled segment (or --segment) at --as-of: enter/leave lines, then tag lines."""
    if fmt not in ("table", "jsonl"):
        err.print(f"[red]--format must be table or jsonl (got {fmt!r})[/red]")
        raise typer.Exit(2)
    when = _as_of(as_of)
    settings = get_settings()
    store = open_store(settings)
    try:
        hub = (
            RedisHub(settings.broker_url) if settings.broker_url else None
        )  # reaches every API process
        results = run_segments(store.session_factory, settings.default_tenant, as_of=when,
                               only=segment, dry_run=dry_run,
                               publish=hub.publish if hub is not None else None)  # fmt: skip
    except LookupError as exc:
        err.print(f"[red]{exc.args[0]}[/red]")
        raise typer.Exit(2) from None
    finally:
        store.close()
    if fmt == "jsonl":
        for result in results:
            for line in result.lines():
                typer.echo(json.dumps(line, ensure_ascii=False))
    else:
        _table(results, dry_run)
    raise typer.Exit(1 if any(r.status != "done" for r in results) else 0)


def _table(results: list[RunResult], dry_run: bool) -> None:
    table = Table(title="segments (dry run: nothing applied)" if dry_run else "segments")
    for col in ("segment", "status", "members", "entered", "left", "tags", "note"):
        table.add_column(col)
    for r in results:
        table.add_row(r.segment_id, r.status, str(r.members), str(len(r.entered)), str(len(r.left)),
                      str(len(r.tags)), r.error or "")  # fmt: skip
    Console().print(table)
