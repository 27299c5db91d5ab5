"""A real browser on a real server: ``qc serve``'s app under uvicorn on 127.0.0.1, driven by
Debian's chromium through Playwright (never ``playwright install``; UI.md, Tests).

Shared by the browser tests and ``tools/screenshots.py``. Every request to another host fails the
page (and is recorded, so a test can assert there were none).
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console

from qc_service.cli import store_cmds
from qc_service.config import Settings
from qc_service.demo import DEMO_CALLS_FILE
from qc_service.main import create_app
from qc_service.pipeline.files import ingest_one
from qc_service.store import Store, open_store

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
        "--disable-background-networking", "--disable-component-update",
        "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
PASSWORD = store_cmds.DEMO_PASSWORD
TAG_RULES = """
rules:
  - {id: tag.grade-primary, name: 小学, kind: tag, tag: 小学, exclusive_group: 年级,
     when: {keyword: {words: [三年级, 四年级, 五年级], role: customer}}}
  - {id: tag.grade-junior, name: 初中, kind: tag, tag: 初中, exclusive_group: 年级,
     when: {keyword: {words: [初一, 初二, 初三], role: customer}}}
  - {id: tag.price, name: 关注价格, kind: tag, tag: 关注价格, when: {keyword: {words: [多少钱], role: customer}}}
"""


def sales_chat(rid: str, text: str) -> dict[str, Any]:
    """A chat of demo-sales' (e02) customer 王妈妈."""
    return {"id": rid, "channel": "wecom", "employee": {"id": "e02", "name": "李娜", "team": "销售一组"},
            "customer": {"id": "u-wang", "name": "王妈妈"}, "started_at": "2026-12-01T10:00:00+08:00",
            "messages": [{"id": "m1", "role": "agent", "text": "孩子几年级了？"},
                         {"id": "m2", "role": "customer", "text": text}]}  # fmt: skip


def agent_chat(rid: str) -> dict[str, Any]:
    """A chat of demo-caller (e03) with a red-line word: an open violation to appeal."""
    return {"id": rid, "channel": "wecom", "employee": {"id": "e03", "name": "刘洋", "team": "理财顾问组"},
            "customer": {"id": "u-zhao", "name": "赵先生"}, "started_at": "2026-12-02T09:00:00+08:00",
            "messages": [{"id": "m1", "role": "customer", "text": "这个产品靠谱吗"},
                         {"id": "m2", "role": "agent", "text": "加我私人微信，给您发个红包返现"}]}  # fmt: skip


def seed(store: Store) -> int:
    """The demo call with its appealed finding, the demo users, an agent's open finding and a sales
    customer with two tags; returns the appealed violation's id."""
    console = Console(quiet=True)
    store_cmds.ingest_file(store, DEMO_CALLS_FILE, console)
    assert (
        ingest_one(store, agent_chat("web-agent-1"), final=True).conversation_status == "analysed"
    )
    store_cmds.print_demo_users(store, console)
    appealed = store_cmds.seed_demo_appeal(store)
    assert appealed is not None
    from qc_service.db.session import write_transaction
    from qc_service.rulesets.authoring import publish_text

    with write_transaction(store.session_factory) as db:
        publish_text(
            db_session=db, tenant_id="default", text=TAG_RULES, source="browser-tests", actor="test"
        )
    ingest_one(store, sales_chat("web-sales-1", "今年四年级，学费多少钱"), final=True)
    return appealed


@dataclass
class LiveServer:
    url: str
    store: Store
    offsite: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(store: Store) -> Iterator[LiveServer]:
    """uvicorn serving the app on 127.0.0.1 in a thread (the same app ``qc serve`` runs)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(store.settings, store=store), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="on"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        threading.Event().wait(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", store)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def open_store_at(tmp: Path) -> Store:
    return open_store(Settings(database_url=f"sqlite:///{tmp / 'qc.db'}", data_dir=tmp / "data",
                               sweep_interval_seconds=3600))  # fmt: skip


def new_context(browser: Any, live: LiveServer, **kw: Any) -> Any:
    """A zh-CN, Asia/Shanghai context whose requests to any other host are aborted and recorded."""
    ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **kw)

    def guard(route: Any) -> None:
        if route.request.url.startswith(live.url) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            live.offsite.append(route.request.url)
            route.abort()

    ctx.route("**/*", guard)
    return ctx


def login(page: Any, live: LiveServer, username: str) -> None:
    page.goto(f"{live.url}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
