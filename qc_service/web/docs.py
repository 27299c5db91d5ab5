"""The OpenAPI spec and its interactive docs, behind the door like everything else.

Why not FastAPI's defaults: they answer anyone (ACCESS.md allows no anonymous access but health,
the login page and its static assets). Any authenticated user may read the contract.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from qc_service.identity.policy import Op, Scope
from qc_service.web.deps import require
from qc_service.web.masking import MaskingRoute
from qc_service.web.templating import CSP, render

router = APIRouter(tags=["ops"], include_in_schema=False, route_class=MaskingRoute)
Reader = Annotated[Scope, require(Op.SELF_READ)]


@router.get("/openapi.json")
def openapi_spec(request: Request, _scope: Reader) -> JSONResponse:
    """The OpenAPI document (each operation's policy in ``x-qc-operation``)."""
    spec: dict[str, Any] = request.app.openapi()
    return JSONResponse(spec)


DOCS_CSP = f"{CSP}; img-src 'self' data:"
"""Swagger UI's stylesheet draws its icons as ``data:`` images; nothing leaves the host."""


@router.get("/docs")
def swagger_ui(request: Request, _scope: Reader) -> HTMLResponse:
    """Swagger UI on the spec, from the vendored ``swagger-ui-dist`` (works on a closed network)."""
    return render(request, "docs.html", {}, headers={"Content-Security-Policy": DOCS_CSP})
