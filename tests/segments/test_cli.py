"""``qc rules import`` with segments and ``qc segments run`` as RULES.md describes them: the jsonl
lines, a second run at the same ``as_of`` printing nothing, the dry run, and the exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qc_service.cli.main import app
from qc_service.config import get_settings
from qc_service.db.session import write_transaction
from qc_service.store import Store
from tests.segments.world import AS_OF, World, ago

SEGMENT = """
segments:
  - id: seg.quote
    name: 问价
    when: {said: {cond: {keyword: {words: [报价]}}, window: 7d}}
    on_enter: [{tag_customer: 问过价}]
  - id: seg.flagged
    name: 触线
    when: {hit: {rule: redline.stored-only, window: 30d}}
    on_enter: [{tag_customer: 触线}]
"""
RULE = """
rules:
  - {id: redline.stored-only, name: 私下交易, severity: high, when: {keyword: {words: [私下转账]}}}
"""


@pytest.fixture
def qc(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The ``qc`` command on the test's store (it reads QC_DATABASE_URL through get_settings)."""
    monkeypatch.setenv("QC_DATABASE_URL", store.settings.database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def flat(output: str) -> str:
    """Rich wraps long error lines at the terminal width."""
    return " ".join(output.split())


def lines(output: str) -> list[dict[str, object]]:
    return [json.loads(x) for x in output.splitlines() if x.startswith("{")]


def test_import_checks_against_the_store_and_the_run_prints_rules_md_lines(
    qc: CliRunner, store: Store, tmp_path: Path
) -> None:
    (tmp_path / "rules.yaml").write_text(RULE, encoding="utf-8")
    (tmp_path / "segments.yaml").write_text("rules: []\n" + SEGMENT, encoding="utf-8")
    refused = qc.invoke(app, ["rules", "import", str(tmp_path / "segments.yaml")])
    assert refused.exit_code == 2
    assert "segments[1].when.hit.rule: unknown rule id 'redline.stored-only'" in flat(
        refused.output
    )
    assert qc.invoke(app, ["rules", "import", str(tmp_path / "rules.yaml")]).exit_code == 0
    ok = qc.invoke(
        app, ["rules", "import", str(tmp_path / "segments.yaml")]
    )  # the rule is stored now
    assert ok.exit_code == 0, ok.output
    assert "0 rules, 2 segments" in ok.output
    with write_transaction(store.session_factory) as db:
        World(db).chat("u1", ("customer", "报价多少", ago(days=1)))
    at = ["--as-of", AS_OF.isoformat(), "--format", "jsonl"]
    dry = qc.invoke(app, ["segments", "run", "--dry-run", *at])
    real = qc.invoke(app, ["segments", "run", *at])
    assert (dry.exit_code, real.exit_code) == (0, 0), real.output
    assert lines(real.output) == [
        {"type": "segment", "action": "enter", "segment_id": "seg.quote", "customer_id": "u1",
         "as_of": AS_OF.isoformat()},
        {"type": "tag", "action": "add", "customer_id": "u1", "tag": "问过价", "segment_id": "seg.quote"},
    ] == lines(dry.output)  # fmt: skip
    again = qc.invoke(app, ["segments", "run", *at])
    assert (again.exit_code, lines(again.output)) == (0, [])


def test_exit_codes(qc: CliRunner, store: Store, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "rules: []\n" + SEGMENT.split("  - id: seg.flagged")[0], encoding="utf-8"
    )
    assert qc.invoke(app, ["rules", "import", str(tmp_path / "s.yaml")]).exit_code == 0
    assert qc.invoke(app, ["rules", "import", str(tmp_path / "none.yaml")]).exit_code == 2
    unknown = qc.invoke(app, ["segments", "run", "--segment", "seg.nope"])
    assert unknown.exit_code == 2 and "no segment 'seg.nope'" in flat(unknown.output)
    assert qc.invoke(app, ["segments", "run", "--as-of", "2026-11-30T02:00"]).exit_code == 2
    assert qc.invoke(app, ["segments", "run", "--format", "csv"]).exit_code == 2
    assert qc.invoke(app, ["segments", "run", "--as-of", AS_OF.isoformat()]).exit_code == 0
