"""Transcription in the deep lane: a stored call with audio and no transcript gets one message per
utterance (ARCHITECTURE.md: ids ``seg-N``, role from the channel map, ``"source": "asr"``, a
``confidence``, the words' seconds) before its rules run.

Why outside any write transaction, then one short one: a call takes seconds to transcribe and on
SQLite a write transaction holds the only write lock the ingest (alert) path needs — the same
reason ``service.prepare`` analyses outside it. Why re-checked in the write transaction: two runs
of one call (a redelivery, the sweep) must not both add a transcript.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from qc_service.audio.asr import Progress, Transcriber, Utterance, transcribe_call
from qc_service.audio.asr_model import WhisperTranscriber, model_path
from qc_service.audio.decode import decode, resolve_audio_path
from qc_service.audio.errors import AudioError
from qc_service.config import Settings
from qc_service.conversations.models import Conversation, Message
from qc_service.db.session import write_transaction
from qc_service.pipeline.features import named_as_recorded
from qc_service.rules.analysis import StageError

_models: dict[tuple[str, str, int], Transcriber] = {}
_lock = threading.Lock()


def needs_transcript(channel: str, call: dict[str, Any] | None, texts: list[str]) -> bool:
    """A call with audio, no transcript segments and no message with text."""
    return (
        _recorded_call(channel, call)
        and not (call or {}).get("segments")
        and not any(t.strip() for t in texts)
    )


ASR_OFF = "this call has no transcript and transcription is off (QC_ASR=off)"


def transcription_due(session_factory: sessionmaker[Session], conversation_pk: int) -> bool:
    """Whether a run of this conversation would transcribe first (the lanes send such calls to
    their own queue or thread, so a long call never holds chats back). Every deep-lane run asks,
    so a chat costs one two-column read; only a call with audio loads its messages."""
    with session_factory() as db_session:
        row = db_session.execute(
            select(Conversation.channel, Conversation.call).where(
                Conversation.id == conversation_pk
            )
        ).one_or_none()
        if row is None or not _recorded_call(row.channel, row.call):
            return False
        conv = db_session.get(Conversation, conversation_pk)
        return conv is not None and _due(conv, again=False)


def _recorded_call(channel: str, call: dict[str, Any] | None) -> bool:
    return channel == "call" and bool((call or {}).get("audio"))


def machine_made(extra: dict[str, Any] | None) -> bool:
    return (extra or {}).get("source") == "asr"


def transcriber(settings: Settings) -> Transcriber:
    """The process's speech model, loaded once (the packaged one assembled on first use)."""
    key = (settings.asr_model, settings.asr_compute_type, settings.asr_threads)
    with _lock:
        if key not in _models:
            path = model_path(settings.asr_model, Path(settings.data_dir))
            _models[key] = WhisperTranscriber(
                path, compute_type=settings.asr_compute_type, cpu_threads=settings.asr_threads
            )
        return _models[key]


def transcribe_audio(
    call: dict[str, Any],
    *,
    base_dirs: list[Path],
    settings: Settings,
    progress: Progress | None = None,
) -> list[Utterance]:
    """Decode the call's recording and transcribe it (``AudioError`` names the file)."""
    audio = str(call["audio"])
    path = resolve_audio_path(audio, base_dirs=base_dirs)
    try:
        samples, rate = decode(
            path, max_seconds=settings.audio_max_seconds, max_bytes=settings.audio_max_bytes
        )
        return transcribe_call(samples, rate, call.get("channels"), transcriber(settings), progress)
    except AudioError as exc:
        raise AudioError(named_as_recorded(exc, path, audio)) from exc


def utterance_messages(
    utterances: list[Utterance], started_at: datetime | None, model: str
) -> list[dict[str, Any]]:
    """The record's messages for a transcript (ARCHITECTURE.md): ids ``seg-0…`` in time order,
    ``ts`` from ``started_at``, and the call fields a message keeps in its ``extra``."""
    return [
        {"id": f"seg-{i}", "role": u.role, "text": u.text,
         "ts": started_at + timedelta(seconds=u.start) if started_at else None,
         "start": u.start, "end": u.end, "source": "asr", "confidence": u.confidence,
         "asr_model": model, "words": [[w.start, w.end, w.text] for w in u.words]}
        for i, u in enumerate(utterances)
    ]  # fmt: skip


def transcribe_stored(
    session_factory: sessionmaker[Session],
    conversation_pk: int,
    settings: Settings,
    *,
    again: bool = False,
) -> StageError | None:
    """Give a stored call its machine transcript if it needs one (``again``: replace an earlier
    machine transcript, ``qc reanalyze --asr``; a human transcript is never replaced).

    Returns the ``asr`` stage's error (the run goes on: loudness findings still stand, the score
    is marked incomplete), or None."""
    with session_factory() as db_session:
        conv = db_session.get(Conversation, conversation_pk)
        if conv is None or not _due(conv, again):
            return None
        call = dict(conv.call or {})
    if settings.asr == "off":
        return StageError("asr", ASR_OFF)
    try:
        utterances = transcribe_audio(call, base_dirs=[Path(settings.data_dir)], settings=settings)
    except AudioError as exc:
        return StageError("asr", str(exc))
    model = transcriber(settings).name
    with write_transaction(session_factory) as db_session:
        conv = db_session.get(Conversation, conversation_pk)
        if conv is None or not _due(conv, again):
            return None  # another run transcribed it meanwhile
        save_transcript(db_session, conv, utterances, model)
    return None


def _due(conv: Conversation, again: bool) -> bool:
    if again:
        return _recorded_call(conv.channel, conv.call) and all(
            machine_made(m.extra) for m in conv.messages
        )
    return needs_transcript(conv.channel, conv.call, [m.text for m in conv.messages])


def save_transcript(
    db_session: Session, conv: Conversation, utterances: list[Utterance], model: str
) -> None:
    """Replace the call's machine-made messages with ``utterances`` (``utterance_messages``)."""
    for m in [m for m in conv.messages if machine_made(m.extra)]:
        conv.messages.remove(m)
    db_session.flush()
    last = db_session.scalar(
        select(func.max(Message.seq)).where(Message.conversation_id == conv.id)
    )
    seq = 0 if last is None else last + 1
    for i, m in enumerate(utterance_messages(utterances, conv.started_at, model)):
        conv.messages.append(Message(
            external_id=m.pop("id"), seq=seq + i, role=m.pop("role"), type="text",
            text=m.pop("text"), ts=m.pop("ts"), extra=m,
        ))  # fmt: skip
    db_session.flush()
