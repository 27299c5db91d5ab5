"""The README's tour, run as printed: `qc serve`, tokens of the demo users, curl with bearer tokens.

The blocks between ``<!-- tour:start -->`` and ``<!-- tour:end -->`` are concatenated and run by
bash against a real ``qc serve`` on a free port and a fresh SQLite store holding the demo users
(as ``make demo`` leaves them). Only the port, the ``qc`` path and curl's failure flag are
substituted; any HTTP error fails the run.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from qc_service.cli.store_cmds import DEMO_PASSWORD, DEMO_USERS
from qc_service.config import Settings
from qc_service.db.session import write_transaction
from qc_service.identity import service as identity
from qc_service.store import open_store

README = Path(__file__).resolve().parents[2] / "README.md"


def tour_script() -> str:
    """The tour's shell lines, in README order."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- tour:start -->\s*```sh\n(.*?)```\s*<!-- tour:end -->", text, re.S)
    assert len(blocks) >= 3, "the README lost its tour blocks"
    return "\n".join(blocks)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_the_readme_tour_works_as_printed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'qc.db'}"
    store = open_store(Settings(database_url=url))
    with write_transaction(store.session_factory) as db:
        for username, role, employee, teams in DEMO_USERS:
            identity.add_user(db, username=username, tenant_id="default", role=role, password=DEMO_PASSWORD,
                              employee_id=employee, teams=teams, actor="qc demo")  # fmt: skip
    store.close()
    port = _port()
    qc = f"{shlex.quote(sys.executable)} -m qc_service.cli.main"
    script = tour_script()
    script = script.replace(".venv/bin/qc serve &", f".venv/bin/qc serve --port {port} &")
    script = script.replace(".venv/bin/qc", qc).replace("localhost:8000", f"127.0.0.1:{port}")
    script = re.sub(r"curl -s(G?) ", r"curl -sS\1 --fail-with-body ", script)
    full = f"set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{script}\n"
    env = {
        **os.environ,
        "QC_DATABASE_URL": url,
        "QC_SWEEP_INTERVAL_SECONDS": "3600",
        "QC_DATA_DIR": str(tmp_path / "data"),
    }
    run = subprocess.run(
        ["bash", "-c", full], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    out = run.stdout
    assert run.returncode == 0, (
        f"tour failed ({run.returncode}):\n{out[-3000:]}\n{run.stderr[-3000:]}"
    )
    assert '"status":"accepted"' in out
    assert (
        "138****5678" in out and "13812345678" not in out
    )  # the conversation, as the admin sees it
    assert '"status":"overturned"' in out
    assert '"action":"status.overturned"' in out and '"actor":"demo-reviewer"' in out
    assert '"actor":"demo-agent"' in out and '"action":"status.appealed"' in out
    # the server's own log lines (uvicorn's access log goes to stdout) carry no phone, no token
    logs = run.stdout + run.stderr
    assert "POST /v1/conversations HTTP/1.1" in logs  # the access log is there to be read
    assert "13812345678" not in logs and "qct_" not in logs
