"""``create_app()``: the only place that mounts routers (and, later, pages).

Why a factory: tests build apps against their own SQLite/PostgreSQL stores; ``qc serve`` builds
one from the environment. Every route goes through ``web.masking.MaskingRoute`` (PII masked in
every JSON answer) and declares its operation with ``web.deps.require``; ``operations()`` lists
them so the OpenAPI spec shows each route's ``x-qc-operation`` and the matrix test can walk it.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from qc_service import __version__
from qc_service.admin.router import router as audit_router
from qc_service.alerts.router import router as alerts_router
from qc_service.config import Settings, get_settings
from qc_service.customers.pages import router as customer_pages
from qc_service.customers.router import router as customers_router
from qc_service.ingest.router import router as ingest_router
from qc_service.insights.dashboard_router import router as dashboard_router
from qc_service.insights.pages import router as insights_pages
from qc_service.insights.router import router as insights_router
from qc_service.kernel import build_process
from qc_service.review.audio_router import router as audio_router
from qc_service.review.conversation_page import router as conversation_page
from qc_service.review.conversations_router import router as conversations_router
from qc_service.review.pages import router as review_pages
from qc_service.review.router import router as review_router
from qc_service.rulesets.pages import router as rules_pages
from qc_service.rulesets.router import router as rules_router
from qc_service.segments.pages import router as segments_pages
from qc_service.segments.router import router as segments_router
from qc_service.store import Store
from qc_service.tagging.router import router as tags_router
from qc_service.web import errors
from qc_service.web.deps import operation_of
from qc_service.web.docs import router as docs_router
from qc_service.web.login import router as identity_router
from qc_service.web.masking import MaskingRoute
from qc_service.web.templating import STATIC_DIR, LongCacheStatic

ROUTERS: tuple[APIRouter, ...] = (
    identity_router, ingest_router, conversations_router, audio_router, alerts_router, review_router,
    customers_router, rules_router, tags_router, insights_router, audit_router, docs_router,
    review_pages, conversation_page, customer_pages, dashboard_router, insights_pages,
    rules_pages, segments_router, segments_pages,
)  # fmt: skip
PUBLIC: frozenset[tuple[str, str]] = frozenset(
    {("GET", "/v1/healthz"), ("GET", "/login"), ("POST", "/login")}
)  # GET / (home) needs a login: it is not public
"""The only operations without a credential (ACCESS.md): health, the login page and the login
itself (and the static assets, mounted apart)."""


def _operation_id(route: APIRoute) -> str:
    return route.name


def route_operation(route: APIRoute) -> Any:
    """The ``Op`` a route declares through ``require`` (None for the public ones)."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        op = operation_of(dep.call) if dep.call else None
        if op is not None:
            return op
        stack.extend(dep.dependencies)
    return None


def create_app(
    settings: Settings | None = None, *, store: Store | None = None, freeze_gc: bool = False
) -> FastAPI:
    """Build the API. Pass ``store`` to share an already-open store (tests); ``freeze_gc`` for a
    server process (``qc serve``) that owns the interpreter."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        process = build_process(settings, "serve", store=store)
        app.state.process = process
        app.state.store = process.store
        app.state.runtime = process.runtime
        app.state.hub = process.hub
        app.state.scheduler = process.scheduler
        app.state.dispatcher = process.dispatcher
        await process.start_async()
        if freeze_gc:
            # Why: what a server loads at start (models, rules, SQLAlchemy's mappers) lives as
            # long as the process; left in the collector's oldest generation, every full
            # collection walks it again: 170-230 ms pauses in 1 of 15 dashboard requests
            # (bench/dashboard.py). Collected first, so no garbage is frozen with it.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if freeze_gc:
                gc.unfreeze()
            await process.stop_async()

    app = FastAPI(
        title="qc-service",
        version=__version__,
        description="Conversation quality inspection (质检) and smart tagging (智能标签). Every "
        "operation but `GET /v1/healthz` and `POST /login` needs `Authorization: Bearer <token>` "
        "(`qc tokens create USER`) or a browser session; `x-qc-operation` names the policy "
        "operation (ACCESS.md) each one performs.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        openapi_url=None,  # served behind the door by web.docs
        docs_url=None,
        redoc_url=None,
    )
    if store is not None:
        app.state.store = store
    errors.install(app)

    @app.get("/v1/healthz", tags=["ops"], summary="Liveness and schema check")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for route in api_routes():
        if not isinstance(route, MaskingRoute):  # masking is a property of the door, not a habit
            raise TypeError(f"{route.path}: its router must use route_class=MaskingRoute")
        op = route_operation(route)
        if op is not None:
            route.openapi_extra = {**(route.openapi_extra or {}), "x-qc-operation": op.value}
    for router in ROUTERS:
        app.include_router(router)
    app.state.page_paths = frozenset(r.path for r in api_routes() if "GET" in r.methods)
    app.mount(
        "/static", LongCacheStatic(directory=STATIC_DIR), name="static"
    )  # anonymous (ACCESS.md)
    return app


def api_routes() -> list[APIRoute]:
    """Every route the routers declare (what the matrix test walks)."""
    return [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]
