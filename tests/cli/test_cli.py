"""The ``qc`` commands as a user runs them: real processes, real files, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from factories import record

QC = [sys.executable, "-m", "qc_service.cli.main"]


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*QC, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=120
    )


def _write(path: Path, *lines: object) -> Path:
    path.write_text(
        "".join(
            (x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines
        ),
        encoding="utf-8",
    )
    return path


def test_analyze_prints_findings_in_input_order_and_writes_nothing(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "r.jsonl",
        record("c1", ("m1", "customer", "多少钱"), ("m2", "agent", "这个稳.赚.不.赔")),
        record("c2", ("m1", "agent", "您好")),
    )
    res = run("analyze", str(f), "--format", "jsonl", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert [(x["type"], x["conversation_id"]) for x in lines] == [
        ("violation", "c1"), ("tag", "c1"), ("score", "c1"), ("score", "c2"),
    ]  # fmt: skip
    v = lines[0]
    assert (v["rule_id"], v["severity"], v["rule_version"]) == (
        "redline.guaranteed-returns",
        "critical",
        1,
    )
    assert v["evidence"][0] == {"kind": "span", "message_id": "m2", "role": "agent", "start": 2, "end": 9,
                                     "text": "稳.赚.不.赔", "t_start": None, "t_end": None, "value": None, "unit": None}  # fmt: skip
    assert (lines[1]["action"], lines[1]["tag"], lines[1]["customer_id"]) == (
        "add",
        "询价客户",
        "u1",
    )
    assert (lines[2]["score"], lines[2]["passed"], lines[3]["score"]) == (0, False, 100)
    assert not (tmp_path / "var").exists()


def test_analyze_reports_bad_lines_and_exits_1(tmp_path: Path) -> None:
    bad = record("c2", ("m1", "agent", "hi"))
    del bad["employee"]["id"]
    f = _write(tmp_path / "r.jsonl", record("c1", ("m1", "agent", "您好")), bad, "{not json")
    res = run("analyze", str(f), "--format", "jsonl")
    assert res.returncode == 1
    errors = [json.loads(x) for x in res.stdout.splitlines() if '"error"' in x]
    assert errors[0] == {"type": "error", "stage": "input", "line": 2, "field": "employee.id",
                              "message": "missing required field", "record_id": "c2"}  # fmt: skip
    assert errors[1]["line"] == 3 and errors[1]["message"].startswith("not valid JSON")


def test_analyze_exits_2_when_rules_or_file_are_unusable(tmp_path: Path) -> None:
    f = _write(tmp_path / "r.jsonl", record("c1", ("m1", "agent", "您好")))
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {id: a, name: a, when: {keyword: {words: [x], min_count: 0}}}\n",
        encoding="utf-8",
    )
    res = run("analyze", str(f), "--rules", str(rules))
    assert res.returncode == 2
    assert "rules[0].when.keyword.min_count" in res.stderr
    assert run("analyze", str(tmp_path / "missing.jsonl")).returncode == 2


def test_analyze_with_custom_rules_file(tmp_path: Path) -> None:
    f = _write(tmp_path / "r.jsonl", record("c1", ("m1", "agent", "这边给您申请个优-惠-券")))
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {id: promo.coupon, name: 券, deduct: 30, when: {keyword: {words: [优惠券]}}}\n",
        encoding="utf-8",
    )
    res = run("analyze", str(f), "--rules", str(rules), "--format", "jsonl")
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert lines[0]["evidence"][0]["text"] == "优-惠-券"
    assert (lines[1]["score"], lines[1]["items"]) == (
        70,
        [{"rule_id": "promo.coupon", "deduct": 30}],
    )


def test_rules_check(tmp_path: Path) -> None:
    ok = run(
        "rules",
        "check",
        "qc_service/rules/packs/default.yaml",
        cwd=Path(__file__).resolve().parents[2],
    )
    assert ok.returncode == 0 and "rules OK" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n  - {id: a, name: a, when: {regex: {pattern: 'a++'}}}\n", encoding="utf-8"
    )
    res = run("rules", "check", str(bad))
    assert res.returncode == 2 and "rules[0].when.regex.pattern: RE2 cannot compile" in res.stderr


@pytest.mark.parametrize("older", [False, True], ids=["empty-db", "older-db"])
def test_ingest_brings_the_database_to_the_current_schema(tmp_path: Path, older: bool) -> None:
    db = tmp_path / "qc.db"
    if older:  # a database created by an earlier run of this version is "older or equal"
        from qc_service.db.migrate import current_revision, head_revision, upgrade_to_head
        from qc_service.db.session import make_engine

        upgrade_to_head(f"sqlite:///{db}")
        engine = make_engine(f"sqlite:///{db}")
        assert current_revision(engine) == head_revision()
        engine.dispose()
    f = _write(tmp_path / "r.jsonl", record("c1", ("m1", "agent", "给您发个红包")), '{"id": "c2"}')
    env = {"QC_DATABASE_URL": f"sqlite:///{db}"}
    res = run("ingest", str(f), env=env)
    assert res.returncode == 1, res.stderr
    assert "1 accepted, 0 unchanged, 1 rejected" in res.stdout
    assert "line 2 record c2" in res.stdout
    again = run("ingest", str(f), env=env)
    assert "0 accepted, 1 unchanged, 1 rejected" in again.stdout
