"""docs/rules.md documents every registered operator (Datasette's docs tests)."""

from __future__ import annotations

from pathlib import Path

from qc_service.rules.registry import REGISTRY

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_every_operator_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [name for name in REGISTRY.names() if f"`{name}`" not in text]
    assert missing == []


def test_every_setting_is_documented_in_the_readme() -> None:
    from qc_service.config import Settings

    readme = (DOCS.parents[1] / "README.md").read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"QC_{name.upper()}" not in readme]
    assert missing == []
