"""Learning from appeals: a tenant's feedback model, trained from reviewer verdicts, ranks the
review queue by P(overturned).

Why in the review domain: verdicts (upheld / overturned violations) are the review domain's data,
and the queue it ranks is the review queue. The model itself is the pure
``qc_service.nlp.feedback``; this module turns stored violations into its plain inputs, keeps the
trained versions in ``feedback_models`` and loads the current one for the API.

- ``train_feedback``: idempotent and versioned. The verdicts' fingerprint equals the latest
  version's → nothing is written ("unchanged"); otherwise version N+1 is stored, ``active`` with
  its artifact, or ``insufficient`` with the reason when there is too little data.
- ``queue_model``: the model ranking the queue now — the latest version if it is active — or the
  reason there is none. Loaded artifacts are cached per version (a stored version never changes).
- ``score_violations``: P(overturned) of stored violations, with each agent's verdicts so far.

Only reviewer decisions are labels: ``confirmed`` (the appeal window closed, or a spot check
without a decision) is not a verdict on the finding's correctness and is not trained on.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cachetools import LRUCache
from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, joinedload, selectinload

from qc_service.conversations.models import Conversation
from qc_service.db.base import utcnow
from qc_service.errors import NotFound
from qc_service.nlp.feedback import (
    MIN_PER_CLASS,
    MIN_VERDICTS,
    AgentHistory,
    FeedbackModel,
    Finding,
    NotEnoughData,
    Verdict,
    fingerprint,
    train,
)
from qc_service.review.enums import JUDGED, ViolationStatus
from qc_service.review.models import FeedbackModelVersion, Violation
from qc_service.review.queries import context_range
from qc_service.tenancy.models import Employee, Tenant

_cache: LRUCache[tuple[str, int, str, str], FeedbackModel] = LRUCache(maxsize=16)
"""Loaded artifacts by (tenant, version, fingerprint, trained_at): a version never changes."""
_cache_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What ``train_feedback`` did: ``trained`` a new active version, stored an ``insufficient``
    one (with ``reason``), or left the latest version ``unchanged``."""

    tenant_id: str
    outcome: Literal["trained", "insufficient", "unchanged"]
    version: int
    status: str
    n_verdicts: int
    reason: str | None
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueueModel:
    """The model that ranks a tenant's queue now (``model`` None: off, and ``reason`` says why)."""

    version: int | None
    model: FeedbackModel | None
    reason: str | None


def _texts(violation: Violation) -> tuple[str, str]:
    """The evidence text, and the context: each evidence message with the messages around it, as
    the reviewer sees them (``queries.context_range``) (as ``role: text`` lines, in conversation order)."""
    messages = violation.conversation.messages
    position = {m.external_id: i for i, m in enumerate(messages)}
    evidence: list[str] = []
    window: set[int] = set()
    for ev in violation.evidence:
        ids = [ev.message_external_id] if ev.message_external_id else list(ev.message_ids or [])
        indexes = [position[mid] for mid in ids if mid in position]
        text = ev.text or (messages[indexes[0]].text if ev.kind == "message" and indexes else "")
        if text:
            evidence.append(text)
        for index in indexes:
            window.update(context_range(index, len(messages)))
    context = "\n".join(
        f"{messages[i].role}: {messages[i].text}" for i in sorted(window) if messages[i].text
    )
    return "\n".join(evidence), context


def _load(db_session: Session, tenant_id: str, *conditions: Any) -> Sequence[Violation]:
    """Violations with what the features need: evidence, appeals, messages and the agent."""
    return db_session.scalars(
        select(Violation)
        .where(Violation.tenant_id == tenant_id, *conditions)
        .options(
            selectinload(Violation.evidence),
            selectinload(Violation.appeals),
            selectinload(Violation.conversation).options(
                selectinload(Conversation.messages), joinedload(Conversation.employee)
            ),
        )
        .order_by(Violation.id)
    ).all()


def gather_verdicts(*, db_session: Session, tenant_id: str) -> list[Verdict]:
    """Every upheld or overturned violation of the tenant as a ``Verdict``."""
    out = []
    for v in _load(db_session, tenant_id, Violation.status.in_(JUDGED)):
        evidence, context = _texts(v)
        out.append(Verdict(
            verdict_id=v.id, rule_id=v.rule_id, evidence_text=evidence, context_text=context,
            agent_id=v.conversation.employee.external_id, appealed=bool(v.appeals),
            overturned=v.status == ViolationStatus.OVERTURNED, decided_at=v.decided_at or v.updated_at,
        ))  # fmt: skip
    return out


def _latest(db_session: Session, tenant_id: str) -> FeedbackModelVersion | None:
    """The tenant's newest version (its artifact is loaded only when accessed)."""
    return db_session.scalars(
        select(FeedbackModelVersion)
        .where(FeedbackModelVersion.tenant_id == tenant_id)
        .options(defer(FeedbackModelVersion.artifact))
        .order_by(FeedbackModelVersion.version.desc())
        .limit(1)
    ).one_or_none()


def tenant_ids(*, db_session: Session) -> list[str]:
    """Every tenant, for ``qc train feedback`` without ``--tenant``."""
    return list(db_session.scalars(select(Tenant.id).order_by(Tenant.id)))


def train_feedback(
    *,
    db_session: Session,
    tenant_id: str,
    min_verdicts: int = MIN_VERDICTS,
    min_per_class: int = MIN_PER_CLASS,
) -> TrainResult:
    """Train the tenant's model on every verdict so far; a no-op when nothing changed since the
    latest version. The caller's transaction commits the new version."""
    if db_session.get(Tenant, tenant_id) is None:
        raise NotFound(f"tenant {tenant_id} not found", field="tenant")
    verdicts = gather_verdicts(db_session=db_session, tenant_id=tenant_id)
    latest = _latest(db_session, tenant_id)
    if latest is not None and latest.fingerprint == fingerprint(verdicts):
        return TrainResult(tenant_id, "unchanged", latest.version, latest.status,
                           latest.n_verdicts, latest.reason, latest.metrics)  # fmt: skip
    now = utcnow()
    trained = train(
        verdicts, min_verdicts=min_verdicts, min_per_class=min_per_class, trained_at=now
    )
    row = FeedbackModelVersion(
        tenant_id=tenant_id, version=(latest.version if latest is not None else 0) + 1,
        fingerprint=trained.fingerprint, trained_at=now, n_verdicts=len(verdicts),
        status="insufficient", reason=None, metrics={}, artifact=None,
    )  # fmt: skip
    if isinstance(trained, NotEnoughData):
        row.reason, row.metrics = trained.reason, dict(trained.counts)
    else:
        counts = {k: trained.meta[k] for k in ("verdicts", "overturned", "upheld")}
        row.status, row.metrics = "active", {**counts, **trained.metrics}
        row.artifact = trained.to_bytes()
    db_session.add(row)
    db_session.flush()
    outcome: Literal["trained", "insufficient"] = (
        "trained" if row.status == "active" else "insufficient"
    )
    return TrainResult(
        tenant_id, outcome, row.version, row.status, row.n_verdicts, row.reason, row.metrics
    )


def queue_model(*, db_session: Session, tenant_id: str) -> QueueModel:
    """The tenant's latest version if it is active (loaded once per version), else why not."""
    latest = _latest(db_session, tenant_id)
    if latest is None:
        return QueueModel(None, None, "no feedback model has been trained for this tenant yet "
                                      "(run `qc train feedback`)")  # fmt: skip
    if latest.status != "active":
        return QueueModel(latest.version, None,
                          f"feedback model version {latest.version} is off: {latest.reason}")  # fmt: skip
    key = (tenant_id, latest.version, latest.fingerprint, latest.trained_at.isoformat())
    with _cache_lock:
        model = _cache.get(key)
    if model is None:
        try:
            model = FeedbackModel.from_bytes(latest.artifact or b"")
        except (ValueError, EOFError, KeyError) as exc:
            return QueueModel(latest.version, None, f"feedback model version {latest.version} "
                              f"cannot be loaded ({exc}); run `qc train feedback`")  # fmt: skip
        with _cache_lock:
            _cache[key] = model
    return QueueModel(latest.version, model, None)


def agent_histories(*, db_session: Session, tenant_id: str) -> dict[str, AgentHistory]:
    """Each agent's verdicts so far (the history the model was trained with)."""
    rows = db_session.execute(
        select(Employee.external_id, Violation.status, func.count())
        .select_from(Violation)
        .join(Conversation, Violation.conversation_id == Conversation.id)
        .join(Employee, Conversation.employee_id == Employee.id)
        .where(Violation.tenant_id == tenant_id, Violation.status.in_(JUDGED))
        .group_by(Employee.external_id, Violation.status)
    ).all()
    decided: Counter[str] = Counter()
    overturned: Counter[str] = Counter()
    for agent, status, n in rows:
        decided[agent] += n
        if status == ViolationStatus.OVERTURNED:
            overturned[agent] += n
    return {agent: AgentHistory(n, overturned[agent]) for agent, n in decided.items()}


def score_violations(
    *, db_session: Session, tenant_id: str, model: FeedbackModel, violation_ids: Sequence[int]
) -> dict[int, float]:
    """P(overturned) of each violation, by id."""
    if not violation_ids:
        return {}
    histories = agent_histories(db_session=db_session, tenant_id=tenant_id)
    violations = _load(db_session, tenant_id, Violation.id.in_(list(violation_ids)))
    findings = []
    for v in violations:
        evidence, context = _texts(v)
        agent = histories.get(v.conversation.employee.external_id, AgentHistory())
        findings.append(Finding(v.rule_id, evidence, context, bool(v.appeals), agent))
    return {v.id: p for v, p in zip(violations, model.score(findings), strict=True)}
