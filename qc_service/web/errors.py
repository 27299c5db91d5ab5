"""One error shape for every HTTP answer, and a catch-all so nothing leaves as plain text.

Why here and not in each router: clients branch on ``error.code``; an unexpected failure is a 500
``INTERNAL`` whose ``error_id`` is in the server's log line, so a support call can find it.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qc_service.errors import QCError

log = logging.getLogger("qc_service.web")


def error_body(code: str, message: str, *, field: str | None = None,
               error_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """``{"error": {code, message, field, record_id, rule_id, error_id}}``."""
    return {"error": {"code": code, "message": message, "field": field, "record_id": None,
                      "rule_id": None, "error_id": error_id}}  # fmt: skip


def _headers(exc: QCError) -> dict[str, str] | None:
    retry = getattr(exc, "retry_after", None)
    return {"Retry-After": str(retry)} if retry is not None else None


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(QCError)
    async def qc_error(_request: Request, exc: QCError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=_headers(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        err = exc.errors()[0]
        loc = [str(p) for p in err.get("loc", []) if p != "body"]
        body = error_body("REQUEST_INVALID", err.get("msg", "invalid request"),
                          field=".".join(loc) or None)  # fmt: skip
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))  # fmt: skip

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        log.error("unexpected error %s on %s %s", error_id, request.method, request.url.path,
                  exc_info=exc)  # fmt: skip
        body = error_body("INTERNAL", f"unexpected error; quote error id {error_id}",
                          error_id=error_id)  # fmt: skip
        return JSONResponse(body, status_code=500)
