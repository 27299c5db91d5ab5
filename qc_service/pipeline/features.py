"""Feature providers: compute what a rule set needs before it is evaluated (audio, sentiment,
sentence embeddings), once per run, in the deep lane and ``qc analyze`` only.

Why here and not in the operators: operators only read features; decoding a recording and
measuring it is the pipeline's job, done once per run, and a bad recording is an error of the
``audio`` stage only — the transcript is still analysed and the other findings still stand.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qc_service.audio.decode import resolve_audio_path
from qc_service.audio.errors import AudioError
from qc_service.audio.features import Segment, analyze_call, decode
from qc_service.config import Settings
from qc_service.nlp.embeddings import CachedEncoder, load_encoder
from qc_service.nlp.semantic import Calibration, SemanticIndex, load_calibration
from qc_service.rules.analysis import StageError
from qc_service.rules.compiled import RuleSet, iter_leaves
from qc_service.rules.model import Conversation
from qc_service.rules.normalize import fold_keep_clauses

if TYPE_CHECKING:  # scikit-learn costs ~1 s to import: only processes that score sentiment pay it
    from qc_service.nlp.sentiment import SentimentModel

AUDIO_OPERATORS = frozenset({"loudness", "silence", "overtalk", "duration"})
_sentiment_model: SentimentModel | None = None
_sentiment_lock = threading.Lock()
_encoders: dict[str, tuple[CachedEncoder, Calibration]] = {}
_encoder_lock = threading.Lock()


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
        message = named_as_recorded(exc, path, audio)
        return {"audio_error": message}, [StageError("audio", message)]


def named_as_recorded(exc: AudioError, path: Path, audio: str) -> str:
    """The error naming the file as the record does (``audio/conv-2.wav: …``), not where it was
    found on this machine."""
    text = str(exc).replace(str(path), audio)
    return text if text.startswith(audio) else f"{audio}: {text}"


def sentiment_model() -> SentimentModel:
    """The shipped sentiment model, loaded once per process (deep lane only, never on the alert path)."""
    global _sentiment_model
    with _sentiment_lock:
        if _sentiment_model is None:
            from qc_service.nlp.sentiment import SentimentModel  # noqa: PLC0415

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


def encoder(model: str, cache_size: int) -> tuple[CachedEncoder, Calibration]:
    """The process's encoder for ``model`` (cached vectors) and its calibration, loaded once."""
    with _encoder_lock:
        if model not in _encoders:
            calibration = load_calibration(model)  # before the model: a missing one fails fast
            _encoders[model] = (CachedEncoder(load_encoder(model), maxsize=cache_size), calibration)
        return _encoders[model]


def semantic_features(
    conversation: Conversation,
    *,
    model: str,
    cache_size: int,
    examples: list[tuple[str, ...]] | None = None,
) -> tuple[dict[str, Any], list[StageError]]:
    """``{"semantic": SemanticIndex}``: every non-system message's sentences embedded in one
    batch, and the rules' examples embedded (once per process and example list) before any rule
    runs, so the operator only compares."""
    try:
        enc, calibration = encoder(model, cache_size)
        messages = [(m.id, m.text) for m in conversation.messages if m.role != "system"]
        index = SemanticIndex.build(enc, calibration, messages, fold=fold_keep_clauses)
        for example_list in examples or []:
            index.prepare(example_list)
    except Exception as exc:  # noqa: BLE001 - a failed model is a visible stage error
        message = f"embedding model {model!r} failed: {exc}"
        return {"semantic_error": message}, [StageError("semantic", message)]
    return {"semantic": index}, []


def compute_features(
    ruleset: RuleSet,
    conversation: Conversation,
    call: dict[str, Any] | None,
    *,
    base_dirs: list[Path],
    settings: Settings,
) -> tuple[dict[str, Any], list[StageError]]:
    """Every feature the enabled rules read (one pass over their conditions), with the errors of
    the stages that failed."""
    features: dict[str, Any] = {}
    errors: list[StageError] = []
    leaves = [leaf for rule in ruleset.rules if rule.enabled for leaf in iter_leaves(rule.when)]
    ops = {leaf.op for leaf in leaves}
    if ops & AUDIO_OPERATORS:
        more, errs = audio_features(
            conversation, call, base_dirs=base_dirs,
            max_seconds=settings.audio_max_seconds, max_bytes=settings.audio_max_bytes,
        )  # fmt: skip
        features.update(more)
        errors += errs
    if "sentiment" in ops:
        more, errs = sentiment_features(conversation)
        features.update(more)
        errors += errs
    if "semantic" in ops:
        more, errs = semantic_features(
            conversation,
            model=settings.embedding_model,
            cache_size=settings.embedding_cache_size,
            examples=[tuple(leaf.params["examples"]) for leaf in leaves if leaf.op == "semantic"],
        )
        features.update(more)
        errors += errs
    return features, errors
