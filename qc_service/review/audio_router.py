"""Call audio for reviewers: the clip of an evidence stretch and a loudness chart with the
stretches the findings flagged.

Why cut a clip: recordings are large; a clip is cut from the decoded call rather than sending the
whole file to the reviewer's browser. (Uploads are ingest's: ``ingest.router``.)
"""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path
from typing import Annotated

import numpy as np
import soundfile as sf
from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response
from sqlalchemy import select

from qc_service.audio.decode import resolve_audio_path
from qc_service.audio.errors import AudioError
from qc_service.audio.features import CallFeatures, Segment, analyze_call, decode
from qc_service.conversations.models import Conversation
from qc_service.conversations.schemas import ErrorOut
from qc_service.conversations.scope import visible_conversation
from qc_service.errors import AudioInvalid, NotFound, QCError
from qc_service.identity.policy import Op, Scope
from qc_service.review.models import Evidence, Violation
from qc_service.store import Store
from qc_service.web.deps import DbSession as DbDep
from qc_service.web.deps import StoreDep, require
from qc_service.web.masking import MaskingRoute

router = APIRouter(prefix="/v1/conversations", tags=["audio"], route_class=MaskingRoute)
ReadConversation = Annotated[Scope, require(Op.CONVERSATIONS_READ)]


def _audio_path(store: Store, conv: Conversation) -> Path:
    audio = (conv.call or {}).get("audio")
    if not audio:
        raise NotFound(
            f"conversation {conv.external_id!r} has no audio", record_id=conv.external_id
        )
    return resolve_audio_path(str(audio), base_dirs=[store.settings.data_dir])


def _decode(store: Store, conv: Conversation) -> tuple[np.ndarray, int]:  # type: ignore[type-arg]
    try:
        return decode(_audio_path(store, conv), max_seconds=store.settings.audio_max_seconds,
                      max_bytes=store.settings.audio_max_bytes)  # fmt: skip
    except AudioError as exc:
        raise AudioInvalid(str(exc), record_id=conv.external_id) from None


@router.get("/{conversation_id}/audio", responses={200: {"content": {"audio/wav": {}}}, 404: {"model": ErrorOut},
            422: {"model": ErrorOut}}, summary="The recording (or a stretch of it) as WAV")  # fmt: skip
def get_audio_clip(
    conversation_id: str, db: DbDep, scope: ReadConversation, store: StoreDep,
    start: Annotated[float | None, Query(ge=0, description="seconds")] = None,
    end: Annotated[float | None, Query(ge=0, description="seconds")] = None,
) -> Response:  # fmt: skip
    """The evidence stretch ``start``–``end`` (seconds), all channels, as 16-bit WAV."""
    conv = visible_conversation(db, scope, conversation_id)
    samples, rate = _decode(store, conv)
    lo = int(max(0.0, start or 0.0) * rate)
    hi = len(samples) if end is None else min(len(samples), int(end * rate))
    if hi <= lo:
        raise QCError(
            "end must be after start, inside the recording", field="end", record_id=conversation_id
        )
    buf = io.BytesIO()
    sf.write(buf, samples[lo:hi], rate, format="WAV", subtype="PCM_16")
    return Response(buf.getvalue(), media_type="audio/wav")


def _features(store: Store, conv: Conversation) -> CallFeatures:
    samples, rate = _decode(store, conv)
    segments = [
        Segment(s["role"], float(s["start"]), float(s["end"]), s.get("text", ""))
        for s in (conv.call or {}).get("segments", [])
    ]
    try:
        return analyze_call(
            samples, rate, channels=(conv.call or {}).get("channels"), segments=segments or None
        )
    except AudioError as exc:
        raise AudioInvalid(str(exc), record_id=conv.external_id) from None


_MEDIA = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".opus": "audio/ogg",
          ".m4a": "audio/mp4", ".flac": "audio/flac", ".webm": "audio/webm"}  # fmt: skip


@router.get("/{conversation_id}/recording", responses={200: {"content": {"audio/wav": {}}}, 206: {"description": "a byte range"},
            404: {"model": ErrorOut}}, summary="The whole recording, with HTTP Range (the review page's player)")  # fmt: skip
def get_recording(
    conversation_id: str, db: DbDep, scope: ReadConversation, store: StoreDep
) -> Response:
    """The original file as stored, answering ``Range`` requests with 206, so a player seeks to any
    second of a two-hour call without downloading or decoding the rest."""
    path = _audio_path(store, visible_conversation(db, scope, conversation_id))
    if not path.is_file():
        raise NotFound(f"the recording of {conversation_id!r} is gone", record_id=conversation_id)
    return FileResponse(path, media_type=_MEDIA.get(path.suffix.lower(), "application/octet-stream"),
                        headers={"Cache-Control": "private, max-age=3600"})  # fmt: skip


@router.get("/{conversation_id}/loudness.svg", responses={200: {"content": {"image/svg+xml": {}}}, 404: {"model": ErrorOut}},
            summary="Both channels' loudness over time, threshold and flagged stretches")  # fmt: skip
def get_loudness_chart(
    conversation_id: str, db: DbDep, scope: ReadConversation, store: StoreDep,
    threshold: Annotated[float, Query(description="dBFS line to draw")] = -10.0,
) -> Response:  # fmt: skip
    """Momentary loudness (400 ms) of agent and customer; the stretches flagged by audio evidence
    of this conversation's violations are shaded."""
    conv = visible_conversation(db, scope, conversation_id)
    flagged = [(a, b) for a, b in db.execute(
        select(Evidence.t_start, Evidence.t_end)
        .join(Violation, Evidence.violation_id == Violation.id)
        .where(Violation.conversation_id == conv.id, Evidence.kind == "audio")
    ).all() if a is not None and b is not None]  # fmt: skip
    path = _audio_path(store, conv)
    stat = path.stat() if path.is_file() else None
    key = hashlib.sha256(repr((str(path), stat and (stat.st_size, stat.st_mtime_ns), threshold,
                               sorted(flagged))).encode()).hexdigest()[:32]  # fmt: skip
    cached = store.settings.data_dir / "cache" / "loudness" / f"{key}.svg"
    if cached.is_file():  # computed once per recording and findings: a 2-hour call is decoded once
        return Response(cached.read_bytes(), media_type="image/svg+xml",
                        headers={"Cache-Control": "private, max-age=300"})  # fmt: skip
    svg = render_loudness_svg(_features(store, conv), threshold, flagged).encode("utf-8")
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{uuid.uuid4().hex}.tmp")  # concurrent first requests
    tmp.write_bytes(svg)
    tmp.replace(cached)
    return Response(
        svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=300"}
    )


def render_loudness_svg(
    features: CallFeatures, threshold: float, flagged: list[tuple[float, float]]
) -> str:
    """A small self-contained SVG chart (no plotting library needed in the API)."""
    width, height, pad, floor = 900, 260, 40, -70.0
    duration = max(features.duration, 0.1)

    def x(t: float) -> float:
        return pad + (width - 2 * pad) * t / duration

    def y(db: float) -> float:
        return pad + (height - 2 * pad) * (min(0.0, max(floor, db)) / floor)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             '<rect width="100%" height="100%" fill="white"/>']  # fmt: skip
    for a, b in flagged:
        parts.append(
            f'<rect x="{x(a):.1f}" y="{pad}" width="{max(1.0, x(b) - x(a)):.1f}" height="{height - 2 * pad}" fill="#f8c4c4"/>'
        )
    colours = {"agent": "#1f5fbf", "customer": "#2e8b57"}
    for role, sp in features.speakers.items():
        step = max(1, len(sp.frame_times) // 1500)
        points = " ".join(
            f"{x(float(t)):.1f},{y(float(d)):.1f}"
            for t, d in zip(sp.frame_times[::step], sp.momentary_dbfs[::step], strict=True)
        )
        parts.append(
            f'<polyline fill="none" stroke="{colours.get(role, "#555")}" stroke-width="1.2" points="{points}"><title>{role}</title></polyline>'
        )
    parts.append(
        f'<line x1="{pad}" x2="{width - pad}" y1="{y(threshold):.1f}" y2="{y(threshold):.1f}" stroke="#d00" stroke-dasharray="6 4"/>'
    )
    parts.append(
        f'<text x="{width - pad}" y="{y(threshold) - 4:.1f}" font-size="11" text-anchor="end" fill="#d00">{threshold:g} dBFS</text>'
    )
    parts.append(
        f'<text x="{pad}" y="{pad - 12}" font-size="12">agent (blue), customer (green) — momentary loudness, dBFS; {duration:.1f} s</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
