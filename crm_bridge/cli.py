"""``qc outbox …``: list, retry and replay outbox events from a shell.

Why in crm_bridge: the commands are the outbox's own operations; ``qc_service.cli.main`` only
mounts ``outbox_app`` (crm_bridge never imports the service's CLI).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from crm_bridge.outbox import admin
from qc_service.audit.service import os_actor
from qc_service.config import get_settings
from qc_service.store import Store, open_store

outbox_app = typer.Typer(help="Inspect and re-drive CRM outbox deliveries.", no_args_is_help=True)
console = Console()


def _store() -> Store:
    return open_store(get_settings())


@outbox_app.command("list")
def list_cmd(
    status: Annotated[str | None, typer.Option(help="pending, failed, delivered or dead")] = None,
    limit: Annotated[int, typer.Option(help="newest N events")] = 50,
) -> None:
    """Show the newest outbox events with their delivery state."""
    store = _store()
    try:
        rows = admin.list_events(store.session_factory, status=status, limit=limit)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        store.close()
    table = Table("pk", "event id", "type", "customer", "status", "attempts", "next attempt",
                  "last error")  # fmt: skip
    for row in rows:
        table.add_row(
            str(row.id), row.event_id, row.event_type, row.ordering_key, row.status,
            str(row.attempts),
            row.next_attempt_at.isoformat(timespec="seconds") if row.next_attempt_at else "",
            (row.last_error or "")[:80],
        )  # fmt: skip
    console.print(table)


@outbox_app.command("retry")
def retry_cmd(event: Annotated[str, typer.Argument(help="primary key or event id")]) -> None:
    """Make one failed or dead event due now."""
    store = _store()
    try:
        row = admin.retry(store.session_factory, event, actor=os_actor())
    except (admin.EventNotFound, admin.NotRetryable) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        store.close()
    console.print(f"outbox event {row.id} ({row.event_id}) is pending, due now")


@outbox_app.command("replay")
def replay_cmd(
    status: Annotated[str, typer.Option(help="dead or failed")] = "dead",
) -> None:
    """Make every dead (or failed) event pending again, attempts reset."""
    store = _store()
    try:
        count = admin.replay(store.session_factory, status=status, actor=os_actor())
    except admin.NotRetryable as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        store.close()
    console.print(f"{count} {status} outbox event(s) pending again")
