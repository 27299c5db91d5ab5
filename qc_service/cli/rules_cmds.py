"""``qc rules import|test|export``, ``qc backtest`` and ``qc reanalyze``: rules over the store.

Why next to the API: admins script rule changes; the commands call the same services as
``/v1/rules`` and print what they did.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from qc_service.audit.service import os_actor, record
from qc_service.cli.render import evidence_text
from qc_service.db.session import write_transaction
from qc_service.pipeline.asr import transcribe_stored
from qc_service.pipeline.service import analyze_conversation
from qc_service.rules.backtest import BacktestReport
from qc_service.rules.loader import parse_rules_text
from qc_service.rulesets import authoring, history
from qc_service.rulesets.router import parse_since
from qc_service.rulesets.service import publish
from qc_service.store import Store


def import_file(store: Store, path: Path, console: Console) -> None:
    """Publish a rule file as new versions. Validated by ``publish`` against the store, so a
    segment's ``hit`` may name a rule published earlier and not in this file."""
    doc = parse_rules_text(path.read_text(encoding="utf-8"), str(path))
    with write_transaction(store.session_factory) as db:
        out = publish(db_session=db, tenant_id=store.settings.default_tenant, doc=doc, source="file",
                      source_name=str(path), base_dir=path.parent)  # fmt: skip
        for rule_id, version, created in out:
            if created:  # the same event the API writes, with the operator as the actor
                record(db, tenant_id=store.settings.default_tenant, actor=os_actor(), action="published",
                       entity_type="rule", entity_id=rule_id, after={"version": version, "source": str(path)})  # fmt: skip
    for rule_id, version, created in out:
        console.print(f"{rule_id}: version {version} {'published' if created else 'unchanged'}")
    segments = f", {len(doc.get('segments') or [])} segments" if doc.get("segments") else ""
    console.print(f"{len(doc.get('rules') or [])} rules{segments} in {path}")


def _precision(x: dict[str, Any] | None) -> str:
    if x is None:
        return "—"
    return f"{x['estimate']:.2f} ({x['low']:.2f}–{x['high']:.2f}, n={x['judged']})"


def show_report(report: BacktestReport, console: Console) -> None:
    """The backtest report as tables, with a sample of hits highlighted."""
    table = Table(
        title=f"Backtest over {report.conversations} conversations"
        + ("" if report.complete else " (interrupted)")
    )
    for col in (
        "rule",
        "hits",
        "convs",
        "agents",
        "live",
        "new",
        "lost",
        "precision (95% CI)",
        "live precision",
    ):
        table.add_column(col, overflow="fold")
    for r in report.rules.values():
        d = r.to_dict()
        p, lp = d["precision"], d["live_precision"]
        table.add_row(d["rule_id"], str(d["hits"]), str(d["conversations"]), str(d["agents"]), str(d["live_hits"]),
                      str(len(d["new_hits"])), str(len(d["lost_hits"])), _precision(p), _precision(lp))  # fmt: skip
    console.print(table)
    for r in report.rules.values():
        if r.lost_hits:
            console.print(f"{r.rule_id}: lost hits: {', '.join(sorted(r.lost_hits)[:20])}")
        for item in r.sample[:3]:
            console.print(f"  {item['conversation_id']}: ", evidence_text(item["evidence"]))


def backtest(
    store: Store,
    draft_path: Path,
    rule: str | None,
    since: str | None,
    console: Console,
    as_json: bool,
) -> BacktestReport:
    """Run a draft over stored history (writes nothing)."""
    draft = authoring.load_draft(draft_path.read_text(encoding="utf-8"))
    since_at = parse_since(since)
    with store.session_factory() as db:
        total = history.count_history(
            db_session=db, tenant_id=store.settings.default_tenant, since=since_at
        )
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("backtesting", total=total)
        report = history.run_backtest(store.session_factory, tenant_id=store.settings.default_tenant, draft=draft,
                                      rule_ids={rule} if rule else None, since=since_at,
                                      progress=lambda n: progress.update(task, completed=n))  # fmt: skip
    if as_json:
        console.print_json(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        show_report(report, console)
    return report


def reanalyze(
    store: Store, since: str | None, console: Console, *, asr: bool = False
) -> dict[str, Any]:
    """Re-run the published rules over stored history (decided violations are never touched);
    ``asr``: first transcribe again the calls whose transcript the service made (a better
    model), never a transcript that came with the record."""
    with write_transaction(store.session_factory) as db:
        ids = history.mark_for_reanalysis(
            db_session=db, tenant_id=store.settings.default_tenant, since=parse_since(since)
        )
        record(db, tenant_id=store.settings.default_tenant, actor=os_actor(), action="reanalysis",
               entity_type="conversations", entity_id=since or "all", after={"conversations": len(ids)})  # fmt: skip
    failed = 0
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("re-analysing", total=len(ids))
        for n, pk in enumerate(ids, 1):
            if asr and (
                error := transcribe_stored(store.session_factory, pk, store.settings, again=True)
            ):
                console.print(
                    f"[red]transcription failed[/red] ({pk}): {error.message}", soft_wrap=True
                )
            if (
                analyze_conversation(
                    session_factory=store.session_factory,
                    conversation_pk=pk,
                    settings=store.settings,
                )
                is None
            ):
                failed += 1
            progress.update(task, completed=n)
    console.print(f"re-analysed {len(ids)} conversations{' (calls transcribed again)' if asr else ''}, "
                  f"{failed} failed")  # fmt: skip
    return {"conversations": len(ids), "failed": failed}
