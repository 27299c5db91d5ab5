"""Server-rendered pages: one Jinja2 environment and the static folder (the UI issues build on it).

Why here, on the low floor: every domain's ``pages.py`` renders through the same templates, error
pages and CSP; nothing loads from another host (UI.md).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.staticfiles import StaticFiles
from starlette.types import Scope as AsgiScope

from qc_service.rules.contact import mask_text_value
from qc_service.web import messages

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self'"
templates = Jinja2Templates(directory=str(HERE / "templates"))


def _finalize(value: object) -> object:
    """Every ``{{ }}`` output of every page leaves with PII masked (ACCESS.md: every page), like
    the JSON answers; masks keep the length, so evidence offsets stay true."""
    if isinstance(value, str) and not isinstance(value, Markup):  # Markup was built masked
        return mask_text_value(value)
    return value


@cache
def static_url(name: str) -> str:
    """``/static/<name>?v=<content hash>``: the file can be cached for a year (``LongCacheStatic``)
    and a new release still reaches every browser."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


class LongCacheStatic(StaticFiles):
    """Static assets with a year's ``Cache-Control``: vendored files have versioned paths and our
    own are referenced with a content hash (``static_url``)."""

    async def get_response(self, path: str, scope: AsgiScope) -> Any:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


templates.env.finalize = _finalize
templates.env.globals.update(static_url=static_url, m=messages, ui=messages.UI)
templates.env.filters.update(mmss=messages.mmss, percent=messages.percent, jump=messages.jump_label,
                            segment_leaf=messages.segment_leaf)  # fmt: skip


def render(request: Request, name: str, context: dict[str, Any], *, status: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:  # fmt: skip
    """A page with the CSP of UI.md (``default-src 'self'``); ``user`` is the logged-in caller, if
    any (the header shows their name, role and the 退出 button)."""
    context = {"user": getattr(request.state, "principal", None), **context}
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def query_string(request: Request, drop: str = "") -> str:
    """The page's filters as a query string (URL-encoded) for the links that keep them."""
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if v and k != drop])


def same_origin(request: Request) -> bool:
    """A browser form post from this site (or a non-browser client): not a cross-site request.

    Why for the login: it has no session yet, so no CSRF token; a cross-site page must not be able
    to log a victim into an attacker's account. Browsers send ``Sec-Fetch-Site`` and ``Origin``."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if origin is None:  # browsers send it with every form post; its absence means another client
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")  # "null" never matches


def wants_html(request: Request) -> bool:
    """A browser (asks for HTML) rather than an API client."""
    return "text/html" in request.headers.get("accept", "")
