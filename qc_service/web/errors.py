"""One error shape for every HTTP answer, and a catch-all so nothing leaves as plain text.

Why here and not in each router: clients branch on ``error.code``; an unexpected failure is a 500
``INTERNAL`` whose ``error_id`` is in the server's log line, so a support call can find it. Pages
(a browser asking for HTML outside ``/v1``) get the same errors as an HTML page, or an htmx
fragment, and a GET without a login goes to ``/login?next=…`` (UI.md).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from qc_service.errors import QCError, printable
from qc_service.web.templating import render, wants_html

log = logging.getLogger("qc_service.web")


def error_body(code: str, message: str, *, field: str | None = None,
               error_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """``{"error": {code, message, field, record_id, rule_id, error_id}}``."""
    return {"error": {"code": code, "message": printable(message), "field": printable(field), "record_id": None,
                      "rule_id": None, "error_id": error_id}}  # fmt: skip


def _headers(exc: QCError) -> dict[str, str] | None:
    retry = getattr(exc, "retry_after", None)
    return {"Retry-After": str(retry)} if retry is not None else None


TITLES = {401: "请先登录", 403: "无权访问", 404: "未找到", 409: "操作冲突", 422: "输入有误",
          429: "请稍后再试", 500: "服务出错"}  # fmt: skip


def is_page(request: Request) -> bool:
    """A browser page request (not the JSON API)."""
    return not request.url.path.startswith("/v1/") and wants_html(request)


def page_error(request: Request, status: int, code: str, message: str, *,
               error_id: str | None = None, headers: dict[str, str] | None = None) -> Response:  # fmt: skip
    """The error as a page: a login redirect for a GET without a credential, an htmx fragment for
    htmx requests, else a full page with the status."""
    if code in ("AUTH_REQUIRED", "AUTH_INVALID") and request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
    context = {
        "title": TITLES.get(status, "出错了"),
        "message": message,
        "error_id": error_id,
        "code": code,
    }
    name = "error_fragment.html" if request.headers.get("hx-request") else "error.html"
    return render(request, name, context, status=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(QCError)
    async def qc_error(request: Request, exc: QCError) -> Response:
        if is_page(request):
            return page_error(request, exc.status, exc.code, exc.message, headers=_headers(exc))
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=_headers(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        err = exc.errors()[0]
        loc = [str(p) for p in err.get("loc", []) if p != "body"]
        if is_page(request) and request.url.path == "/login":  # the form again, nothing revealed
            return render(request, "login.html", {"error": "用户名或密码错误"}, status=422)
        if is_page(request):
            return page_error(request, 422, "REQUEST_INVALID", err.get("msg", "invalid request"))
        body = error_body("REQUEST_INVALID", err.get("msg", "invalid request"),
                          field=".".join(loc) or None)  # fmt: skip
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        if is_page(request):
            return page_error(request, exc.status_code, code, str(exc.detail))
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))  # fmt: skip

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        error_id = uuid.uuid4().hex[:12]
        log.error("unexpected error %s on %s %s", error_id, request.method, request.url.path,
                  exc_info=exc)  # fmt: skip
        message = f"unexpected error; quote error id {error_id}"
        if is_page(request):
            return page_error(request, 500, "INTERNAL", message, error_id=error_id)
        return JSONResponse(error_body("INTERNAL", message, error_id=error_id), status_code=500)
