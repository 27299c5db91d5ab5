"""Request-scoped dependencies: the store, a session per request, the tenant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from qc_service.runtime import Runtime
from qc_service.store import Store


def get_store(request: Request) -> Store:
    """The store opened at start-up."""
    store: Store = request.app.state.store
    return store


def get_runtime(request: Request) -> Runtime:
    """Store, deep lane and alert hub of this process."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_db(store: Annotated[Store, Depends(get_store)]) -> Iterator[Session]:
    """A session for the request (read paths; write paths open their own transactions)."""
    with store.session_factory() as db_session:
        yield db_session


def get_tenant(
    store: Annotated[Store, Depends(get_store)],
    x_qc_tenant: Annotated[
        str | None, Header(description="tenant id (default: the configured default tenant)")
    ] = None,
) -> str:
    """The tenant a request acts for."""
    return x_qc_tenant or store.settings.default_tenant


StoreDep = Annotated[Store, Depends(get_store)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
DbDep = Annotated[Session, Depends(get_db)]
TenantDep = Annotated[str, Depends(get_tenant)]
