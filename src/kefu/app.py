"""FastAPI application factory: settings → engine → bank port → the platform's routers and
every registered channel's (kefu.channels.registry), started and stopped with the app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from kefu import __version__
from kefu.bank.factory import make_bank
from kefu.bus import make_bus
from kefu.bus.limits import RedisLimits, make_limits
from kefu.bus.signals import publish_commits
from kefu.channels.manifest import load
from kefu.channels.registry import manifests
from kefu.config import Settings, get_settings
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.db.replica import ReadRouting, WroteCookie, reads_counter
from kefu.logs import configure_logging
from kefu.runtime import start_parts
from kefu.web.errors import install_error_handlers
from kefu.web.metrics import Metrics, MetricsMiddleware
from kefu.web.middleware import BodySizeLimit, LocaleMiddleware
from kefu.web.openapi import install_openapi
from kefu.web.security import install_security

STATIC_DIR = Path(__file__).parent / "web" / "static"


def _analytics_store(app: FastAPI) -> Any:
    """The behaviour store once a page or the collector opened it (kefu.analytics.service),
    else None: the alerts' checker never opens the DuckDB file itself."""
    analytics = getattr(app.state, "analytics", None)
    return None if analytics is None else analytics.store


def create_app(
    settings: Settings | None = None, *, demo: Mapping[str, Any] | None = None
) -> FastAPI:
    """``demo`` maps a channel name to its demo object (``kefu demo``: the carrier simulators,
    the WeChat API simulator), which that channel starts and stops with itself."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, echo=settings.sql_echo)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.reads = None  # read/write splitting, with a replica (kefu.db.replica)
        if settings.database_replica_url:
            app.state.reads = ReadRouting(
                app.state.sessionmaker, make_engine(settings.database_replica_url),
                max_lag=settings.database_replica_max_lag, reads=replica_reads,
            )  # fmt: skip
        app.state.bank = make_bank(settings, engine)
        app.state.bus = make_bus(settings.bus_url)
        app.state.limits = make_limits(settings.bus_url)
        stop_signals = publish_commits(app.state.bus)
        running = await start_parts(settings, app.state.sessionmaker, app.state.bank, demo=demo,
                                    analytics_store=lambda: _analytics_store(app))  # fmt: skip
        for name, value in running.state.items():
            setattr(app.state, name, value)
        try:
            yield
        finally:
            await running.stop()
            stop_signals()
            await app.state.bus.close()
            if isinstance(app.state.limits, RedisLimits):
                await app.state.limits.close()
            await app.state.bank.close()
            if app.state.reads is not None:
                await app.state.reads.close()
            await engine.dispose()

    app = FastAPI(
        title="kefu",
        version=__version__,
        description="kefu (客服): omnichannel customer service for retail banks.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.demos = dict(demo or {})  # channel → its demo object (the layout links its pages)
    # Starlette runs the last-added middleware first: size limit, then locale, then session.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.session_secret,
        session_cookie="kefu_session",
        max_age=settings.session_max_age,
        same_site="lax",
        https_only=settings.session_cookie_secure,
    )
    app.add_middleware(LocaleMiddleware, default=settings.default_locale)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    install_security(app, settings)  # headers, API CSRF check, outbound-URL guard
    metrics = Metrics()
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_route("/metrics", metrics.render, include_in_schema=False)
    replica_reads = reads_counter(metrics.registry) if settings.database_replica_url else None
    if settings.database_replica_url:  # a browser that wrote reads the primary for a while
        app.add_middleware(WroteCookie, max_lag=settings.database_replica_max_lag)
    install_error_handlers(app)

    for router in _platform_routers():
        app.include_router(router)
    for manifest in manifests():
        for path in manifest.routers:
            app.include_router(load(path))
    install_openapi(app)  # every status and content type each operation answers
    STATIC_DIR.mkdir(parents=True, exist_ok=True)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _platform_routers() -> list[APIRouter]:
    # Imported here: the routers import the templates and models, which need the settings
    # class built first (it is assembled from the channel registry).
    from kefu.admin.views import router as admin_router
    from kefu.analytics.cluster_views import router as analytics_clusters_router
    from kefu.analytics.insight_views import router as analytics_insights_router
    from kefu.analytics.views import router as analytics_router
    from kefu.auth.views import router as auth_router
    from kefu.branch.views import router as branch_router
    from kefu.conversations.views import router as conversation_search_router
    from kefu.crosssell.campaigns.views import router as campaigns_router
    from kefu.crosssell.views import router as crosssell_router
    from kefu.hall.h5.views import router as hall_pages_router
    from kefu.hall.menu_admin import router as hall_menus_router
    from kefu.knowledge.views import router as knowledge_router
    from kefu.outbound.api import router as sms_api_router
    from kefu.outbound.views import router as marketing_router
    from kefu.partners.views import router as partners_router
    from kefu.quality.views import router as quality_router
    from kefu.reports.views import router as reports_router
    from kefu.retention.views import router as retention_router
    from kefu.routing.views import router as routing_router
    from kefu.social.crisis.views import router as crisis_router
    from kefu.social.report_views import router as social_reports_router
    from kefu.social.views import router as social_router
    from kefu.subscriptions.views import router as subscriptions_router
    from kefu.web.health import router as health_router
    from kefu.workspace.views import router as workspace_router

    return [
        # First: the send API is the hottest route, and a request is matched against every
        # route before its own in order (~0.25 CPU-ms per SMS request when it came 11th);
        # none of the routes after it shares its paths.
        sms_api_router,  # the send API for the bank's systems and partners (governed sending)
        health_router,
        routing_router,  # its lifespan starts the routing ticker (offers, queue, SLA, webhooks)
        auth_router,
        workspace_router,
        admin_router,
        reports_router,
        branch_router,
        crosssell_router,  # the next best offer panel in the agent's customer panel
        campaigns_router,  # cross-selling campaigns: segments, A/B hold-out, reports
        marketing_router,  # SMS templates and consent
        subscriptions_router,  # customers' subscriptions (API) and the scheduler's page
        partners_router,
        knowledge_router,
        hall_pages_router,  # the business hall's H5 pages (/h5/{account}/…)
        hall_menus_router,  # official accounts' menus (/admin/wechat/…, /api/v1/wechat/…)
        crisis_router,  # the crisis and hot-spot desk (/social/crisis)
        social_router,  # listening, its rules and every social post (/social/…)
        social_reports_router,  # social report templates and custom reports (/social/reports…)
        analytics_router,  # behaviour analytics: collector, pages, the demo bank site (/demo/bank/)
        analytics_insights_router,  # metric anomalies and their root causes (/analytics/anomalies)
        analytics_clusters_router,  # behaviour clusters, their export and segments (/analytics/clusters)
        quality_router,  # CSAT figures, quality inspection, reviews and appeals (/quality…)
        conversation_search_router,  # full-text conversation search and export
        retention_router,  # retention, legal holds, PIPL export and erasure (/privacy)
    ]
