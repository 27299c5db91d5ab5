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
    """A page with the CSP of UI.md (``default-src 'self'``)."""
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = CSP
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def wants_html(request: Request) -> bool:
    """A browser (asks for HTML) rather than an API client."""
    return "text/html" in request.headers.get("accept", "")
