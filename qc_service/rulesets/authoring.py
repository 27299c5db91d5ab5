"""Rule authoring: versions, enable/disable, schedules, export, and trying rules on one record.

Why every change is a new immutable version: violations name the version that found them, and
a reviewer must always see exactly that definition. Enabling, disabling and scheduling change
which version runs, never what a version says.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from qc_service.audit.models import AuditEvent
from qc_service.db.base import utcnow
from qc_service.errors import NotFound, QCError, RuleInvalid
from qc_service.records import RecordError, parse_record, surrogate_path, to_conversation
from qc_service.rules.analysis import analyze, finding_lines
from qc_service.rules.compiled import RuleSet
from qc_service.rules.errors import RuleValidationError
from qc_service.rules.loader import DEFAULT_PASS_MARK, load_rules_data, parse_rules_text
from qc_service.rulesets.models import Rule, RuleVersion
from qc_service.rulesets.service import publish
from qc_service.tenancy.models import Tenant


def get_rule_or_raise(*, db_session: Session, tenant_id: str, rule_id: str) -> Rule:
    """A stored rule by its stable id, or NotFound."""
    rule = db_session.scalars(
        select(Rule).where(Rule.tenant_id == tenant_id, Rule.rule_id == rule_id)
    ).one_or_none()
    if rule is None:
        raise NotFound(f"rule {rule_id!r} not found", rule_id=rule_id)
    return rule


def list_rules(*, db_session: Session, tenant_id: str) -> list[Rule]:
    """Every rule of the tenant."""
    return list(
        db_session.scalars(select(Rule).where(Rule.tenant_id == tenant_id).order_by(Rule.rule_id))
    )


def versions(*, db_session: Session, rule: Rule) -> list[RuleVersion]:
    """A rule's versions, oldest first."""
    return list(
        db_session.scalars(
            select(RuleVersion).where(RuleVersion.rule_pk == rule.id).order_by(RuleVersion.version)
        )
    )


def publish_text(
    *, db_session: Session, tenant_id: str, text: str, source: str, actor: str
) -> list[tuple[str, int, bool]]:
    """Publish a rule document (YAML or JSON) as new versions; audited."""
    doc = _parse(text)
    segments: list[tuple[str, int, bool]] = []
    out = publish(
        db_session=db_session,
        tenant_id=tenant_id,
        doc=doc,
        source=source,
        source_name=source,
        segments_out=segments,
    )
    for kind, published in (("rule", out), ("segment", segments)):
        for entity_id, version, created in published:
            if created:
                db_session.add(AuditEvent(tenant_id=tenant_id, entity_type=kind, entity_id=entity_id, action="published",
                                          actor=actor, before=None, after={"version": version, "source": source}))  # fmt: skip
    return out


def publish_one(
    *, db_session: Session, tenant_id: str, rule_id: str, definition: Any, actor: str
) -> tuple[str, int, bool]:
    """PUT one rule: its id must match the path."""
    if not isinstance(definition, dict) or definition.get("id") != rule_id:
        raise RuleInvalid(f"the rule's id must be {rule_id!r}", field="id", rule_id=rule_id)
    (result,) = publish_text(db_session=db_session, tenant_id=tenant_id, text=yaml.safe_dump({"rules": [definition]},
                             allow_unicode=True), source="api", actor=actor)  # fmt: skip
    return result


def _parse(text: str) -> Any:
    try:
        doc = parse_rules_text(text, "request")
    except RuleValidationError as exc:
        raise RuleInvalid(str(exc), field=exc.first.path) from None
    broken = surrogate_path(doc)
    if broken is not None:
        raise RuleInvalid("not valid Unicode text (a lone surrogate)", field=broken)
    return doc


def _rule_with_version(db_session: Session, tenant_id: str, rule_id: str, version: int) -> Rule:
    """The rule, or NotFound when it or that published version does not exist."""
    rule = get_rule_or_raise(db_session=db_session, tenant_id=tenant_id, rule_id=rule_id)
    if version not in {v.version for v in versions(db_session=db_session, rule=rule)}:
        raise NotFound(
            f"rule {rule_id!r} has no version {version}", rule_id=rule_id, field="version"
        )
    return rule


def set_enabled(
    *, db_session: Session, tenant_id: str, rule_id: str, enabled: bool, actor: str
) -> Rule:
    """Enable or disable a rule (the change takes effect on the next analysis; audited)."""
    rule = get_rule_or_raise(db_session=db_session, tenant_id=tenant_id, rule_id=rule_id)
    if rule.enabled != enabled:
        db_session.add(AuditEvent(tenant_id=tenant_id, entity_type="rule", entity_id=rule_id,
                                  action="enabled" if enabled else "disabled", actor=actor,
                                  before={"enabled": rule.enabled}, after={"enabled": enabled}))  # fmt: skip
        rule.enabled = enabled
    return rule


def schedule(
    *, db_session: Session, tenant_id: str, rule_id: str, version: int, at: datetime, actor: str
) -> Rule:
    """Make a published version current at ``at`` (immediately if ``at`` is past)."""
    rule = _rule_with_version(db_session, tenant_id, rule_id, version)
    if at.tzinfo is None:
        raise QCError("the schedule time needs a UTC offset", field="at", rule_id=rule_id)
    rule.scheduled_version, rule.scheduled_at = version, at
    db_session.add(AuditEvent(tenant_id=tenant_id, entity_type="rule", entity_id=rule_id, action="scheduled",
                              actor=actor, before={"version": rule.current_version},
                              after={"version": version, "at": at.isoformat()}))  # fmt: skip
    promote_due(db_session=db_session, now=utcnow())
    return rule


def rollback(
    *, db_session: Session, tenant_id: str, rule_id: str, version: int, actor: str
) -> Rule:
    """Make an earlier published version current again at once (audited ``rolled_back``)."""
    rule = _rule_with_version(db_session, tenant_id, rule_id, version)
    if version != rule.current_version:
        db_session.add(AuditEvent(tenant_id=tenant_id, entity_type="rule", entity_id=rule_id, action="rolled_back",
                                  actor=actor, before={"version": rule.current_version}, after={"version": version}))  # fmt: skip
        rule.current_version, rule.scheduled_version, rule.scheduled_at = version, None, None
    return rule


def promote_due(*, db_session: Session, now: datetime) -> list[str]:
    """Make scheduled versions current once their time has come (run by the sweep)."""
    due = db_session.scalars(
        select(Rule).where(Rule.scheduled_version.is_not(None), Rule.scheduled_at <= now)
    ).all()
    for rule in due:
        db_session.add(AuditEvent(tenant_id=rule.tenant_id, entity_type="rule", entity_id=rule.rule_id,
                                  action="version.activated", actor="system", before={"version": rule.current_version},
                                  after={"version": rule.scheduled_version}))  # fmt: skip
        rule.current_version = rule.scheduled_version or rule.current_version
        rule.scheduled_version, rule.scheduled_at = None, None
    return [r.rule_id for r in due]


def _lexicon_name(key: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", key.split(":", 1)[1].lower()).strip("_") or "words"


def export_yaml(*, db_session: Session, tenant_id: str, rule_ids: set[str] | None = None) -> str:
    """The tenant's current rule set (or only ``rule_ids``: the editor's text of one rule) as one
    self-contained YAML document (lexicons inlined)."""
    tenant = db_session.get(Tenant, tenant_id)
    pass_mark = (
        int((tenant.settings or {}).get("pass_mark", DEFAULT_PASS_MARK))
        if tenant
        else DEFAULT_PASS_MARK
    )
    lexicons: dict[str, dict[str, list[str]]] = {}
    rules_out = []
    for rule in list_rules(db_session=db_session, tenant_id=tenant_id):
        if rule_ids is not None and rule.rule_id not in rule_ids:
            continue
        current = next(
            v
            for v in versions(db_session=db_session, rule=rule)
            if v.version == rule.current_version
        )
        definition = dict(current.definition)
        definition["enabled"] = rule.enabled
        renames: dict[str, str] = {}
        for key, words in current.lexicons.items():
            name = _lexicon_name(key) if key.startswith("file:") else key.split(":", 1)[1]
            lexicons[name] = {"words": list(words)}
            if key.startswith("file:"):
                renames[key.split(":", 1)[1]] = name
        rules_out.append(_replace_files(definition, renames))
    doc = {
        "version": 1,
        "scorecard": {"pass_mark": pass_mark},
        "lexicons": lexicons,
        "rules": rules_out,
    }
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _replace_files(node: Any, renames: dict[str, str]) -> Any:
    """``file: P`` → ``lexicon: <name>`` so the export needs no files."""
    if isinstance(node, dict):
        out = {k: _replace_files(v, renames) for k, v in node.items() if k != "file"}
        if "file" in node and node["file"] in renames:
            names = out.get("lexicon", [])
            out["lexicon"] = [
                *([names] if isinstance(names, str) else names),
                renames[node["file"]],
            ]
        return out
    if isinstance(node, list):
        return [_replace_files(x, renames) for x in node]
    return node


def try_rules(ruleset: RuleSet, record_data: Any) -> list[dict[str, Any]]:
    """Findings of ``ruleset`` on one pasted record (nothing is stored)."""
    try:
        record = parse_record(record_data)
    except RecordError as exc:
        raise QCError(exc.message, field=exc.field, record_id=exc.record_id) from None
    return finding_lines(analyze(ruleset, to_conversation(record, final=True)), ruleset)


def load_draft(text: str) -> RuleSet:
    """A draft rule document (not published) as a rule set."""
    try:
        return load_rules_data(_parse(text), source_name="draft")
    except RuleValidationError as exc:
        raise RuleInvalid(str(exc), field=exc.first.path, rule_id=exc.first.rule_id) from None
