"""Records from files (``qc ingest``, ``qc demo``, tests): store, then analyse right here.

Why in the pipeline: a file's records are final and analysed synchronously in the calling
process, which is the pipeline's work; the ingest domain only validates and stores
(``ingest.service.store_record``) and never imports the pipeline.
"""

from __future__ import annotations

from typing import Any

from qc_service.ingest.service import RecordAnswer, store_record
from qc_service.pipeline.service import analyze_conversation
from qc_service.store import Store


def ingest_one(store: Store, data: Any, *, line: int | None = None, final: bool) -> RecordAnswer:
    """Validate, store and analyse one record."""
    answer, pk = store_record(store, data, line=line, final=final)
    if pk is None:
        return answer
    analysis = analyze_conversation(
        session_factory=store.session_factory, conversation_pk=pk, settings=store.settings
    )
    answer.conversation_status = "failed" if analysis is None else "analysed"
    if analysis is not None:
        answer.findings = {
            "violations": len(analysis.violations),
            "tags": len(analysis.tags),
            "errors": len(analysis.errors),
        }
    return answer
