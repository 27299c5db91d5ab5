"""Browser fixtures: one seeded server per module, one chromium per session (UI.md, Tests)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from harness import ARGS, CHROMIUM, LiveServer, live_server, open_store_at, seed  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("QC_REQUIRE_SERVICES") == "1":
            pytest.fail(f"chromium is missing at {CHROMIUM} (.ci/run installs it with apt-get)")
        pytest.skip(
            f"chromium is not installed ({CHROMIUM}); `apt-get install chromium fonts-wqy-microhei`"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def live(tmp_path: Path, browser: Any) -> Iterator[LiveServer]:
    """A fresh seeded store served on 127.0.0.1; fails the test if any page asked another host."""
    store = open_store_at(tmp_path)
    try:
        live_server_ctx = live_server(store)
        server = live_server_ctx.__enter__()
        server.appealed = seed(store)  # type: ignore[attr-defined]
        yield server
        live_server_ctx.__exit__(None, None, None)
        assert server.offsite == [], f"pages asked other hosts: {server.offsite}"
    finally:
        store.close()
