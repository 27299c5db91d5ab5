"""The one exception of the audio library.

Why one class: callers (the pipeline's audio stage, the upload endpoint) treat every kind of bad
recording the same way — report it and go on with the transcript — so the message carries the
detail, not the type.
"""

from __future__ import annotations


class AudioError(Exception):
    """Bad audio; ``str(e)`` names the file and the problem.

    Examples
    --------
    ``audio/conv-2.wav: not a valid WAV file (truncated header)``
    """
