"""PII masking of every JSON answer, and of log lines (ACCESS.md, Personal data).

Why at the edge and not in each schema: "every response, for every role" is a property of the
door, not of forty response models; a new endpoint is masked without anyone remembering to. The
masks keep the length in code points, so evidence offsets in the same answer stay true. Only
JSON string values are touched (numbers and keys are left alone); an admin's ``?reveal=pii``
(authorized and audited by ``require``) turns it off for that request.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from qc_service.rules.contact import (
    DIGITISH,
    MIN_DIGITS,
    is_identifier_key,
    mask_pii,
    mask_text_value,
)

_STRING = re.compile(
    r'"(?P<key>(?:[^"\\]|\\.)*)"(?P<colon>\s*:\s*)(?P<value>"(?:[^"\\]|\\.)*")?'
    r'|(?P<lone>"(?:[^"\\]|\\.)*")'
)
_ISO_TIME = re.compile(r'"\d{4}-\d\d-\d\d(?:[T ][\d:.]+(?:Z|[+-]\d\d:?\d\d)?)?"')
_SECRETS = re.compile(r"(qct_)[A-Za-z0-9_\-]{8,}|(Bearer\s+)\S+", re.IGNORECASE)


def _mask_match(m: re.Match[str]) -> str:
    if m.group("lone") is not None:
        return _mask_literal(m.group("lone"))
    value = m.group("value")
    head = f'"{m.group("key")}"{m.group("colon")}'
    if value is None:  # a key whose value is not a string
        return head
    if is_identifier_key(m.group("key")):
        return head + value
    return head + _mask_literal(value)


def _mask_literal(literal: str) -> str:
    if len(literal) < 7 or _ISO_TIME.fullmatch(literal):
        return literal
    if "@" not in literal and len(DIGITISH.findall(literal)) < MIN_DIGITS:
        return literal
    value = json.loads(literal)
    masked = mask_text_value(value)
    return literal if masked == value else json.dumps(masked, ensure_ascii=False)


def mask_json_text(text: str) -> str:
    """Every string value of a JSON document masked, but identifiers (``is_identifier_key``) and
    keys; the document stays valid JSON."""
    return _STRING.sub(_mask_match, text)


class MaskingRoute(APIRoute):
    """An ``APIRoute`` whose JSON answers leave with PII masked unless revealed."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def masked(request: Request) -> Response:
            response = await handler(request)
            if getattr(request.state, "reveal_pii", False):
                return response
            if (response.media_type or "").startswith("application/json") or (
                response.headers.get("content-type", "").startswith("application/json")
            ):
                body = bytes(response.body)
                new = mask_json_text(body.decode("utf-8")).encode("utf-8")
                if new != body:
                    response.body = new
                    response.headers["content-length"] = str(len(new))
            return response

        return masked


def clean_log_text(message: str) -> str:
    """A log message with PII masked and bearer tokens redacted."""
    return _SECRETS.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", mask_pii(message))


_installed = False


def install_log_masking() -> None:
    """Every log record made in this process, from any library, is cleaned when it is created:
    its message, each of its arguments and its exception text. Idempotent.

    Why a record factory and not a handler filter: handlers come and go (uvicorn's, Celery's, a
    test's); the factory sees every record before any of them."""
    global _installed
    if _installed:
        return
    _installed = True
    base = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        try:
            # the message and each argument on its own: formatters that read ``args`` themselves
            # (uvicorn's access log) keep their structure
            if isinstance(record.msg, str):
                record.msg = clean_log_text(record.msg)
            if isinstance(record.args, tuple):
                record.args = tuple(
                    clean_log_text(a) if isinstance(a, str) else a for a in record.args
                )
            elif isinstance(record.args, dict):
                record.args = {
                    k: clean_log_text(v) if isinstance(v, str) else v
                    for k, v in record.args.items()
                }
            if record.exc_info and record.exc_info[0] is not None:
                record.exc_text = clean_log_text(
                    logging.Formatter().formatException(record.exc_info)
                )
        except Exception:  # noqa: BLE001 - masking must never stop a log line; say it was withheld
            record.msg, record.args, record.exc_text = (
                "[log line withheld: could not be masked]",
                None,
                None,
            )
            record.exc_info = None
        return record

    logging.setLogRecordFactory(factory)
