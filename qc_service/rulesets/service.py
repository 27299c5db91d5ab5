"""Stored rules: publish immutable versions, and build the active ``RuleSet`` of a tenant.

Why versions snapshot their lexicons: a violation names the version that found it, and that
version must keep meaning the same words after a lexicon file is edited. The active rule set is
rebuilt only when the tenant's (rule, version, enabled) fingerprint changes, and swapped whole.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zlib
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from qc_service.errors import RuleInvalid
from qc_service.rules.compiled import RuleSet
from qc_service.rules.errors import RuleValidationError
from qc_service.rules.loader import (
    DEFAULT_PASS_MARK,
    builtin_pack_path,
    load_rules_data,
    parse_rules_text,
)
from qc_service.rulesets.models import Rule, RuleVersion
from qc_service.segments.versions import known_refs, publish_segments
from qc_service.tenancy.models import Tenant
from qc_service.tenancy.service import get_or_create_tenant

PACK_LOCK_KEY = zlib.crc32(b"qc_service.rulesets.builtin_pack")
_cache: dict[str, tuple[tuple[Any, ...], RuleSet]] = {}
_cache_lock = threading.Lock()


def _checksum(definition: dict[str, Any], lexicons: dict[str, list[str]]) -> str:
    blob = json.dumps(
        {"definition": definition, "lexicons": lexicons}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _load(
    doc: Any, source_name: str, base_dir: Path | None, db_session: Session | None = None,
    tenant_id: str | None = None,
) -> RuleSet:  # fmt: skip
    known_rules: set[str] | None = None
    known_segments: set[str] | None = None
    if db_session is not None and tenant_id is not None:
        known_rules, known_segments = known_refs(db_session, tenant_id)
    try:
        return load_rules_data(doc, source_name=source_name, base_dir=base_dir,
                               known_rules=known_rules, known_segments=known_segments)  # fmt: skip
    except RuleValidationError as exc:
        first = exc.first
        raise RuleInvalid(str(exc), field=first.path, rule_id=first.rule_id) from None


def publish(
    *,
    db_session: Session,
    tenant_id: str,
    doc: Any,
    source: str,
    source_name: str,
    base_dir: Path | None = None,
    segments_out: list[tuple[str, int, bool]] | None = None,
) -> list[tuple[str, int, bool]]:
    """Validate a rule document and publish a new version of every rule that changed (and of
    every segment of its ``segments:``, reported in ``segments_out`` when given).

    Returns ``(rule_id, version, created)`` per rule; an identical rule creates no version.
    """
    ruleset = _load(doc, source_name, base_dir, db_session, tenant_id)
    tenant = get_or_create_tenant(db_session=db_session, tenant_id=tenant_id)
    tenant.settings = {**(tenant.settings or {}), "pass_mark": ruleset.pass_mark}
    out = []
    for compiled in ruleset.rules:
        checksum = _checksum(compiled.definition, compiled.lexicons)
        rule = db_session.scalars(
            select(Rule).where(Rule.tenant_id == tenant_id, Rule.rule_id == compiled.id)
        ).one_or_none()
        if rule is None:
            rule = Rule(tenant_id=tenant_id, rule_id=compiled.id, name=compiled.name, kind=compiled.kind,
                        enabled=compiled.enabled, current_version=0)  # fmt: skip
            db_session.add(rule)
            db_session.flush()
        latest = db_session.scalars(
            select(RuleVersion)
            .where(RuleVersion.rule_pk == rule.id)
            .order_by(RuleVersion.version.desc())
            .limit(1)
        ).one_or_none()
        if latest is not None and latest.checksum == checksum:
            out.append((compiled.id, latest.version, False))
            continue
        version = (latest.version if latest else 0) + 1
        db_session.add(RuleVersion(
            rule_pk=rule.id, version=version, definition=compiled.definition, lexicons=compiled.lexicons,
            scorecard={"pass_mark": ruleset.pass_mark}, source=source, checksum=checksum,
        ))  # fmt: skip
        rule.current_version = version
        rule.name = compiled.name
        rule.kind = compiled.kind
        rule.enabled = compiled.enabled
        out.append((compiled.id, version, True))
    db_session.flush()
    published = publish_segments(
        db_session=db_session, tenant_id=tenant_id, segments=ruleset.segments
    )
    if segments_out is not None:
        segments_out.extend(published)
    return out


def ensure_builtin_pack(*, db_session: Session, tenant_id: str) -> None:
    """A fresh store runs the built-in rule pack: publish it when the tenant has no rules yet.

    Processes starting together (API and workers) must not both publish: on PostgreSQL a
    transaction-scoped advisory lock serializes them (SQLite callers use ``write_transaction``).
    """
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PACK_LOCK_KEY})
    has_rules = db_session.scalars(
        select(Rule.id).where(Rule.tenant_id == tenant_id).limit(1)
    ).first()
    if has_rules is not None:
        return
    path = builtin_pack_path()
    doc = parse_rules_text(path.read_text(encoding="utf-8"), str(path))
    publish(
        db_session=db_session,
        tenant_id=tenant_id,
        doc=doc,
        source="pack",
        source_name=str(path),
        base_dir=path.parent,
    )


def active_ruleset(*, db_session: Session, tenant_id: str) -> RuleSet:
    """The tenant's current rule versions as one compiled rule set (cached until they change)."""
    rows = db_session.execute(
        select(Rule, RuleVersion)
        .join(
            RuleVersion,
            (RuleVersion.rule_pk == Rule.id) & (RuleVersion.version == Rule.current_version),
        )
        .where(Rule.tenant_id == tenant_id)
        .order_by(Rule.id)
    ).all()
    tenant = db_session.get(Tenant, tenant_id)
    pass_mark = (
        int((tenant.settings or {}).get("pass_mark", DEFAULT_PASS_MARK))
        if tenant
        else DEFAULT_PASS_MARK
    )
    fingerprint = (pass_mark, *((r.rule_id, v.version, v.checksum, r.enabled) for r, v in rows))
    with _cache_lock:
        cached = _cache.get(tenant_id)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
    doc = {
        "version": 1,
        "scorecard": {"pass_mark": pass_mark},
        "rules": [v.definition for _, v in rows],
    }
    snapshot = {r.rule_id: v.lexicons for r, v in rows}
    ruleset = load_rules_data(doc, source_name=f"tenant {tenant_id}", snapshot=snapshot)
    by_id = {r.rule_id: (r, v) for r, v in rows}
    for compiled in ruleset.rules:
        rule, version = by_id[compiled.id]
        compiled.version = version.version
        compiled.enabled = rule.enabled
    with _cache_lock:
        _cache[tenant_id] = (fingerprint, ruleset)
    return ruleset
