"""Ingest over HTTP: records, appended messages, close, and call recordings.

Why one router: these are the integrations' door (role ``integration`` or ``admin``); each call
stores before anything is analysed and answers per record. Uploads are streamed to
``QC_DATA_DIR`` in chunks and refused past ``QC_AUDIO_MAX_BYTES`` (nothing half-written is kept).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import JSONResponse

from qc_service.audio.errors import AudioError
from qc_service.audio.features import decode
from qc_service.conversations import schemas
from qc_service.conversations.schemas import ErrorOut
from qc_service.conversations.service import get_or_raise, mark_changed
from qc_service.db.session import write_transaction
from qc_service.errors import AudioInvalid, AudioTooLarge, QCError
from qc_service.identity.policy import Op, Scope
from qc_service.ingest import live
from qc_service.web.deps import RuntimeDep, StoreDep, require
from qc_service.web.masking import MaskingRoute

router = APIRouter(prefix="/v1/conversations", tags=["conversations"], route_class=MaskingRoute)
Ingest = Annotated[Scope, require(Op.INGEST)]
CHUNK = 1 << 20


@router.post(
    "",
    response_model=schemas.IngestResponse,
    responses={409: {"model": schemas.IngestResponse}, 422: {"model": schemas.IngestResponse}},
    summary="Ingest conversation records",
)
def ingest_records(body: schemas.IngestRequest, runtime: RuntimeDep, scope: Ingest) -> JSONResponse:
    """Store each record (idempotent merge by id), check its new messages against the hot-lane red
    lines (alerts go out on the stream) and queue it for deep analysis. Every record gets its own
    answer: ``accepted``, ``unchanged`` or ``rejected`` with the error. When every record is
    rejected the status is 409 (conflicting message text), 403 (every record named another
    tenant: ``TENANT_MISMATCH``) or 422 (invalid records); else 200. A record's tenant is the
    credential's. Records posted here stay open until closed (``"closed": true``, the close call,
    or idle)."""
    answers = [
        live.ingest_record(runtime, record, tenant=scope.tenant_id) for record in body.records
    ]
    out = schemas.IngestResponse(results=[schemas.RecordAnswerOut(**a.to_dict()) for a in answers])
    status = 200
    if all(a.status == "rejected" for a in answers):
        codes = {a.error["code"] if a.error else None for a in answers}
        status = {frozenset({"CONFLICT"}): 409, frozenset({"TENANT_MISMATCH"}): 403}.get(
            frozenset(codes), 422
        )
    return JSONResponse(out.model_dump(mode="json"), status_code=status)


@router.post(
    "/{conversation_id}/messages",
    response_model=schemas.AppendResponse,
    responses={
        404: {"model": schemas.ErrorOut},
        409: {"model": schemas.ErrorOut},
        422: {"model": schemas.ErrorOut},
    },
    summary="Append messages as they are sent",
)
def append_messages(
    conversation_id: str, body: schemas.AppendRequest, runtime: RuntimeDep, scope: Ingest
) -> schemas.AppendResponse:
    """New messages are stored, checked on the hot lane (an alert inside this call) and queued for
    a provisional deep run; known message ids are left alone (a different text is a 409); an
    append reopens a closed conversation."""
    out = live.append(
        runtime, tenant=scope.tenant_id, conversation_id=conversation_id, messages=body.messages
    )
    return schemas.AppendResponse(**out)


@router.post(
    "/{conversation_id}/close",
    response_model=schemas.CloseResponse,
    responses={404: {"model": schemas.ErrorOut}},
    summary="Close a conversation (final analysis)",
)
def close_conversation(
    conversation_id: str, runtime: RuntimeDep, scope: Ingest
) -> schemas.CloseResponse:
    """Operators that need the end of the conversation run on the final analysis this queues."""
    return schemas.CloseResponse(
        **live.close(runtime, tenant=scope.tenant_id, conversation_id=conversation_id)
    )


@router.post("/{conversation_id}/audio", responses={404: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
             summary="Upload the call recording")  # fmt: skip
async def upload_audio(
    conversation_id: str, store: StoreDep, runtime: RuntimeDep, scope: Ingest,
    file: Annotated[UploadFile, File(description="WAV, FLAC, OGG (MP3/AMR where the system decodes them)")],
) -> dict[str, object]:  # fmt: skip
    """Streamed to ``QC_DATA_DIR`` (refused past ``QC_AUDIO_MAX_BYTES``), checked by decoding,
    attached to the call, and the conversation is analysed again."""
    tenant = scope.tenant_id
    with store.session_factory() as db:
        conv = get_or_raise(db_session=db, tenant_id=tenant, external_id=conversation_id)
    suffix = Path(file.filename or "audio.wav").suffix.lower() or ".wav"
    relative = Path(tenant) / f"{conversation_id}-{uuid.uuid4().hex[:8]}{suffix}"
    target = store.settings.data_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with target.open("wb") as out:
            while chunk := await file.read(CHUNK):
                written += len(chunk)
                if written > store.settings.audio_max_bytes:
                    raise AudioTooLarge(f"{file.filename}: larger than the upload cap of {store.settings.audio_max_bytes} bytes",
                                        record_id=conversation_id)  # fmt: skip
                out.write(chunk)
        decode(
            target,
            max_seconds=store.settings.audio_max_seconds,
            max_bytes=store.settings.audio_max_bytes,
        )
    except AudioError as exc:
        target.unlink(missing_ok=True)
        raise AudioInvalid(
            str(exc).replace(str(target), file.filename or "upload"), record_id=conversation_id
        ) from None
    except QCError:
        target.unlink(missing_ok=True)
        raise
    with write_transaction(store.session_factory) as db:
        conv = get_or_raise(db_session=db, tenant_id=tenant, external_id=conversation_id)
        conv.call = {**(conv.call or {}), "audio": str(relative)}
        mark_changed(conv)
        pk = conv.id
    runtime.after_commit([], [pk])
    return {"id": conversation_id, "audio": str(relative), "bytes": written}
