"""The FastAPI app factory: no import-time side effects; the store opens in the lifespan.

Why a factory: tests build apps against their own SQLite/PostgreSQL stores; ``qc serve`` builds
one from the environment. Every error leaves in one shape: ``{"error": {code, message, field,
record_id, rule_id}}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_bridge.dispatcher import Dispatcher
from crm_bridge.settings import BridgeSettings
from qc_service import __version__
from qc_service.alerts.hub import make_hub
from qc_service.alerts.router import router as alerts_router
from qc_service.config import Settings, get_settings
from qc_service.conversations.audio_router import router as audio_router
from qc_service.conversations.router import router as conversations_router
from qc_service.errors import QCError
from qc_service.insights.router import router as insights_router
from qc_service.pipeline.celery_app import create_celery
from qc_service.pipeline.lanes import CeleryLane, DeepLane, InProcessLane
from qc_service.pipeline.service import warm_up
from qc_service.pipeline.sweep import Sweeper
from qc_service.review.router import router as review_router
from qc_service.rulesets.router import router as rules_router
from qc_service.runtime import Runtime
from qc_service.store import Store, open_store
from qc_service.tagging.router import router as tags_router
from qc_service.tenancy.router import router as customers_router


def _operation_id(route: APIRoute) -> str:
    return route.name


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    body = {
        "error": {
            "code": code,
            "message": message,
            "field": field,
            "record_id": None,
            "rule_id": None,
        }
    }
    return JSONResponse(body, status_code=status)


def make_runtime(store: Store) -> Runtime:
    """In-process deep lane and hub by default; Celery and Redis pub/sub with ``QC_BROKER_URL``."""
    settings = store.settings
    hub = make_hub(settings.broker_url)
    lane: DeepLane
    if settings.broker_url:
        lane = CeleryLane(create_celery(settings), settings.celery_queue)
    else:
        lane = InProcessLane(store, hub.publish)
    return Runtime(store, lane, hub)


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    """Build the API. Pass ``store`` to share an already-open store (tests)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None
        app.state.store = store or open_store(settings)
        warm_up(app.state.store)
        runtime = make_runtime(app.state.store)
        app.state.runtime = runtime
        app.state.hub = runtime.hub
        await runtime.hub.start()
        sweeper = Sweeper(app.state.store, runtime.lane.submit)
        app.state.sweeper = sweeper
        sweeper.start()
        dispatcher = Dispatcher(app.state.store.session_factory, BridgeSettings())
        app.state.dispatcher = dispatcher
        dispatcher.start()
        try:
            yield
        finally:
            dispatcher.stop()
            sweeper.stop()
            runtime.lane.close()
            await runtime.hub.stop()
            if owned:
                app.state.store.close()

    app = FastAPI(
        title="qc-service",
        version=__version__,
        description="Conversation quality inspection (质检) and smart tagging (智能标签).",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    if store is not None:
        app.state.store = store

    @app.exception_handler(QCError)
    async def qc_error(_request: Request, exc: QCError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        err = exc.errors()[0]
        loc = [str(p) for p in err.get("loc", []) if p != "body"]
        return _error(
            422, "REQUEST_INVALID", err.get("msg", "invalid request"), ".".join(loc) or None
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
        return _error(exc.status_code, code, str(exc.detail))

    @app.get("/v1/healthz", tags=["ops"], summary="Liveness and schema check")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(conversations_router)
    app.include_router(audio_router)
    app.include_router(alerts_router)
    app.include_router(review_router)
    app.include_router(customers_router)
    app.include_router(rules_router)
    app.include_router(tags_router)
    app.include_router(insights_router)
    return app
