"""Call audio as a pure library: decode, loudness, voice activity, silence/overtalk, speech rate.

Why pure: the pipeline's audio stage, the reviewer's chart and the benchmarks all call the same
functions on arrays and files; nothing here imports a database, web or CRM module (numpy, scipy,
soundfile and pyloudnorm only).

``decode`` a file, ``analyze_call`` the samples (a channel map for dual-channel calls, transcript
segments for mono ones), then ask the ``CallFeatures`` for loud stretches, silences, overtalks and
segment loudness; ``speech_rates`` needs only the transcript.
"""

from qc_service.audio.errors import AudioError
from qc_service.audio.features import (
    HOP_SECONDS,
    CallFeatures,
    Segment,
    SpeakerFeatures,
    Stretch,
    analyze_call,
    decode,
    speech_rates,
)

__all__ = [
    "HOP_SECONDS",
    "AudioError",
    "CallFeatures",
    "Segment",
    "SpeakerFeatures",
    "Stretch",
    "analyze_call",
    "decode",
    "speech_rates",
]
