"""Server-rendered pages: one Jinja2 environment and the static folder (the UI issues build on it).

Why here, on the low floor: every domain's ``pages.py`` renders through the same templates, error
pages and CSP; nothing loads from another host (UI.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self'"
templates = Jinja2Templates(directory=str(HERE / "templates"))


def render(request: Request, name: str, context: dict[str, Any], *, status: int = 200,
           headers: dict[str, str] | None = None) -> HTMLResponse:  # fmt: skip
    """A page with the CSP of UI.md (``default-src 'self'``); ``user`` is the logged-in caller, if
    any (the header shows their name, role and the 退出 button)."""
    context = {"user": getattr(request.state, "principal", None), **context}
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


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
