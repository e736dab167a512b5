"""One Jinja2 environment for every package's templates, with gettext and masking filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from kefu import privacy
from kefu.auth.permissions import Permission
from kefu.channels.manifest import NavLink
from kefu.channels.registry import manifests
from kefu.web import i18n
from kefu.web.navigation import visible_groups

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# Each UI package keeps its templates under <package>/templates/<package>/, so names read as
# "workspace/home.html" and never collide.
# Each channel's come from its manifest.
TEMPLATE_DIRS = [
    _PACKAGE_ROOT / "web" / "templates",
    # Every other package's (sorted, so the order never depends on the file system), and the
    # social crisis desk's, a sub-package with its own.
    *sorted(
        path
        for path in _PACKAGE_ROOT.glob("*/templates")
        if path.parent.name not in ("web", "channels")
    ),
    _PACKAGE_ROOT / "social" / "crisis" / "templates",
] + [manifest.templates for manifest in manifests()]


def channel_navigation(request: Request, principal: Any) -> list[NavLink]:
    """The channels' entries in the layout's navigation that this reader may follow: a
    permission's pages for those holding it, demo pages while that channel's demo runs."""
    links = []
    running = getattr(request.app.state, "demos", {})
    for manifest in manifests():
        for link in manifest.navigation:
            if link.demo_only:
                if running.get(manifest.name) is not None:
                    links.append(link)
            elif link.permission and principal is not None and principal.can(link.permission):
                links.append(link)
    return links


def _environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(d)) for d in TEMPLATE_DIRS if d.is_dir()]),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext_, i18n.ngettext_, newstyle=True)  # type: ignore[attr-defined]
    env.filters["mask_phone"] = privacy.mask_phone
    env.filters["mask_card"] = privacy.mask_card
    env.filters["mask_id"] = privacy.mask_id_number
    env.filters["mask_name"] = privacy.mask_name
    env.globals["get_locale"] = i18n.get_locale
    env.globals["Permission"] = Permission
    env.globals["channel_navigation"] = channel_navigation
    env.globals["navigation"] = lambda request, principal: visible_groups(
        principal, channel_navigation(request, principal)
    )
    return env


templates = Jinja2Templates(env=_environment())
