"""Rule versions are immutable and snapshot their lexicons; the active rule set follows changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import record
from sqlalchemy import select

from qc_service.errors import RuleInvalid
from qc_service.pipeline.files import ingest_one
from qc_service.review.models import Violation
from qc_service.rules.loader import parse_rules_text
from qc_service.rulesets.models import RuleVersion
from qc_service.rulesets.service import active_ruleset, publish
from qc_service.store import Store


def _publish(store: Store, text: str, base_dir: Path | None = None) -> list[tuple[str, int, bool]]:
    with store.session_factory() as s, s.begin():
        return publish(db_session=s, tenant_id="default", doc=parse_rules_text(text, "t.yaml"),
                       source="file", source_name="t.yaml", base_dir=base_dir)  # fmt: skip


def test_edited_lexicon_file_does_not_change_a_published_version(
    store: Store, tmp_path: Path
) -> None:
    (tmp_path / "w.txt").write_text("优惠券\n", encoding="utf-8")
    doc = "rules:\n  - {id: promo.coupon, name: 券, when: {keyword: {file: w.txt, role: agent}}}\n"
    assert _publish(store, doc, tmp_path) == [("promo.coupon", 1, True)]
    assert _publish(store, doc, tmp_path) == [("promo.coupon", 1, False)]
    (tmp_path / "w.txt").write_text("代金券\n", encoding="utf-8")
    assert _publish(store, doc, tmp_path) == [("promo.coupon", 2, True)]
    with store.session_factory() as s:
        v1 = s.scalars(
            select(RuleVersion).where(RuleVersion.version == 1, RuleVersion.source == "file")
        ).one()
        assert v1.lexicons == {"file:w.txt": ["优惠券"]}
        ruleset = active_ruleset(db_session=s, tenant_id="default")
        assert ruleset.get("promo.coupon").version == 2
    ingest_one(store, record("c1", ("m1", "agent", "送您一张代金券")), final=True)
    with store.session_factory() as s:
        v = s.scalars(select(Violation).where(Violation.rule_id == "promo.coupon")).one()
        assert v.rule_version == 2


def test_invalid_rules_are_refused_with_rule_id_and_path(store: Store) -> None:
    with pytest.raises(RuleInvalid) as info:
        _publish(store, "rules:\n  - {id: x.y, name: x, when: {regex: {pattern: '(?=a)'}}}\n")
    assert info.value.rule_id == "x.y"
    assert info.value.field == "rules[0].when.regex.pattern"
