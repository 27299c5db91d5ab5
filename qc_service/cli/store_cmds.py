"""``qc ingest`` and ``qc demo``: records into the configured store, and what was found.

Why ``qc demo`` prints from the store, not from memory: it shows what a reviewer or manager
will see through the API — stored violations, evidence, scores and tags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from qc_service.cli.analyze import read_jsonl
from qc_service.cli.render import evidence_text
from qc_service.ingest.service import RecordAnswer
from qc_service.pipeline.files import ingest_one
from qc_service.review.service import recent_violations, summary
from qc_service.store import Store


def _audio_from_file(data: Any, path: Path) -> Any:
    """A call's audio path is relative to the records file: store it as an absolute path."""
    call = data.get("call") if isinstance(data, dict) else None
    audio = call.get("audio") if isinstance(call, dict) else None
    if isinstance(audio, str) and not Path(audio).is_absolute() and (path.parent / audio).exists():
        return {**data, "call": {**call, "audio": str((path.parent / audio).resolve())}}
    return data


def ingest_file(store: Store, path: Path, console: Console) -> list[RecordAnswer]:
    """Ingest a JSON Lines file as final records, with a progress bar on stderr."""
    from rich.progress import Progress

    answers: list[RecordAnswer] = []
    total = sum(1 for _ in path.open(encoding="utf-8-sig"))
    with Progress(console=Console(stderr=True), transient=True, disable=total < 50) as progress:
        task = progress.add_task(f"ingesting {path.name}", total=total)
        for n, data, error in read_jsonl(path):
            progress.update(task, completed=n)
            if error is not None:
                answers.append(RecordAnswer(None, "rejected", n, {"code": "RECORD_INVALID", "message": error,
                                                                  "field": None, "record_id": None, "rule_id": None}))  # fmt: skip
                continue
            answers.append(ingest_one(store, _audio_from_file(data, path), line=n, final=True))
    counts = {
        s: sum(1 for a in answers if a.status == s) for s in ("accepted", "unchanged", "rejected")
    }
    _audit_ingest(store, path, counts)
    failed = sum(1 for a in answers if a.conversation_status == "failed")
    console.print(
        f"{path}: {counts['accepted']} accepted, {counts['unchanged']} unchanged, "
        f"{counts['rejected']} rejected, {failed} failed analysis",
        soft_wrap=True,
    )
    for a in answers:
        if a.status == "rejected" and a.error:
            field = f" {a.error['field']}:" if a.error.get("field") else ""
            console.print(
                f"[red]rejected[/red] line {a.line} record {a.id}:{field} {a.error['message']}",
                soft_wrap=True,
            )
    return answers


def _audit_ingest(store: Store, path: Path, counts: dict[str, int]) -> None:
    """An operator's file ingest is on the audit trail with the OS user as the actor."""
    from qc_service.audit.service import os_actor, record
    from qc_service.db.session import write_transaction

    with write_transaction(store.session_factory) as db:
        record(db, tenant_id=store.settings.default_tenant, actor=os_actor(), action="ingest.file",
               entity_type="records", entity_id=path.name, after=counts)  # fmt: skip


def print_summary(store: Store, console: Console) -> None:
    """Violations by rule and agent, scores, tags, and a few findings with their evidence."""
    tenant = store.settings.default_tenant
    with store.session_factory() as db_session:
        s = summary(db_session=db_session, tenant_id=tenant)
        console.print(f"\n[bold]{s.conversations} conversations[/bold] in the store "
                      f"({s.analysed} analysed, {s.failed} failed)")  # fmt: skip
        rules = Table(title="Violations by rule")
        rules.add_column("rule")
        rules.add_column("violations", justify="right")
        for rule_id, n in s.violations_by_rule:
            rules.add_row(rule_id, str(n))
        agents = Table(title="Violations by agent (top 5)")
        agents.add_column("agent")
        agents.add_column("violations", justify="right")
        for ext, name, n in s.violations_by_agent[:5]:
            agents.add_row(f"{name} ({ext})", str(n))
        console.print(rules)
        console.print(agents)
        sc = s.scores
        console.print(f"Scores: {sc['scored']} scored, {sc['passed']} passed, mean {sc['mean']}; "
                      f"by band {sc['distribution']}")  # fmt: skip
        console.print("Customer tags: " + ", ".join(f"{t} ×{n}" for t, n in s.tags))
        console.print(
            "\n[bold]A few findings, evidence highlighted as the reviewer sees it:[/bold]"
        )
        for v in recent_violations(db_session=db_session, tenant_id=tenant, limit=6):
            texts = {m.external_id: m.text for m in v.conversation.messages}
            console.print(
                f"[bold]{v.conversation.external_id}[/bold] {v.rule_id} ({v.severity}, v{v.rule_version}):"
            )
            console.print(evidence_text([e.to_dict() for e in v.evidence], texts))
    print_audio_findings(store, console)
    console.print(
        "\nWhere to look next: `qc serve` then GET /v1/conversations/<id> (e.g. demo-0001) and the OpenAPI "
        "docs at http://127.0.0.1:8000/docs; `qc analyze FILE --format jsonl` for stateless findings; "
        "rules in qc_service/rules/packs/default.yaml."
    )


def print_audio_findings(store: Store, console: Console) -> None:
    """Calls' audio findings with the seconds and what was said then."""
    with store.session_factory() as db_session:
        audio = recent_violations(db_session=db_session, tenant_id=store.settings.default_tenant, limit=5,
                                  rule_ids=["service.shouting", "service.dead-air"])  # fmt: skip
        if audio:
            console.print("\n[bold]Call audio findings (seconds into the recording):[/bold]")
        for v in audio:
            cid = v.conversation.external_id
            for e in v.evidence:
                if e.kind == "audio":
                    console.print(
                        f"{cid} {v.rule_id}: {e.t_start:.1f}–{e.t_end:.1f} s, {e.value:.1f} {e.unit}",
                        soft_wrap=True,
                    )
                elif e.kind == "message":
                    console.print(f"    said then ({e.role}): {e.text}", soft_wrap=True)
            console.print(f"    listen: GET /v1/conversations/{cid}/audio?start=…&end=… · chart: "
                          f"/v1/conversations/{cid}/loudness.svg", soft_wrap=True)  # fmt: skip


def publish_demo_rules(store: Store, path: Path) -> None:
    """The demo tenant's own rules (a new version only when the file changed)."""
    from qc_service.db.session import write_transaction
    from qc_service.rulesets import authoring

    with write_transaction(store.session_factory) as db:
        authoring.publish_text(db_session=db, tenant_id=store.settings.default_tenant,
                               text=path.read_text(encoding="utf-8"), source=path.name, actor="demo")  # fmt: skip


def print_transcribed_findings(store: Store, console: Console) -> None:
    """Findings in calls the service transcribed itself: the words, who said them, the seconds."""
    with store.session_factory() as db_session:
        shown = False
        for v in recent_violations(
            db_session=db_session, tenant_id=store.settings.default_tenant, limit=50
        ):
            said = {
                m.external_id: m
                for m in v.conversation.messages
                if (m.extra or {}).get("source") == "asr"
            }
            for e in v.evidence:
                m = said.get(e.message_external_id or "")
                if m is None or e.t_start is None:
                    continue
                if not shown:
                    console.print("\n[bold]Found in calls that arrived without a transcript "
                                  "(transcribed offline, seconds into the recording):[/bold]")  # fmt: skip
                    shown = True
                cid = v.conversation.external_id
                console.print(
                    f"{cid} {v.rule_id} ({v.severity}): {e.t_start:.1f}–{e.t_end:.1f} s, "
                    f"{e.role}: {_marked(m.text, e.start, e.end)} "
                    f"({m.extra.get('asr_model')}, confidence {m.extra.get('confidence')})",
                    soft_wrap=True,
                )
                console.print(f"    listen: GET /v1/conversations/{cid}/audio?start={max(0, int(e.t_start) - 2)}"
                              f"&end={int(e.t_end) + 3}", soft_wrap=True)  # fmt: skip


def _marked(text: str, start: int | None, end: int | None) -> str:
    if start is None or end is None:
        return text
    return f"{text[:start]}【{text[start:end]}】{text[end:]}"


DEMO_PASSWORD = "demo-pass-123"
DEMO_USERS: tuple[tuple[str, str, str | None, list[str]], ...] = (
    ("demo-admin", "admin", None, []),
    ("demo-manager", "manager", None, ["销售一组"]),
    ("demo-reviewer", "reviewer", None, []),
    ("demo-agent", "agent", "e11", []),
    ("demo-caller", "agent", "e03", []),
    ("demo-sales", "sales", "e02", []),
    ("demo-integration", "integration", None, []),
)
"""One user per role in the demo tenant (a local toy: the password is printed)."""


DEMO_SEGMENTS_AS_OF = "2026-11-23T00:00:00+08:00"
"""The end of the demo week: the demo's segment run gives the same members on any day."""


def run_demo_segments(store: Store, console: Console) -> None:
    """Run the demo's segments at the end of the demo week and print who entered with which tags."""
    from datetime import datetime

    from qc_service.segments.service import run_segments

    as_of = datetime.fromisoformat(DEMO_SEGMENTS_AS_OF)
    results = run_segments(store.session_factory, store.settings.default_tenant, as_of=as_of)
    table = Table(
        title=f"Segments (人群分组) run at {DEMO_SEGMENTS_AS_OF} — `qc segments run` does this daily"
    )
    for col in ("segment", "status", "members", "entered now", "tags put on (customer: tag)"):
        table.add_column(col)
    for r in results:
        tags = [f"{t['customer_id']}: {t['tag']}" for t in r.tags if t["action"] == "add"]
        shown = ", ".join(tags[:4]) + (f" … (+{len(tags) - 4})" if len(tags) > 4 else "")
        table.add_row(r.segment_id, r.status, str(r.members), str(len(r.entered)), shown or "—")
    console.print(table)


def print_demo_users(store: Store, console: Console) -> None:
    """Create the demo users once and print how to log in and get a token."""
    from sqlalchemy import select

    from qc_service.db.session import write_transaction
    from qc_service.identity import service as identity
    from qc_service.identity.models import User

    tenant = store.settings.default_tenant
    with write_transaction(store.session_factory) as db:
        known = set(db.scalars(select(User.username)))
        for username, role, employee, teams in DEMO_USERS:
            if username not in known:
                identity.add_user(db, username=username, tenant_id=tenant, role=role,
                                  password=DEMO_PASSWORD, employee_id=employee, teams=teams,
                                  display_name=f"demo {role}", actor="qc demo")  # fmt: skip
    appealed = seed_demo_appeal(store)
    table = Table(
        title=f"Demo users (tenant {tenant}) — a local toy: never use these passwords on a real install"
    )
    for col in ("username", "role", "scope", "password"):
        table.add_column(col)
    for username, role, employee, teams in DEMO_USERS:
        scope = f"employee {employee}" if employee else (", ".join(teams) or "tenant")
        table.add_row(username, role, scope, DEMO_PASSWORD)
    console.print(table)
    if appealed is not None:
        console.print(f"An appealed call finding waits for review: http://127.0.0.1:8000/review/{appealed} "
                      "(log in as demo-reviewer).", soft_wrap=True)  # fmt: skip
    console.print(
        "Log in: `make serve`, then open http://127.0.0.1:8000/login in a browser; or an API token: "
        "`TOKEN=$(.venv/bin/qc tokens create demo-admin | tail -1)` and "
        '`curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/v1/violations`.',
        soft_wrap=True,
    )


DEMO_APPEAL = "客户先提高了音量，我是在回应他的问题，不是冲客户喊"


def seed_demo_appeal(store: Store) -> int | None:
    """The demo call's finding, appealed by its agent (demo-caller), so the review page with audio
    can be tried at once; idempotent (an already appealed or decided finding is left alone)."""
    from sqlalchemy import select

    from qc_service.conversations.models import Conversation
    from qc_service.db.session import write_transaction
    from qc_service.review import flows
    from qc_service.review.models import Evidence, Violation

    with write_transaction(store.session_factory) as db:
        v = db.scalars(
            select(Violation).join(Conversation, Violation.conversation_id == Conversation.id)
            .join(Evidence, Evidence.violation_id == Violation.id)
            .where(Conversation.external_id == "demo-call-audio-1", Evidence.t_start.is_not(None))
            .order_by(Violation.id).limit(1)
        ).first()  # fmt: skip
        if v is None:
            return None
        if v.status == "open":
            flows.appeal(db_session=db, violation=v, reason=DEMO_APPEAL, appellant="demo-caller",
                         window_days=10_000)  # fmt: skip
        return v.id
