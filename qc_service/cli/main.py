"""The ``qc`` console script (typer).

Exit codes, shared by analyze, ingest, rules check and backtest: 0 everything worked, 1 some
record or stage failed (reported), 2 the input or the rules cannot be used at all.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from qc_service.cli import analyze as analyze_cmd
from qc_service.rules.errors import RuleValidationError
from qc_service.rules.loader import builtin_pack_path, load_rules_file

app = typer.Typer(help="qc-service: conversation quality inspection and smart tagging.", no_args_is_help=True)
rules_app = typer.Typer(help="Check and manage rule files.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
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
    rules: Path | None = typer.Option(None, "--rules", help="rule file (default: the built-in pack)"),
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


if __name__ == "__main__":  # pragma: no cover
    app()
