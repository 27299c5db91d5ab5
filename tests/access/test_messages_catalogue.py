"""zh-CN strings live in one place (``qc_service/web/messages.py``): no template carries a Chinese
string of its own, and every ``ui.<key>`` a template uses exists."""

from __future__ import annotations

import re
from pathlib import Path

from qc_service.web import messages

TEMPLATES = Path(messages.__file__).parent / "templates"


def test_templates_take_every_chinese_string_from_the_messages_module() -> None:
    used: set[str] = set()
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"[\u4e00-\u9fff]", text), (
            f"{path.name} has a Chinese string of its own"
        )
        used |= set(re.findall(r"[{(\s]ui\.(\w+)", text))
    assert used, "templates use the catalogue"
    assert used <= set(messages.UI), sorted(used - set(messages.UI))
