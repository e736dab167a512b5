"""FastAPI application factory: settings → engine → bank port → routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from kefu import __version__
from kefu.bank.factory import make_bank
from kefu.channels.sms.demo import DemoCarriers
from kefu.channels.sms.runtime import start_gateway
from kefu.config import Settings, get_settings
from kefu.db.engine import make_engine, make_sessionmaker
from kefu.logs import configure_logging
from kefu.web.errors import install_error_handlers
from kefu.web.metrics import Metrics, MetricsMiddleware
from kefu.web.middleware import BodySizeLimit, LocaleMiddleware
from kefu.web.security import install_security

STATIC_DIR = Path(__file__).parent / "web" / "static"


def create_app(
    settings: Settings | None = None,
    *,
    demo_carriers: DemoCarriers | None = None,
    demo_wechat: Any = None,
) -> FastAPI:
    """``demo_carriers`` runs carrier simulators in this process and links to them (demo);
    ``demo_wechat`` (kefu.channels.wechat.demo.DemoWechat) runs the WeChat API simulator."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, echo=settings.sql_echo)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.bank = make_bank(settings, engine)
        app.state.demo_carriers = demo_carriers
        if demo_carriers is not None:
            await demo_carriers.start()
        app.state.sms = await start_gateway(
            settings,
            app.state.sessionmaker,
            app.state.bank,
            extra_links=demo_carriers.links() if demo_carriers else None,
        )
        from kefu.channels.wechat.runtime import start_wechat

        if demo_wechat is not None:
            await demo_wechat.start()
        app.state.wechat_runtime = await start_wechat(
            settings, app.state.sessionmaker, app.state.bank, app.state.sms
        )
        app.state.wechat = app.state.wechat_runtime.channel if app.state.wechat_runtime else None
        app.state.demo_wechat = demo_wechat
        from kefu.marketing.scheduler import start_in_background

        app.state.subscriptions = start_in_background(
            settings, app.state.sessionmaker, app.state.bank, app.state.sms,
            wechat=app.state.wechat_runtime.outbound if app.state.wechat_runtime else None,
        )  # fmt: skip
        try:
            yield
        finally:
            if app.state.subscriptions is not None:
                await app.state.subscriptions.stop()
            if app.state.wechat_runtime is not None:
                await app.state.wechat_runtime.stop()
            if demo_wechat is not None:
                await demo_wechat.stop()
            if app.state.sms is not None:
                await app.state.sms.stop()
            if demo_carriers is not None:
                await demo_carriers.stop()
            await app.state.bank.close()
            await engine.dispose()

    app = FastAPI(
        title="kefu",
        version=__version__,
        description="kefu (客服): omnichannel customer service for retail banks.",
        lifespan=lifespan,
    )
    app.state.settings = settings
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
    install_error_handlers(app)

    from kefu.admin.views import router as admin_router
    from kefu.auth.views import router as auth_router
    from kefu.branch.views import router as branch_router
    from kefu.channels.sms.api import router as sms_api_router
    from kefu.channels.sms.callbacks_api import router as sms_callbacks_router
    from kefu.channels.sms.views import router as sms_router
    from kefu.channels.wechat.callback import router as wechat_router
    from kefu.channels.wechat.h5.views import router as wechat_h5_router
    from kefu.channels.wechat.menu_admin import router as wechat_menu_router
    from kefu.channels.wechat.phone import router as wechat_phone_router
    from kefu.knowledge.views import router as knowledge_router
    from kefu.marketing.subscription_views import router as subscriptions_router
    from kefu.marketing.views import router as marketing_router
    from kefu.partners.views import router as partners_router
    from kefu.reports.views import router as reports_router
    from kefu.routing.views import router as routing_router
    from kefu.web.health import router as health_router
    from kefu.workspace.views import router as workspace_router

    for router in (
        health_router,
        routing_router,  # its lifespan starts the routing ticker (offers, queue, SLA, webhooks)
        auth_router,
        workspace_router,
        admin_router,
        reports_router,
        branch_router,
        sms_router,
        sms_api_router,
        sms_callbacks_router,
        wechat_router,
        marketing_router,  # SMS templates and consent
        subscriptions_router,  # customers' subscriptions (API) and the scheduler's page
        partners_router,
        knowledge_router,
        wechat_h5_router,
        wechat_menu_router,
        wechat_phone_router,
    ):
        app.include_router(router)
    STATIC_DIR.mkdir(parents=True, exist_ok=True)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
