"""``qc users``, ``qc tokens``, ``qc audit verify`` and ``qc retention purge`` (ACCESS.md).

Why these act on the database directly: they are the operator's tools for the first admin and
for recovery; every change they make is audited with the OS user as the actor
(``cli:<login>``), in the same transaction.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from qc_service.audit.service import os_actor, verify_chain
from qc_service.config import get_settings
from qc_service.db.session import write_transaction
from qc_service.errors import QCError
from qc_service.identity import service as identity
from qc_service.store import open_store

EXIT_BAD_INPUT = 2
users_app = typer.Typer(help="Manage users (ACCESS.md).", no_args_is_help=True)
tokens_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
retention_app = typer.Typer(
    help="Delete conversations past QC_RETENTION_DAYS.", no_args_is_help=True
)
err = Console(stderr=True)


@contextmanager
def _db(*, write: bool) -> Iterator[Session]:
    """A session on the configured store (in a write transaction when ``write``); a ``QCError``
    becomes exit 2 with the field and message on stderr."""
    store = open_store(get_settings())
    try:
        with write_transaction(store.session_factory) if write else store.session_factory() as db:
            yield db
    except QCError as exc:
        field = f"{exc.field}: " if exc.field else ""
        err.print(f"[red]{field}{exc.message}[/red]")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    finally:
        store.close()


@users_app.command("add")
def users_add(
    username: str = typer.Argument(...),
    tenant: str = typer.Option(..., "--tenant", help="the user's tenant"),
    role: str = typer.Option(
        ..., "--role", help="admin, manager, reviewer, agent, sales, integration"
    ),
    name: str | None = typer.Option(None, "--name", help="display name"),
    employee_id: str | None = typer.Option(
        None, "--employee-id", help="employee.id of records (agents, sales)"
    ),
    team: list[str] = typer.Option([], "--team", help="a team a manager watches (repeat)"),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the password from stdin"
    ),
) -> None:
    """Add a user; without --password-stdin it asks for the password twice."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif role == "integration":
        password = None
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _db(write=True) as db:
        user = identity.add_user(db, username=username, tenant_id=tenant, role=role, password=password,
                                 display_name=name, employee_id=employee_id, teams=team, actor=os_actor())  # fmt: skip
        Console().print(f"user {user.username} added ({user.role}, tenant {user.tenant_id})")


@users_app.command("list")
def users_list(tenant: str | None = typer.Option(None, "--tenant")) -> None:
    """Users, their role, tenant, scope and whether they are enabled."""
    with _db(write=False) as db:
        table = Table("username", "tenant", "role", "employee", "teams", "status")
        for u in identity.list_users(db, tenant_id=tenant):
            table.add_row(u.username, u.tenant_id, u.role, u.employee_id or "",
                          ",".join(u.teams or []), "disabled" if u.disabled_at else "active")  # fmt: skip
        Console().print(table)


@users_app.command("disable")
def users_disable(username: str = typer.Argument(...)) -> None:
    """Disable a user (never deleted): their tokens and sessions stop working at once."""
    with _db(write=True) as db:
        identity.disable_user(db, username=username, actor=os_actor())
    Console().print(f"user {username} disabled")


@tokens_app.command("create")
def tokens_create(
    username: str = typer.Argument(...),
    name: str | None = typer.Option(None, "--name", help="what the token is for"),
    expires_days: int | None = typer.Option(None, "--expires-days", help="expire after D days"),
) -> None:
    """Create an API token; it is printed once, alone on the last line, and never stored."""
    with _db(write=True) as db:
        new = identity.create_token(db, username=username, name=name, expires_days=expires_days,
                                    actor=os_actor())  # fmt: skip
    expiry = new.expires_at.isoformat() if new.expires_at else "never"
    err.print(f"token {new.id} for {username} (expires {expiry}); it is shown only once:")
    typer.echo(new.secret)


@tokens_app.command("list")
def tokens_list(username: str = typer.Argument(...)) -> None:
    """A user's tokens: id, name, prefix, created, expiry, revoked."""
    with _db(write=False) as db:
        table = Table("id", "name", "prefix", "created", "expires", "revoked")
        for t in identity.list_tokens(db, username=username):
            table.add_row(str(t.id), t.name or "", t.prefix + "…", t.created_at.isoformat(timespec="seconds"),
                          t.expires_at.isoformat(timespec="seconds") if t.expires_at else "never",
                          t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "")  # fmt: skip
        Console().print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    token: str = typer.Argument(..., help="the token itself, or its id from list"),
) -> None:
    """Revoke a token; requests with it get 401 AUTH_INVALID from then on."""
    with _db(write=True) as db:
        row = identity.revoke_token(db, token=token, actor=os_actor())
        Console().print(f"token {row.id} revoked")


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain: exit 0 "N events, chain intact", exit 1 naming the first bad one."""
    with _db(write=False) as db:
        report = verify_chain(db)
    if report.intact:
        typer.echo(f"{report.count} events, chain intact")
        return
    typer.echo(f"chain broken at event {report.bad_id}: {report.problem}")
    raise typer.Exit(1)


@retention_app.command("purge")
def retention_purge(
    dry_run: bool = typer.Option(False, "--dry-run", help="count what would go, delete nothing"),
) -> None:
    """Delete conversations older than QC_RETENTION_DAYS (messages, audio, findings), except those
    with an open appeal; customers' tags stay. Prints and audits the counts."""
    from qc_service.retention.service import purge

    settings = get_settings()
    if settings.retention_days is None:
        typer.echo("QC_RETENTION_DAYS is not set: everything is kept, nothing to purge")
        return
    if settings.retention_days < 1:
        err.print("[red]QC_RETENTION_DAYS must be at least 1[/red]")
        raise typer.Exit(EXIT_BAD_INPUT)
    store = open_store(settings)
    try:
        with write_transaction(store.session_factory) as db:
            report = purge(db, days=settings.retention_days, data_dir=settings.data_dir,
                           dry_run=dry_run, actor=os_actor())  # fmt: skip
        report.delete_files()
    finally:
        store.close()
    verb = "would delete" if dry_run else "deleted"
    typer.echo(f"{verb} {report.conversations} conversations older than "
               f"{report.cutoff.isoformat(timespec='seconds')} ({report.messages} messages, "
               f"{report.violations} violations, {report.audio_files} audio files); "
               f"kept {report.kept_for_appeal} with an open appeal")  # fmt: skip
