"""`qc users`, `qc tokens` and `qc audit verify` as an operator runs them (exit 0 / 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from qc_service.config import Settings
from qc_service.main import create_app
from qc_service.store import open_store


def _qc(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qc_service.cli.main", *args], env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_first_run_story_users_tokens_and_the_audit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'qc.db'}"
    env = {**os.environ, "QC_DATABASE_URL": url}
    ok = _qc(env, "users", "add", "admin", "--tenant", "acme", "--role", "admin", "--name", "质检管理员",
             "--password-stdin", stdin="a-long-password\n")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    bad = [
        (["users", "add", "admin", "--tenant", "acme", "--role", "admin", "--password-stdin"], "already exists"),
        (["users", "add", "x", "--tenant", "acme", "--role", "boss", "--password-stdin"], "role must be one of"),
        (["users", "add", "y", "--tenant", "acme", "--role", "agent", "--password-stdin"], "--employee-id"),
        (["users", "add", "z", "--tenant", "acme", "--role", "manager", "--password-stdin"], "--team"),
        (["users", "add", "w", "--tenant", "acme", "--role", "reviewer", "--password-stdin"], "at least 8"),
    ]  # fmt: skip
    for args, says in bad:
        r = _qc(env, *args, stdin="short\n" if args[2] == "w" else "another-password\n")
        assert r.returncode == 2 and says in r.stderr.replace("\n", " "), (args, r.stderr)
    assert (
        _qc(env, "users", "add", "archive", "--tenant", "acme", "--role", "integration").returncode
        == 0
    )
    created = _qc(
        env, "tokens", "create", "archive", "--name", "chat archive", "--expires-days", "30"
    )
    token = created.stdout.strip().splitlines()[-1]
    assert created.returncode == 0 and token.startswith("qct_") and token not in created.stderr
    listed = _qc(env, "tokens", "list", "archive").stdout
    assert "chat archive" in listed and token not in listed and token[:10] in listed
    store = open_store(Settings(database_url=url))
    with TestClient(create_app(store.settings, store=store)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/v1/me", headers=headers).json()["tenant"] == "acme"
        assert _qc(env, "tokens", "revoke", "1").returncode == 0
        assert client.get("/v1/me", headers=headers).json()["error"]["code"] == "AUTH_INVALID"
    store.close()
    assert "archive" in _qc(env, "users", "list", "--tenant", "acme").stdout
    assert _qc(env, "users", "disable", "archive").returncode == 0
    assert "disabled" in _qc(env, "users", "list").stdout
    assert _qc(env, "users", "disable", "nobody").returncode == 2
    verify = _qc(env, "audit", "verify")
    assert verify.returncode == 0 and verify.stdout.strip().endswith("events, chain intact")
    assert (
        int(verify.stdout.split()[0]) >= 5
    )  # user.added ×2, token.created, token.revoked, user.disabled
