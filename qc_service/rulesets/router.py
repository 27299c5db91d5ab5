"""``/v1/rules``: publish versions, enable/disable, schedule, export, try and backtest rules."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from qc_service.audit.service import record
from qc_service.conversations.schemas import ErrorOut
from qc_service.db.base import utcnow
from qc_service.db.session import write_transaction
from qc_service.errors import QCError, RuleInvalid
from qc_service.identity.policy import Op, Scope
from qc_service.rulesets import authoring, history
from qc_service.rulesets.service import active_ruleset
from qc_service.web.deps import CurrentUser, StoreDep, require
from qc_service.web.deps import DbSession as DbDep
from qc_service.web.masking import MaskingRoute

router = APIRouter(prefix="/v1/rules", tags=["rules"], route_class=MaskingRoute)
ReadRules = Annotated[Scope, require(Op.RULES_READ)]
WriteRules = Annotated[Scope, require(Op.RULES_WRITE)]
RULE_TEXT = {"requestBody": {"content": {"application/yaml": {"schema": {"type": "string"}},
                                         "application/json": {"schema": {"type": "object"}}}, "required": True}}  # fmt: skip


class RuleRead(BaseModel):
    """A stored rule: which version runs, and whether it runs."""

    rule_id: str
    name: str
    kind: str
    enabled: bool
    current_version: int
    scheduled_version: int | None
    scheduled_at: datetime | None


class PublishResult(BaseModel):
    """One rule of a published document: a new version, or unchanged."""

    rule_id: str
    version: int
    created: bool


class VersionRead(BaseModel):
    """One immutable version."""

    version: int
    definition: dict[str, Any]
    lexicons: dict[str, list[str]]
    source: str
    created_at: datetime


class ScheduleIn(BaseModel):
    """Make ``version`` current at ``at``."""

    version: int
    at: datetime


class TryIn(BaseModel):
    """Rules (YAML/JSON text; default: the published rules) and one record to try them on."""

    rules: str | None = None
    record: dict[str, Any]


class BacktestIn(BaseModel):
    """A draft rule document, optionally one rule of it, over history since a time or ``30d``."""

    rules: str
    rule: str | None = None
    since: str | None = Field(None, description="ISO time or a span like 30d, 12h")


def parse_since(value: str | None) -> datetime | None:
    """``30d``/``12h``/``90m`` back from now, or an ISO timestamp."""
    if value is None:
        return None
    m = re.fullmatch(r"(\d+)([dhm])", value.strip())
    if m:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[m.group(2)]
        return utcnow() - timedelta(**{unit: int(m.group(1))})
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise QCError(
            f"since must be like 30d or an ISO time (got {value!r})", field="since"
        ) from None


def _rule_read(rule: Any) -> RuleRead:
    return RuleRead(rule_id=rule.rule_id, name=rule.name, kind=rule.kind, enabled=rule.enabled,
                    current_version=rule.current_version, scheduled_version=rule.scheduled_version,
                    scheduled_at=rule.scheduled_at)  # fmt: skip


@router.get("", response_model=list[RuleRead], summary="List rules")
def list_rules(db: DbDep, scope: ReadRules) -> list[RuleRead]:
    """Every rule, its current version and whether it is enabled."""
    return [_rule_read(r) for r in authoring.list_rules(db_session=db, tenant_id=scope.tenant_id)]


@router.post("", response_model=list[PublishResult], responses={422: {"model": ErrorOut}},
             openapi_extra=RULE_TEXT, summary="Publish a rule document")  # fmt: skip
async def publish_rules(
    request: Request, store: StoreDep, scope: WriteRules, user: CurrentUser
) -> list[PublishResult]:
    """A YAML or JSON rule document (RULES.md); every changed rule gets a new immutable version,
    an identical one none. Invalid documents are refused whole with the rule id and key path."""
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise RuleInvalid("the rule document must be UTF-8 text") from None
    with write_transaction(store.session_factory) as db:
        out = authoring.publish_text(
            db_session=db, tenant_id=scope.tenant_id, text=text, source="api", actor=user.username
        )
    return [PublishResult(rule_id=r, version=v, created=c) for r, v, c in out]


@router.put(
    "/{rule_id}",
    response_model=PublishResult,
    responses={422: {"model": ErrorOut}},
    summary="Publish one rule",
)
def put_rule(
    rule_id: str, store: StoreDep, definition: Annotated[dict[str, Any], Body()],
    scope: WriteRules, user: CurrentUser,
) -> PublishResult:  # fmt: skip
    """One rule mapping (its ``id`` must be the path's); a change is a new version."""
    with write_transaction(store.session_factory) as db:
        r, v, c = authoring.publish_one(
            db_session=db,
            tenant_id=scope.tenant_id,
            rule_id=rule_id,
            definition=definition,
            actor=user.username,
        )
    return PublishResult(rule_id=r, version=v, created=c)


@router.get("/export", response_class=PlainTextResponse, summary="Export the rule set as YAML")
def export_rules(store: StoreDep, scope: ReadRules, user: CurrentUser) -> PlainTextResponse:
    """The current versions as one self-contained rule file (lexicons inlined); audited."""
    with write_transaction(store.session_factory) as db:
        text = authoring.export_yaml(db_session=db, tenant_id=scope.tenant_id)
        record(db, tenant_id=scope.tenant_id, actor=user.username, action="export",
               entity_type="rules", entity_id="*", after={"format": "yaml"})  # fmt: skip
    return PlainTextResponse(text, media_type="application/yaml")


@router.get("/{rule_id}/versions", response_model=list[VersionRead], responses={404: {"model": ErrorOut}},
            summary="List a rule's versions")  # fmt: skip
def rule_versions(rule_id: str, db: DbDep, scope: ReadRules) -> list[VersionRead]:
    """Every published version, oldest first, with its lexicon snapshot."""
    rule = authoring.get_rule_or_raise(db_session=db, tenant_id=scope.tenant_id, rule_id=rule_id)
    return [
        VersionRead.model_validate(v, from_attributes=True)
        for v in authoring.versions(db_session=db, rule=rule)
    ]


@router.post(
    "/{rule_id}/enable",
    response_model=RuleRead,
    responses={404: {"model": ErrorOut}},
    summary="Enable a rule",
)
def enable_rule(rule_id: str, store: StoreDep, scope: WriteRules, user: CurrentUser) -> RuleRead:
    """Runs from the next analysis on; no restart."""
    with write_transaction(store.session_factory) as db:
        return _rule_read(
            authoring.set_enabled(
                db_session=db,
                tenant_id=scope.tenant_id,
                rule_id=rule_id,
                enabled=True,
                actor=user.username,
            )
        )


@router.post(
    "/{rule_id}/disable",
    response_model=RuleRead,
    responses={404: {"model": ErrorOut}},
    summary="Disable a rule",
)
def disable_rule(rule_id: str, store: StoreDep, scope: WriteRules, user: CurrentUser) -> RuleRead:
    """Stops from the next analysis on; its past violations stay."""
    with write_transaction(store.session_factory) as db:
        return _rule_read(
            authoring.set_enabled(
                db_session=db,
                tenant_id=scope.tenant_id,
                rule_id=rule_id,
                enabled=False,
                actor=user.username,
            )
        )


@router.post("/{rule_id}/schedule", response_model=RuleRead, responses={404: {"model": ErrorOut}},
             summary="Schedule a version")  # fmt: skip
def schedule_rule(
    rule_id: str, body: ScheduleIn, store: StoreDep, scope: WriteRules, user: CurrentUser
) -> RuleRead:
    """The version becomes current at ``at`` (the sweep promotes it)."""
    with write_transaction(store.session_factory) as db:
        rule = authoring.schedule(
            db_session=db,
            tenant_id=scope.tenant_id,
            rule_id=rule_id,
            version=body.version,
            at=body.at,
            actor=user.username,
        )
        return _rule_read(rule)


@router.post("/test", summary="Try rules on one pasted conversation")
def try_rules(body: TryIn, db: DbDep, scope: WriteRules) -> dict[str, Any]:
    """Findings lines (violations, tags, score, errors) with their evidence; nothing is stored."""
    ruleset = (
        authoring.load_draft(body.rules)
        if body.rules
        else active_ruleset(db_session=db, tenant_id=scope.tenant_id)
    )
    return {"findings": authoring.try_rules(ruleset, body.record)}


@router.post("/backtest", summary="Backtest a draft over stored history")
def backtest_rules(body: BacktestIn, store: StoreDep, scope: WriteRules) -> dict[str, Any]:
    """Per rule: hits, conversations and agents affected, new and lost hits versus the live
    version, a sample of hits with evidence, and — where reviewers judged overlapping hits —
    estimated precision with a Wilson 95 % interval. Writes nothing."""
    draft = authoring.load_draft(body.rules)
    report = history.run_backtest(store.session_factory, tenant_id=scope.tenant_id, draft=draft,
                                  rule_ids={body.rule} if body.rule else None, since=parse_since(body.since))  # fmt: skip
    return report.to_dict()
