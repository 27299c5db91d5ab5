"""Feature providers: compute what a rule set needs before it is evaluated (audio for now).

Why here and not in the operators: operators only read features; decoding a recording and
measuring it is the pipeline's job, done once per run, and a bad recording is an error of the
``audio`` stage only — the transcript is still analysed and the other findings still stand.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from qc_service.audio.errors import AudioError
from qc_service.audio.features import Segment, analyze_call, decode
from qc_service.nlp.sentiment import SentimentModel
from qc_service.rules.analysis import StageError
from qc_service.rules.compiled import RuleSet, iter_leaves
from qc_service.rules.model import Conversation

AUDIO_OPERATORS = frozenset({"loudness", "silence", "overtalk", "duration"})
_sentiment_model: SentimentModel | None = None
_sentiment_lock = threading.Lock()


def needs_audio(ruleset: RuleSet) -> bool:
    """Whether any enabled rule reads audio features."""
    return any(
        leaf.op in AUDIO_OPERATORS
        for rule in ruleset.rules
        if rule.enabled
        for leaf in iter_leaves(rule.when)
    )


def resolve_audio_path(audio: str, *, base_dirs: list[Path]) -> Path:
    """An absolute path as is; a relative one against the records file's folder or QC_DATA_DIR."""
    path = Path(audio)
    if path.is_absolute():
        return path
    for base in base_dirs:
        candidate = base / path
        if candidate.exists():
            return candidate
    return base_dirs[0] / path if base_dirs else path


def audio_features(
    conversation: Conversation,
    call: dict[str, Any] | None,
    *,
    base_dirs: list[Path],
    max_seconds: float,
    max_bytes: int,
) -> tuple[dict[str, Any], list[StageError]]:
    """``{"audio": CallFeatures}`` for a call with a recording, or the audio stage's error."""
    if conversation.channel != "call" or not call or not call.get("audio"):
        return {}, []
    audio = str(call["audio"])
    path = resolve_audio_path(audio, base_dirs=base_dirs)
    try:
        samples, rate = decode(path, max_seconds=max_seconds, max_bytes=max_bytes)
        segments = [
            Segment(m.role, m.start, m.end, m.text)
            for m in conversation.messages
            if m.start is not None and m.end is not None
        ]
        return {
            "audio": analyze_call(
                samples, rate, channels=call.get("channels"), segments=segments or None
            )
        }, []
    except AudioError as exc:
        # name the file as the record does ("audio/conv-2.wav: …"), not where it was found
        text = str(exc).replace(str(path), audio)
        message = text if text.startswith(audio) else f"{audio}: {text}"
        return {"audio_error": message}, [StageError("audio", message)]


def needs_sentiment(ruleset: RuleSet) -> bool:
    """Whether any enabled rule reads sentiment values."""
    return any(
        leaf.op == "sentiment"
        for rule in ruleset.rules
        if rule.enabled
        for leaf in iter_leaves(rule.when)
    )


def sentiment_model() -> SentimentModel:
    """The shipped sentiment model, loaded once per process (deep lane only, never on the alert path)."""
    global _sentiment_model
    with _sentiment_lock:
        if _sentiment_model is None:
            _sentiment_model = SentimentModel.load()
        return _sentiment_model


def sentiment_features(conversation: Conversation) -> tuple[dict[str, Any], list[StageError]]:
    """``{"sentiment": {message id: value in −1…1}}`` for every non-system message."""
    messages = [m for m in conversation.messages if m.role != "system"]
    if not messages:
        return {"sentiment": {}}, []
    try:
        values = sentiment_model().score([m.text for m in messages])
    except Exception as exc:  # noqa: BLE001 - a failed model is a visible stage error
        return {"sentiment_error": f"sentiment model failed: {exc}"}, [
            StageError("sentiment", f"sentiment model failed: {exc}")
        ]
    return {"sentiment": {m.id: float(v) for m, v in zip(messages, values, strict=True)}}, []
