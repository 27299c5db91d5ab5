"""Signing webhook bodies, and the recipe a receiver uses to verify them.

Why sign ``f"{timestamp}.{body}"``: binding the timestamp into the MAC lets a receiver reject
replays older than a few minutes, and signing the exact bytes sent (not re-serialised JSON)
makes verification independent of the receiver's JSON library.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-QC-Signature`` value: ``sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>``."""
    message = timestamp.encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True if ``signature`` (the ``X-QC-Signature`` header) signs ``body`` at ``timestamp``
    (the ``X-QC-Timestamp`` header) and the timestamp is within ``tolerance`` seconds of now.

    Constant-time comparison; ``body`` must be the raw request bytes, before any JSON parsing.
    """
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    sent_at = int(timestamp)
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    expected = sign(secret, timestamp, body).encode("ascii")
    return hmac.compare_digest(expected, signature.strip().encode("utf-8"))
