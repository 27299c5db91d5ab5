"""API shapes of the review domain: violation pages and details, decisions, appeals, scores."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from qc_service.conversations.schemas import EvidenceOut, MessageOut


class ViolationBase(BaseModel):
    """Fields every violation view carries."""

    id: int
    conversation_id: str
    rule_id: str
    rule_version: int
    severity: str
    status: str = Field(description="open | appealed | upheld | overturned | confirmed")
    created_at: datetime
    employee_id: str
    team: str | None
    customer_id: str


class ViolationRead(ViolationBase):
    """A violation in a list."""

    decided_at: datetime | None
    appeal_window_closes_at: datetime


class ViolationQueueItem(ViolationRead):
    """A violation in the review queue."""

    overturn_risk: float | None = Field(
        None,
        description="P(overturned) from the tenant's feedback model; set for open and appealed "
        "violations when the page was ranked with `order=overturn_risk`, else null",
    )


class QueueRanking(BaseModel):
    """How a page asked for with ``order=overturn_risk`` was ordered."""

    order: Literal["newest", "overturn_risk"] = Field(
        description="the order applied: `overturn_risk` when the feedback model ranked the page, "
        "`newest` when it is off"
    )
    model_version: int | None = Field(description="the feedback model version consulted, if any")
    reason: str | None = Field(
        description="why the model is off (no model trained yet, or too little data); null when "
        "it ranked the page"
    )


class ViolationPage(BaseModel):
    """A page of violations; pass ``next`` as ``cursor`` for the following page."""

    items: list[ViolationQueueItem]
    total: int
    next: str | None
    ranking: QueueRanking | None = Field(
        None, description="null unless `order=overturn_risk` was asked for"
    )


class EvidenceWithContext(EvidenceOut):
    """Evidence plus the messages around it, as the reviewer reads it."""

    context: list[MessageOut] = Field(default_factory=list)


class AppealRead(BaseModel):
    """An agent's appeal and its decision."""

    id: int
    reason: str
    appellant: str
    created_at: datetime
    decision: str | None
    reviewer: str | None
    reason_code: str | None = None
    comment: str | None
    decided_at: datetime | None


class HistoryItem(BaseModel):
    """One audit event of the violation."""

    action: str
    actor: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime


class ViolationDetail(ViolationRead):
    """Everything a reviewer needs to decide."""

    deduct: int
    fatal: bool
    decided_by: str | None = Field(None, description="who decided (username, or `system`)")
    reason_code: str | None = Field(None, description="the decision's reason code")
    actions: list[dict[str, Any]]
    evidence: list[EvidenceWithContext]
    appeals: list[AppealRead]
    history: list[HistoryItem]


class AppealIn(BaseModel):
    """``{"reason"}``: why the agent disputes the finding."""

    model_config = ConfigDict(extra="forbid")  # server-owned fields (status, reviewer…) are refused

    reason: str = Field(min_length=1, max_length=4000)


class DecisionIn(BaseModel):
    """A reviewer's decision; ``severity`` may be changed when upholding."""

    model_config = ConfigDict(extra="forbid")  # server-owned fields (status, reviewer…) are refused

    decision: Literal["uphold", "overturn"]
    reason_code: str | None = Field(
        None,
        max_length=64,
        description="one of the tenant's reason codes (`GET /v1/review/reasons`); required for an "
        "overturn (422 `REASON_REQUIRED`); an uphold without one records `confirmed`",
    )
    comment: str | None = Field(None, max_length=4000)
    severity: Literal["low", "medium", "high", "critical"] | None = None
    expected_status: Literal["open", "appealed"] | None = Field(
        None,
        description="the status the decision was made on; if it changed meanwhile (someone "
        "decided first) the answer is 409 `ALREADY_DECIDED` and nothing changes",
    )


class ConfirmIn(BaseModel):
    """A reviewer's spot check of an open violation."""

    model_config = ConfigDict(extra="forbid")  # server-owned fields (status, reviewer…) are refused

    comment: str | None = Field(None, max_length=4000)


class ScoreGroup(BaseModel):
    """Scores of one agent, team or day."""

    key: str
    conversations: int
    mean_score: float
    passed: int
    pass_rate: float
    violations: int


class ScorePage(BaseModel):
    """Score aggregates."""

    group_by: str
    items: list[ScoreGroup]
    total: int
    next: str | None = None


class PrecisionEstimate(BaseModel):
    """A precision point estimate with its Wilson 95 % interval."""

    estimate: float
    low: float
    high: float
    judged: int = Field(description="the findings it is estimated from")


class RulePrecision(BaseModel):
    """One rule's findings by review status and its live precision."""

    rule_id: str
    findings: int
    open: int
    appealed: int
    upheld: int
    overturned: int
    confirmed: int
    reviewed: PrecisionEstimate | None = Field(
        description="upheld / (upheld + overturned): reviewer decisions only; null without any"
    )
    with_confirmed: PrecisionEstimate | None = Field(
        description="(upheld + confirmed) / (upheld + overturned + confirmed): confirmed "
        "(appeal window closed unappealed, or a spot check) counted as correct — optimistic"
    )


class PrecisionPage(BaseModel):
    """Live precision per rule."""

    items: list[RulePrecision]
    total: int
    next: str | None = None
