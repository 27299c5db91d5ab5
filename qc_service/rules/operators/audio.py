"""Handlers of the audio operators: ``loudness``, ``silence``, ``overtalk``, ``speech_rate``.

Why they only read: the pipeline's feature provider decodes the call and computes its features
with ``qc_service.audio`` (a pure library) and hands them over as ``features["audio"]``; an
operator never touches a file. A call whose recording failed gets a per-stage error from these
operators, never a silent "no violation"; chats and transcript-only calls have nothing to hear.
"""

from __future__ import annotations

from qc_service.audio.features import CallFeatures, Segment, Stretch, speech_rates
from qc_service.rules.compiled import EvalContext, Leaf
from qc_service.rules.model import Evidence
from qc_service.rules.operators import schemas  # noqa: F401  (specs are registered before handlers)
from qc_service.rules.registry import REGISTRY, OperatorUnavailable

Outcome = tuple[bool, list[Evidence]]
UNITS = {
    "loudness": "dBFS",
    "loudness_relative": "dB",
    "silence": "s",
    "overtalk": "s",
    "speech_rate": "chars/min",
}


def call_features(ctx: EvalContext, op: str) -> CallFeatures | None:
    """The call's audio features; None for chats and for calls recorded without audio; an error
    when the call's recording could not be used."""
    if ctx.conversation.channel != "call":
        return None
    features = ctx.features.get("audio")
    if isinstance(features, CallFeatures):
        return features
    if ctx.features.get("audio_error"):
        raise OperatorUnavailable(f"{op}: {ctx.features['audio_error']}", stage="audio")
    return None


def audio_evidence(
    ctx: EvalContext, stretch: Stretch, role: str | None, unit: str
) -> list[Evidence]:
    """Kind ``audio`` evidence for a stretch, plus the transcript segments at that time."""
    out = [Evidence("audio", role=role, t_start=round(stretch.start, 2), t_end=round(stretch.end, 2),
                    value=None if stretch.value is None else round(stretch.value, 2), unit=unit)]  # fmt: skip
    for msg in ctx.conversation.messages:
        if (
            msg.start is None
            or msg.end is None
            or msg.end < stretch.start
            or msg.start > stretch.end
        ):
            continue
        out.append(
            Evidence("message", msg.id, msg.role, text=msg.text, t_start=msg.start, t_end=msg.end)
        )
    return out


def _roles(leaf: Leaf) -> list[str]:
    return ["agent", "customer"] if leaf.role == "any" else [leaf.role]


@REGISTRY.conversation_handler("loudness")
def loudness(leaf: Leaf, ctx: EvalContext) -> Outcome:
    """The role's audio stays louder than the bound (absolute dBFS, or dB over its own median)."""
    features = call_features(ctx, "loudness")
    if features is None:
        return False, []
    evidence: list[Evidence] = []
    relative = "over_baseline_db" in leaf.params
    for role in _roles(leaf):
        if role not in features.speakers:
            continue
        stretches = features.loud_stretches(
            role, over_dbfs=leaf.params.get("over_dbfs"), over_baseline_db=leaf.params.get("over_baseline_db"),
            min_seconds=leaf.params["min_seconds"],
        )  # fmt: skip
        for st in stretches:
            evidence += audio_evidence(
                ctx, st, role, UNITS["loudness_relative" if relative else "loudness"]
            )
    return bool(evidence), evidence


@REGISTRY.conversation_handler("silence")
def silence(leaf: Leaf, ctx: EvalContext) -> Outcome:
    """Both parties silent longer than ``over_seconds`` between the first and last speech."""
    features = call_features(ctx, "silence")
    if features is None:
        return False, []
    evidence: list[Evidence] = []
    for st in features.silences:
        if st.end - st.start > leaf.params["over_seconds"]:
            evidence += audio_evidence(ctx, st, None, UNITS["silence"])
    return bool(evidence), evidence


@REGISTRY.conversation_handler("overtalk")
def overtalk(leaf: Leaf, ctx: EvalContext) -> Outcome:
    """Both speak at once longer than ``over_seconds`` (``by``: only when that role interrupted)."""
    features = call_features(ctx, "overtalk")
    if features is None:
        return False, []
    by = leaf.params.get("by")
    evidence: list[Evidence] = []
    for st in features.overtalks:
        if st.end - st.start > leaf.params["over_seconds"] and (by is None or st.by == by):
            evidence += audio_evidence(ctx, st, st.by, UNITS["overtalk"])
    return bool(evidence), evidence


@REGISTRY.conversation_handler("speech_rate")
def speech_rate(leaf: Leaf, ctx: EvalContext) -> Outcome:
    """A turn (≥ 10 characters) of the role spoken faster/slower than the bound (chars/min), from
    the transcript segments' times — no audio needed."""
    segments = [
        Segment(m.role, m.start, m.end, m.text)
        for m in ctx.conversation.messages
        if m.start is not None and m.end is not None and m.role != "system"
    ]
    if not segments:
        return False, []
    over, under = leaf.params.get("over_cpm"), leaf.params.get("under_cpm")
    evidence: list[Evidence] = []
    for st in speech_rates(segments):
        if leaf.role != "any" and st.by != leaf.role:
            continue
        if st.value is not None and (
            (over is not None and st.value > over) or (under is not None and st.value < under)
        ):
            evidence += audio_evidence(ctx, st, st.by, UNITS["speech_rate"])
    return bool(evidence), evidence
