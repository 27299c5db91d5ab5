"""One small exception tree for the service; the API maps it to one JSON error shape.

Why stable codes: clients (and tests) branch on ``code``, never on message text.
"""

from __future__ import annotations

from typing import Any


def printable(text: str | None) -> str | None:
    """``text`` with any lone surrogate (quoted from bad input: ``"\\ud800"`` is valid JSON) as
    ``?``, so an error that quotes it can still be encoded and sent."""
    if text is None or text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


class QCError(Exception):
    """Base of every error a user can see."""

    code = "ERROR"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        record_id: str | None = None,
        rule_id: str | None = None,
    ) -> None:
        message = printable(message) or ""
        super().__init__(message)
        self.message = message
        self.field = printable(field)
        self.record_id = printable(record_id)
        self.rule_id = printable(rule_id)

    def to_dict(self) -> dict[str, Any]:
        """``{"error": {"code", "message", "field", "record_id", "rule_id", "error_id"}}``."""
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "field": self.field,
                "record_id": self.record_id,
                "rule_id": self.rule_id,
                "error_id": None,
            }
        }


class NotFound(QCError):
    """The thing asked for does not exist (in this tenant)."""

    code = "NOT_FOUND"
    status = 404


class Conflict(QCError):
    """The request contradicts what is stored (a known message id with different text)."""

    code = "CONFLICT"
    status = 409


class RecordInvalid(QCError):
    """A record breaks the record contract."""

    code = "RECORD_INVALID"
    status = 422


class RuleInvalid(QCError):
    """A rule file or rule cannot be loaded."""

    code = "RULE_INVALID"
    status = 422


class AudioInvalid(QCError):
    """A recording cannot be used (missing, truncated, not audio, too long…)."""

    code = "AUDIO_INVALID"
    status = 422


class AudioTooLarge(QCError):
    """An upload over the configured cap."""

    code = "AUDIO_TOO_LARGE"
    status = 413


class InvalidTransition(QCError):
    """A violation cannot move from its status to the requested one."""

    code = "INVALID_TRANSITION"
    status = 409


class ReasonRequired(QCError):
    """An overturn without a reason code (UI.md: the review page's 理由)."""

    code = "REASON_REQUIRED"
    status = 422


class AlreadyDecided(QCError):
    """Someone decided the violation after the caller's form was shown (a stale form)."""

    code = "ALREADY_DECIDED"
    status = 409


class BacktestRequired(QCError):
    """发布 of a draft with no finished backtest of exactly that draft (UI.md: the rule editor)."""

    code = "BACKTEST_REQUIRED"
    status = 409
