"""``qc retention purge``: delete conversations older than the retention period.

Why its own domain: a purge crosses conversations, review, alerts and tagging; none of those
should import the others for it. What goes: the conversation, its messages, audio files under
``QC_DATA_DIR`` (after the commit: ``PurgeReport.delete_files``), violations with their evidence and appeals, scores, alerts. What stays: the
customer and their tags, whose evidence entries pointing at a purged conversation are marked
``已按保留期删除``, and the audit trail. A conversation with an open appeal is kept until decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from qc_service.alerts.models import Alert
from qc_service.audio.decode import resolve_audio_path
from qc_service.audit.service import record
from qc_service.conversations.models import Conversation, Message
from qc_service.db.base import utcnow
from qc_service.review.models import Appeal, Evidence, Score, Violation
from qc_service.tagging.models import CustomerTag, TagHit

PURGED_NOTE = "已按保留期删除"
BATCH = 500


@dataclass(slots=True)
class PurgeReport:
    """What a purge removed (or, dry run, would remove)."""

    cutoff: datetime
    dry_run: bool
    conversations: int = 0
    messages: int = 0
    violations: int = 0
    kept_for_appeal: int = 0
    by_tenant: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    """Audio files of purged conversations: deleted by ``delete_files`` after the commit."""

    @property
    def audio_files(self) -> int:
        """How many recordings go with the purged conversations."""
        return len(self.files)

    def delete_files(self) -> None:
        """Remove the purged conversations' audio (call after the purge's transaction commits)."""
        if not self.dry_run:
            for path in self.files:
                path.unlink(missing_ok=True)

    def to_dict(self) -> dict[str, Any]:
        """For the audit event and the CLI."""
        return {"cutoff": self.cutoff.isoformat(), "dry_run": self.dry_run,
                "conversations": self.conversations, "messages": self.messages,
                "violations": self.violations, "audio_files": self.audio_files,
                "kept_for_appeal": self.kept_for_appeal, "by_tenant": self.by_tenant}  # fmt: skip


def _expired(cutoff: datetime) -> Any:
    at = func.coalesce(
        Conversation.last_message_at, Conversation.started_at, Conversation.created_at
    )
    return at < cutoff


def _open_appeal() -> Any:
    return exists().where(
        Violation.conversation_id == Conversation.id, Violation.status == "appealed"
    )


def purge(db_session: Session, *, days: int, data_dir: Path, dry_run: bool, actor: str,
          now: datetime | None = None) -> PurgeReport:  # fmt: skip
    """Delete (or count, ``dry_run``) conversations past ``days``; audited per tenant."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    report = PurgeReport(cutoff=cutoff, dry_run=dry_run)
    report.kept_for_appeal = (
        db_session.scalar(
            select(func.count(Conversation.id)).where(_expired(cutoff), _open_appeal())
        )
        or 0
    )
    doomed = db_session.execute(
        select(Conversation.id, Conversation.tenant_id, Conversation.external_id, Conversation.call)
        .where(_expired(cutoff), ~_open_appeal())
    ).all()  # fmt: skip
    for start in range(0, len(doomed), BATCH):
        chunk = doomed[start : start + BATCH]
        ids = [row.id for row in chunk]
        report.messages += db_session.scalar(
            select(func.count(Message.id)).where(Message.conversation_id.in_(ids))
        ) or 0  # fmt: skip
        vids = list(
            db_session.scalars(select(Violation.id).where(Violation.conversation_id.in_(ids)))
        )
        report.violations += len(vids)
        for row in chunk:
            report.by_tenant[row.tenant_id] = report.by_tenant.get(row.tenant_id, 0) + 1
        if not dry_run:
            _delete(db_session, ids, vids)
    report.conversations = len(doomed)
    report.files = _orphaned_audio(db_session, doomed, data_dir, dry_run=dry_run)
    if not dry_run and doomed:
        _mark_tag_evidence(db_session, {(row.tenant_id, row.external_id) for row in doomed})
    for tenant, n in sorted(report.by_tenant.items()):
        record(db_session, tenant_id=tenant, actor=actor, action="retention.purge",
               entity_type="conversations", entity_id=f"before {cutoff.date().isoformat()}",
               after={**report.to_dict(), "conversations": n, "by_tenant": None})  # fmt: skip
    return report


def _delete(db_session: Session, ids: list[int], vids: list[int]) -> None:
    """One batch of conversations with everything that hangs off them (not their customers)."""
    db_session.execute(delete(Alert).where(Alert.conversation_id.in_(ids)))
    if vids:
        db_session.execute(delete(Appeal).where(Appeal.violation_id.in_(vids)))
        db_session.execute(delete(Evidence).where(Evidence.violation_id.in_(vids)))
        db_session.execute(delete(Violation).where(Violation.id.in_(vids)))
    db_session.execute(delete(Score).where(Score.conversation_id.in_(ids)))
    db_session.execute(delete(Message).where(Message.conversation_id.in_(ids)))
    db_session.execute(delete(Conversation).where(Conversation.id.in_(ids)))


def _audio_path(audio: Any, data_dir: Path) -> Path | None:
    return (
        resolve_audio_path(audio, base_dirs=[data_dir]).resolve()
        if isinstance(audio, str) and audio
        else None
    )


def _orphaned_audio(
    db_session: Session, doomed: Any, data_dir: Path, *, dry_run: bool
) -> list[Path]:
    """Recordings of the purged conversations inside ``QC_DATA_DIR`` that no kept conversation
    still points at (a real run has already deleted the doomed rows in this transaction)."""
    root = data_dir.resolve()
    candidates = {p for row in doomed
                  if (p := _audio_path((row.call or {}).get("audio"), data_dir)) is not None
                  and p.is_file() and root in p.parents}  # fmt: skip
    if not candidates:
        return []
    audio = select(Conversation.call["audio"].as_string())
    if dry_run:
        audio = audio.where(Conversation.id.not_in([row.id for row in doomed]))
    kept = {_audio_path(a, data_dir) for (a,) in db_session.execute(audio)}
    return sorted(candidates - kept)


def _mark_tag_evidence(db_session: Session, purged: set[tuple[str, str]]) -> None:
    """Tags stay; evidence that pointed into a purged conversation says so."""
    tenants = {t for t, _ in purged}
    for tag in db_session.scalars(select(CustomerTag).where(CustomerTag.tenant_id.in_(tenants))):
        changed = False
        evidence = []
        for ev in tag.evidence or []:
            if isinstance(ev, dict) and (tag.tenant_id, ev.get("conversation_id")) in purged:
                ev = {**ev, "text": None, "purged": PURGED_NOTE}
                changed = True
            evidence.append(ev)
        if changed:
            tag.evidence = evidence
    for hit in db_session.scalars(select(TagHit).where(TagHit.tenant_id.in_(tenants))):
        conv_id = hit.hit_key.split("/", 1)[0]
        if (hit.tenant_id, conv_id) in purged and isinstance(hit.evidence, dict):
            hit.evidence = {**hit.evidence, "text": None, "purged": PURGED_NOTE}
