"""The ``qc`` console script (typer).

Exit codes, shared by analyze, ingest, rules check and backtest: 0 everything worked, 1 some
record or stage failed (reported), 2 the input or the rules cannot be used at all.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console

from crm_bridge.cli import outbox_app
from qc_service.cli import access_cmds, rules_cmds, store_cmds
from qc_service.cli import analyze as analyze_cmd
from qc_service.cli.segments_cmds import segments_app
from qc_service.config import get_settings
from qc_service.db.session import write_transaction
from qc_service.demo import DEMO_CALLS_FILE, DEMO_FILE, DEMO_RULES_FILE
from qc_service.errors import QCError
from qc_service.review import feedback as feedback_service
from qc_service.rules.errors import RuleValidationError
from qc_service.rules.loader import builtin_pack_path, load_rules_file
from qc_service.rulesets import authoring
from qc_service.store import open_store

app = typer.Typer(
    help="qc-service: conversation quality inspection and smart tagging.", no_args_is_help=True
)
rules_app = typer.Typer(help="Check and manage rule files.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(outbox_app, name="outbox")
app.add_typer(segments_app, name="segments")
app.add_typer(access_cmds.users_app, name="users")
app.add_typer(access_cmds.tokens_app, name="tokens")
app.add_typer(access_cmds.audit_app, name="audit")
app.add_typer(access_cmds.retention_app, name="retention")
train_app = typer.Typer(
    help="Train the project's models (not part of make test).", no_args_is_help=True
)
app.add_typer(train_app, name="train")
eval_app = typer.Typer(
    help="Measure the project's models (not part of make test).", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")
err = Console(stderr=True)


def _load_rules(path: Path | None):  # type: ignore[no-untyped-def]
    try:
        return load_rules_file(path or builtin_pack_path())
    except RuleValidationError as exc:
        for e in exc.errors:
            err.print(f"[red]rule error[/red] {e}")
        raise typer.Exit(analyze_cmd.EXIT_UNUSABLE) from None


@app.command()
def analyze(
    records: Path = typer.Argument(..., help="JSON Lines file, one conversation a line"),
    rules: Path | None = typer.Option(
        None, "--rules", help="rule file (default: the built-in pack)"
    ),
    fmt: str = typer.Option("table", "--format", help="table or jsonl"),
) -> None:
    """Analyse records statelessly and print findings (writes nothing to any store)."""
    if fmt not in ("table", "jsonl"):
        err.print(f"[red]--format must be table or jsonl (got {fmt!r})[/red]")
        raise typer.Exit(analyze_cmd.EXIT_UNUSABLE)
    if not records.is_file():
        err.print(f"[red]{records}: no such file[/red]")
        raise typer.Exit(analyze_cmd.EXIT_UNUSABLE)
    ruleset = _load_rules(rules)
    lines, texts = analyze_cmd.analyze_file(records, ruleset)
    analyze_cmd.emit(lines, texts, fmt)
    raise typer.Exit(analyze_cmd.exit_code(lines))


@rules_app.command("check")
def rules_check(path: Path = typer.Argument(..., help="rule file (YAML or JSON)")) -> None:
    """Validate a rule file; every problem is listed with rule id and key path."""
    ruleset = _load_rules(path)
    hot = sum(1 for r in ruleset.rules if r.hot)
    Console().print(
        f"{path}: {len(ruleset.rules)} rules OK ({hot} on the hot lane, "
        f"{len(ruleset.index.matcher.patterns)} patterns)"
    )


@rules_app.command("import")
def rules_import(path: Path = typer.Argument(..., help="rule file (YAML or JSON)")) -> None:
    """Publish a rule file to the store: a new immutable version of every changed rule (checked
    against the store: a segment's ``hit`` may name a rule published earlier)."""
    if not path.is_file():
        err.print(f"[red]rule error[/red] {path}: no such file")
        raise typer.Exit(analyze_cmd.EXIT_UNUSABLE)
    store = open_store(get_settings())
    try:
        rules_cmds.import_file(store, path, Console())
    except (QCError, RuleValidationError) as exc:
        for line in str(exc).splitlines():
            err.print(f"[red]rule error[/red] {line}")
        raise typer.Exit(analyze_cmd.EXIT_UNUSABLE) from None
    finally:
        store.close()


@rules_app.command("test")
def rules_test(
    rules: Path = typer.Argument(..., help="rule file"),
    conversation: Path = typer.Argument(..., help="one record (JSON)"),
    fmt: str = typer.Option("table", "--format", help="table or jsonl"),
) -> None:
    """Try rules on one pasted conversation and show the evidence (stores nothing)."""
    ruleset = _load_rules(rules)
    try:
        data = json.loads(conversation.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        err.print(f"[red]{conversation}: {exc}[/red]")
        raise typer.Exit(analyze_cmd.EXIT_UNUSABLE) from None
    try:
        lines = authoring.try_rules(ruleset, data)
    except QCError as exc:
        err.print(f"[red]{conversation}: {exc.field}: {exc.message}[/red]")
        raise typer.Exit(analyze_cmd.EXIT_UNUSABLE) from None
    texts = {data["id"]: {m["id"]: m.get("text", "") for m in data.get("messages", [])}}
    analyze_cmd.emit(lines, texts, fmt)
    raise typer.Exit(analyze_cmd.exit_code(lines))


@app.command()
def backtest(
    rules: Path = typer.Option(..., "--rules", help="draft rule file"),
    rule: str | None = typer.Option(None, "--rule", help="only this rule of the draft"),
    since: str | None = typer.Option(None, "--since", help="e.g. 30d, 12h, or an ISO time"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
) -> None:
    """Re-run a draft over stored conversations without writing findings: hits, new/lost vs live,
    a sample with evidence, estimated precision where reviewers judged (Wilson 95 %)."""
    _load_rules(rules)
    store = open_store(get_settings())
    try:
        report = rules_cmds.backtest(store, rules, rule, since, Console(), as_json)
    finally:
        store.close()
    raise typer.Exit(analyze_cmd.EXIT_OK if report.complete else analyze_cmd.EXIT_PARTIAL)


@app.command()
def reanalyze(
    since: str | None = typer.Option(None, "--since", help="e.g. 30d, or an ISO time"),
    asr: bool = typer.Option(
        False, "--asr", help="transcribe again the calls the service transcribed (QC_ASR_MODEL)"
    ),
) -> None:
    """Re-run the published rules over stored history (writes findings; decided violations untouched)."""
    store = open_store(get_settings())
    try:
        out = rules_cmds.reanalyze(store, since, Console(), asr=asr)
    finally:
        store.close()
    raise typer.Exit(analyze_cmd.EXIT_PARTIAL if out["failed"] else analyze_cmd.EXIT_OK)


@train_app.command(
    "sentiment", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def train_sentiment(ctx: typer.Context) -> None:
    """Train the sentiment model on ../shared/data and rewrite models/sentiment/MODEL_CARD.md
    (options: --data, --out, --card, --no-baseline, --seed)."""
    from qc_service.nlp import train_sentiment as trainer

    raise typer.Exit(trainer.main(list(ctx.args)))


@eval_app.command(
    "semantic", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def eval_semantic(ctx: typer.Context) -> None:
    """Measure encoders on the paraphrase set (models/semantic/MODEL_CARD.md's table); with
    --write-calibration store each one's calibration (options: --model, --data)."""
    from qc_service.nlp import eval_semantic as evaluator

    raise typer.Exit(evaluator.main(list(ctx.args)))


@train_app.command("feedback")
def train_feedback(
    tenant: str | None = typer.Option(None, "--tenant", help="one tenant (default: every tenant)"),
) -> None:
    """Train each tenant's feedback model on reviewer verdicts (upheld / overturned); it ranks
    `GET /v1/violations?order=overturn_risk`. Unchanged verdicts write nothing; too little data is
    stored as an insufficient version with the reason (the queue keeps its normal order)."""
    console = Console(soft_wrap=True)
    store = open_store(get_settings())
    try:
        with store.session_factory() as db:
            tenants = [tenant] if tenant else feedback_service.tenant_ids(db_session=db)
        for t in tenants:
            with write_transaction(store.session_factory) as db:
                r = feedback_service.train_feedback(db_session=db, tenant_id=t)
            m = r.metrics
            if r.outcome == "unchanged":
                console.print(
                    f"{t}: unchanged, version {r.version} ({r.status}; no new verdicts since)"
                )
            elif r.outcome == "insufficient":
                console.print(
                    f"{t}: version {r.version} insufficient — {r.reason}; the review queue keeps its normal order"
                )
            else:
                console.print(
                    f"{t}: version {r.version} trained on {r.n_verdicts} verdicts ({m['overturned']} overturned); "
                    f"held out the newest {m['n_test']}: AUC {m['auc']}, Brier {m['brier']}, overturn rate "
                    f"{m['test_overturn_rate']} overall, {m['top_quarter_overturn_rate']} in the top quarter"
                )  # fmt: skip
    except QCError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(analyze_cmd.EXIT_UNUSABLE) from None
    finally:
        store.close()


@app.command()
def ingest(
    records: Path = typer.Argument(..., help="JSON Lines file, one conversation a line"),
) -> None:
    """Store records (idempotent merge by id) in the configured database and analyse them."""
    if not records.is_file():
        err.print(f"[red]{records}: no such file[/red]")
        raise typer.Exit(analyze_cmd.EXIT_UNUSABLE)
    store = open_store(get_settings())
    try:
        answers = store_cmds.ingest_file(store, records, Console())
    finally:
        store.close()
    bad = any(a.status == "rejected" or a.conversation_status == "failed" for a in answers)
    raise typer.Exit(analyze_cmd.EXIT_PARTIAL if bad else analyze_cmd.EXIT_OK)


@app.command()
def demo() -> None:
    """Ingest the shipped demo set into the configured store and print what was found."""
    console = Console()
    settings = get_settings()
    console.print(f"Store: {settings.database_url}")
    store = open_store(settings)
    try:
        store_cmds.publish_demo_rules(store, DEMO_RULES_FILE)
        store_cmds.ingest_file(store, DEMO_FILE, console)
        store_cmds.ingest_file(store, DEMO_CALLS_FILE, console)
        store_cmds.print_summary(store, console)
        store_cmds.print_transcribed_findings(store, console)
        store_cmds.run_demo_segments(store, console)
        store_cmds.print_demo_users(store, console)
    finally:
        store.close()


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="bind address (loopback until auth is configured)"),
    port: int = typer.Option(8000, help="port"),
) -> None:
    """Run the HTTP API (brings the database to the current schema on start)."""
    import uvicorn

    from qc_service.main import create_app

    uvicorn.run(create_app(get_settings(), freeze_gc=True), host=host, port=port)


@app.command()
def worker(
    loglevel: str = typer.Option("INFO", help="Celery log level"),
    queues: str = typer.Option(
        "",
        "--queues",
        help="Celery queues to consume (default: QC_CELERY_QUEUE and QC_ASR_QUEUE; "
        "e.g. --queues asr for a worker that only transcribes calls)",
    ),
) -> None:
    """Run a deep-lane worker (Celery, needs QC_BROKER_URL); brings the database to the current
    schema on start, runs the CRM dispatcher and (unless QC_SCHEDULER=off) the scheduler loop."""
    from qc_service.kernel import build_process
    from qc_service.pipeline.celery_app import create_celery, register_tasks
    from qc_service.pipeline.lanes import CeleryLane

    settings = get_settings()
    if not settings.broker_url:
        err.print("[red]qc worker needs QC_BROKER_URL (e.g. redis://127.0.0.1:6379/0)[/red]")
        raise typer.Exit(analyze_cmd.EXIT_UNUSABLE)
    if settings.worker_nice:
        # the deep lane is background work: on a small machine it must yield the CPU to the API,
        # whose ingest raises the alerts (measured: embeddings at normal priority raised the
        # ingest→alert p99 by about half on 2 cores)
        os.nice(settings.worker_nice)
    celery = create_celery(settings)
    process = build_process(settings, "worker", submit=CeleryLane(celery, settings.celery_queue))
    register_tasks(celery, process.store)
    process.start()
    try:
        celery.worker_main(
            ["worker", "--pool=solo", "--concurrency=1", f"--loglevel={loglevel}",
             "-Q", queues or f"{settings.celery_queue},{settings.asr_queue}",
             "--without-gossip", "--without-mingle", "--without-heartbeat"]
        )  # fmt: skip
    finally:
        process.stop()


@app.command()
def scheduler() -> None:
    """Run only the scheduler loop (idle chats, stuck conversations, scheduled rule versions,
    appeal windows, retention): for installations that keep it out of API and worker processes
    (QC_SCHEDULER=off there). One process at a time does the work (a lease in the database)."""
    import signal
    import threading

    from qc_service.kernel import build_process

    process = build_process(get_settings(), "scheduler")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    process.start()
    Console(stderr=True).print(
        f"scheduler running as {process.scheduler.holder if process.scheduler else '(off)'}"
    )
    try:
        stop.wait()
    finally:
        process.stop()


if __name__ == "__main__":  # pragma: no cover
    app()
