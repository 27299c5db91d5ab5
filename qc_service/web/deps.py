"""Request dependencies: the store, a DB session, the caller, and ``require(operation)``.

Why every route takes ``require(Op.X)``: the operation is declared where the route is, the policy
module decides (``identity.policy``), and the matrix test can read each route's operation from
its dependencies. The tenant is always the credential's; ``X-QC-Tenant`` naming another tenant is
refused (403 ``TENANT_MISMATCH``) and ``X-QC-Actor`` is no longer read: the actor is the user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from qc_service.audit.service import record
from qc_service.db.session import write_transaction
from qc_service.identity import service as identity
from qc_service.identity.policy import (
    AuthInvalid,
    AuthRequired,
    CsrfFailed,
    Op,
    Principal,
    Scope,
    authorize,
    check_tenant,
)

SESSION_COOKIE = "qc_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_store(request: Request) -> Any:
    """The store opened at start-up (``qc_service.store.Store``)."""
    return request.app.state.store


def get_runtime(request: Request) -> Any:
    """Store, deep lane and alert hub of this process (``qc_service.runtime.Runtime``)."""
    return request.app.state.runtime


def get_db(request: Request) -> Iterator[Session]:
    """A session for the request (read paths; write paths open their own transactions)."""
    with request.app.state.store.session_factory() as db_session:
        yield db_session


def _authenticate(request: Request) -> Principal:
    store = request.app.state.store
    header = request.headers.get("authorization")
    with store.session_factory() as db_session:
        if header:
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                raise AuthInvalid("the Authorization header must be 'Bearer <token>'")
            return identity.authenticate_token(db_session, secret.strip())
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            idle = timedelta(hours=store.settings.session_idle_hours)
            return identity.authenticate_session(db_session, cookie, idle=idle)
    raise AuthRequired("log in or send 'Authorization: Bearer <token>'")


async def current_user(request: Request) -> Principal:
    """The authenticated caller (401 ``AUTH_REQUIRED`` / ``AUTH_INVALID``). A browser session's
    state-changing request must carry its CSRF token (header, or form field ``csrf_token``)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = await run_in_threadpool(_authenticate, request)
    if principal.via == "session" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            form = await request.form()
            value = form.get("csrf_token")
            sent = value if isinstance(value, str) else None
        if not sent or sent != principal.csrf_token:
            raise CsrfFailed("missing or wrong CSRF token", field="csrf_token")
    check_tenant(principal, request.headers.get("x-qc-tenant"), field_name="X-QC-Tenant")
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


async def still_valid(request: Request) -> bool:
    """Whether the request's credential still works (long-lived streams re-check it)."""
    try:
        await run_in_threadpool(_authenticate, request)
    except (AuthInvalid, AuthRequired):
        return False
    return True


def _audit_reveal(request: Request, principal: Principal, op: Op) -> None:
    with write_transaction(request.app.state.store.session_factory) as db_session:
        record(db_session, tenant_id=principal.tenant_id, actor=principal.username,
               action="pii.revealed", entity_type="request", entity_id=request.url.path,
               after={"operation": op.value})  # fmt: skip


def require(op: Op) -> Any:
    """A dependency that authorizes ``op`` and yields the caller's ``Scope`` for it. With
    ``?reveal=pii`` the caller must also be allowed to reveal PII; the reveal is audited."""

    async def dependency(request: Request, principal: CurrentUser) -> Scope:
        scope = authorize(principal, op)
        if request.query_params.get("reveal") == "pii":
            authorize(principal, Op.PII_REVEAL)
            await run_in_threadpool(_audit_reveal, request, principal, op)
            request.state.reveal_pii = True
        return scope

    dependency.__qc_operation__ = op  # type: ignore[attr-defined]
    dependency.__name__ = f"require_{op.value.replace('.', '_')}"
    return Depends(dependency)


def operation_of(call: Callable[..., Any]) -> Op | None:
    """The operation a ``require`` dependency declares (None for other callables)."""
    return getattr(call, "__qc_operation__", None)


DbSession = Annotated[Session, Depends(get_db)]
StoreDep = Annotated[Any, Depends(get_store)]
RuntimeDep = Annotated[Any, Depends(get_runtime)]
