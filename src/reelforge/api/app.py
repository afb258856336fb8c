"""`create_app(platform)`: the routers under `/api/v1`, error handling, middleware, and
the app's lifetime (the live-event poller; in-process render workers when asked)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CollectorRegistry

from reelforge import logs
from reelforge.api import docs, errors
from reelforge.api.deps import DbGates
from reelforge.api.input_guard import InputGuard
from reelforge.api.limits import Limits
from reelforge.api.live import EventHub
from reelforge.api.middleware import LimitsAndHeaders
from reelforge.api.monitor import Monitor
from reelforge.api.routes import (
    activity,
    admin,
    assets,
    auth,
    batches,
    health,
    live,
    projects,
    renders,
    sharing,
    studio,
    templates,
    users,
    webhooks,
)
from reelforge.api.routes.assets import MULTIPART_OVERHEAD_BYTES
from reelforge.api.telemetry import HttpMetrics, RequestTelemetry
from reelforge.jobs.metrics import DiskCollector, JobMetrics, QueueCollector
from reelforge.jobs.worker import Worker, WorkerPool
from reelforge.logs import get_logger
from reelforge.model.plans import max_upload_bytes
from reelforge.platform.services import Platform
from reelforge.settings import get_settings

API_PREFIX = "/api/v1"
SERVE_WORKERS_ENV = "REELFORGE_SERVE_WORKERS"
"""Render workers per API process when `reelforge serve --processes N` starts several."""
log = get_logger("reelforge.api")


def app_from_environment() -> FastAPI:
    """The app factory each API process calls under `reelforge serve --processes N`."""
    workers = int(os.environ.get(SERVE_WORKERS_ENV, "0"))
    settings = get_settings()
    logs.configure(settings.log_level)
    return create_app(Platform(settings), workers=workers)


def create_app(platform: Platform, *, workers: int = 0) -> FastAPI:
    """The API for `platform`; `workers` > 0 also runs that many render workers in this
    process (the embedded default: one command, no separate worker to start)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("starting", settings=platform.settings.masked(), workers=workers)
        hub.start()
        monitor.start()
        pruner = platform.prune_loop()
        if workers:  # this process renders: it keeps the cache and the store in bounds too
            pruner.start()
        kinds, timings = platform.job_kinds(), platform.worker_timings()
        pool = WorkerPool(
            [
                Worker(platform.jobs, kinds, timings=timings, metrics=job_metrics)
                for _ in range(workers)
            ]
        )
        pool.start()
        sender = platform.webhook_loop()  # users' webhooks go out where renders run
        if workers:
            sender.start()
        try:
            yield
        finally:
            await hub.stop()
            await monitor.stop()
            # Off the event loop and bounded: a hung render is abandoned (its job is
            # requeued by the reaper once stale), never a hung shutdown.
            timeout_s = platform.settings.workers.shutdown_timeout_s
            # The webhook sender stops at the same time: its attempt in flight is bounded too.
            abandoned, _, _ = await asyncio.gather(
                asyncio.to_thread(pool.stop, timeout_s), asyncio.to_thread(sender.stop, timeout_s),
                asyncio.to_thread(pruner.stop, timeout_s),
            )  # fmt: skip
            if abandoned:
                log.error("abandoned renders at shutdown", workers=len(abandoned))
            platform.engine.dispose()

    app = FastAPI(
        title="reelforge",
        version=version("reelforge"),
        summary="Prompt in, narrated MP4 out: projects, renders and live progress.",
        docs_url=None,  # our own page, with Swagger UI shipped in the package (api/docs.py)
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    hub = EventHub(platform.engine, platform.sessions, platform.timeouts)
    monitor = Monitor(
        platform.engine, platform.sessions,
        keep=timedelta(days=platform.settings.retention.service_facts_days),
    )  # fmt: skip
    metrics = CollectorRegistry()
    metrics.register(QueueCollector(platform.jobs))
    metrics.register(DiskCollector(platform.work_dirs()))
    job_metrics = JobMetrics(metrics)  # observed by this process's workers as jobs end
    app.state.platform = platform
    app.state.hub = hub
    app.state.monitor = monitor
    app.state.db_gates = DbGates.for_engine(platform.engine, reserved=workers + 1)
    app.state.metrics = metrics
    app.state.limits = Limits(platform.limiter, metrics)
    errors.install(app)
    docs.install(app)

    # Each router straight under the app: a router nested in another made FastAPI walk
    # both levels' routes on every request, to find the route and to check for new ones.
    for module in (
        auth, users, projects, templates, sharing, activity, renders, batches, assets, studio,
        live, health, admin, webhooks,
    ):  # fmt: skip
        app.include_router(module.router, prefix=API_PREFIX)

    app.add_middleware(InputGuard)  # inside LimitsAndHeaders: bodies arrive bounded
    app.add_middleware(
        LimitsAndHeaders,
        max_body_bytes=platform.settings.api.max_body_bytes,
        uploads={f"{API_PREFIX}/assets": max_upload_bytes() + MULTIPART_OVERHEAD_BYTES},
    )
    if platform.settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=platform.settings.api.cors_origins,
            allow_credentials=True,  # the refresh cookie
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "Last-Event-ID",
                "If-Match",
            ],
            expose_headers=[
                "Location",
                "Retry-After",
                "Idempotent-Replayed",
                "Content-Range",
                "Content-Disposition",
                "Content-Length",
                "ETag",
            ],
            max_age=600,
        )
    app.add_middleware(
        RequestTelemetry, metrics=HttpMetrics(metrics), prefix=API_PREFIX,
        on_response=monitor.observe,
    )  # fmt: skip  # outermost: sees all
    return app
