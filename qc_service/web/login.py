"""``POST /login``, ``POST /logout`` and ``GET /v1/me``.

Why the login answers as it does: a browser posts the form and follows a 303 with the session
cookie; an unknown user and a wrong password get the same 401, and a throttled username gets 429
with ``Retry-After`` even with the right password (ACCESS.md).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from qc_service.db.session import write_transaction
from qc_service.identity import service
from qc_service.identity.policy import AuthInvalid, CsrfFailed, LoginThrottled, Op, Scope
from qc_service.web.deps import SESSION_COOKIE, CurrentUser, require
from qc_service.web.masking import MaskingRoute
from qc_service.web.templating import render, same_origin, wants_html

router = APIRouter(tags=["identity"], route_class=MaskingRoute)
HOME = {"admin": "/rules", "manager": "/dashboard", "reviewer": "/review", "agent": "/me",
        "sales": "/customers", "integration": "/docs"}  # fmt: skip


class Me(BaseModel):
    """Who the credential belongs to."""

    username: str
    tenant: str
    role: str
    employee_id: str | None
    teams: list[str]
    csrf_token: str | None = None


def home_of(request: Request, role: str) -> str:
    """The role's home page of UI.md once it is mounted; until then the plain home page ``/``."""
    target = HOME.get(role, "/")
    return target if target in getattr(request.app.state, "page_paths", frozenset()) else "/"


@router.get("/", include_in_schema=False)
def home(request: Request, _scope: Annotated[Scope, require(Op.SELF_READ)]) -> Response:
    """Who is logged in, and where to go (the role's pages come with the UI issues)."""
    return render(request, "home.html", {})


def _safe_next(target: str | None) -> str | None:
    """Only a path of this site (``/…``, not ``//host``) is followed after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str | None = None) -> Response:  # noqa: A002 - UI.md's name
    """The login form (UI.md: 用户名, 密码, 登录); no credential needed."""
    return render(request, "login.html", {"next": _safe_next(next)})


@router.post("/login", status_code=303, summary="Log in (browser form)",
             responses={401: {"description": "unknown user or wrong password"},
                        429: {"description": "LOGIN_THROTTLED, with Retry-After"}})  # fmt: skip
def login(
    request: Request,
    username: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str | None, Form(max_length=2000)] = None,  # noqa: A002 - UI.md's name
) -> Response:
    """Start a session: 303 to ``next`` or the role's home page with the ``qc_session`` cookie. A
    browser that fails gets the login page again (``用户名或密码错误``, nothing else revealed)."""
    if not same_origin(request):
        raise CsrfFailed("a login must come from this site's own form", field="origin")
    store = request.app.state.store
    source = request.client.host if request.client else None
    with write_transaction(store.session_factory) as db_session:
        outcome = service.login(db_session, username=username, password=password, source=source,
                                default_tenant=store.settings.default_tenant)  # fmt: skip
    if outcome.session is None and wants_html(request):
        retry = (
            {"Retry-After": str(outcome.retry_after)} if outcome.retry_after is not None else None
        )
        return render(request, "login.html", {"error": "用户名或密码错误", "username": username,
                                              "next": _safe_next(next)},
                      status=429 if retry else 401, headers=retry)  # fmt: skip
    if outcome.retry_after is not None:
        raise LoginThrottled(f"too many failed logins for {username!r}; try again later",
                             retry_after=outcome.retry_after)  # fmt: skip
    if outcome.session is None:
        raise AuthInvalid("unknown user or wrong password", field="password")
    new = outcome.session
    response = RedirectResponse(
        _safe_next(next) or home_of(request, new.user.role), status_code=303
    )
    response.set_cookie(
        SESSION_COOKIE, new.secret, httponly=True, samesite="lax",
        secure=store.settings.cookie_secure, path="/",
    )  # fmt: skip
    return response


@router.post("/logout", status_code=303, summary="Log out (browser)")
def logout(request: Request, _scope: Annotated[Scope, require(Op.SELF_READ)]) -> Response:
    """End the session and clear its cookie; 303 to the login page."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        with write_transaction(request.app.state.store.session_factory) as db_session:
            service.logout(db_session, secret=secret)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/v1/me", response_model=Me, summary="Who am I")
def me(user: CurrentUser, _scope: Annotated[Scope, require(Op.SELF_READ)]) -> Me:
    """The caller's username, tenant, role and scope (and, for a browser, its CSRF token)."""
    return Me(username=user.username, tenant=user.tenant_id, role=user.role.value,
              employee_id=user.employee_id, teams=list(user.teams), csrf_token=user.csrf_token)  # fmt: skip
