"""The layout's navigation groups pages; each reader sees only the pages they may open."""

from __future__ import annotations

from dataclasses import dataclass

from kefu.auth.permissions import ROLE_PERMISSIONS, Permission
from kefu.channels.manifest import NavLink
from kefu.vocabulary import Role
from kefu.web.navigation import GROUPS, visible_groups
from tests.conftest import login


@dataclass
class Reader:
    role: Role

    def can(self, permission: Permission | str) -> bool:
        return Permission(permission) in ROLE_PERMISSIONS[self.role]


def test_a_teller_sees_the_counter_and_nothing_to_supervise() -> None:
    groups = visible_groups(Reader(Role.TELLER), [])
    urls = [item.url for group in groups for item in group.items]
    assert "/branch/counter" in urls
    assert "/supervisor/queues" not in urls and "/admin/users" not in urls


def test_a_supervisor_gets_groups_not_one_long_row() -> None:
    groups = visible_groups(Reader(Role.SUPERVISOR), [])
    keys = [group.key for group in groups]
    assert {"service", "supervision", "social"} <= set(keys)
    assert "settings" not in keys  # users, partners and menus are the admin's
    assert len(groups) < sum(len(group.items) for group in groups)


def test_channel_links_join_the_settings_group_for_whoever_may_open_them() -> None:
    link = NavLink("Weibo accounts", "/admin/weibo", permission="social.channels")
    admin = visible_groups(Reader(Role.ADMIN), [link])
    settings = next(group for group in admin if group.key == "settings")
    assert "/admin/weibo" in [item.url for item in settings.items]


def test_every_page_in_the_navigation_is_a_route_of_the_app(client) -> None:  # type: ignore[no-untyped-def]
    for group in GROUPS:
        for item in group.items:
            # Signed out, a page asks for a login (303/401); a missing one is 404.
            answer = client.get(item.url, follow_redirects=False)
            assert answer.status_code != 404, item.url


def test_the_layout_shows_groups_and_keeps_links_in_the_page(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "supervisor")
    page = client.get("/").text
    nav = page[page.index('data-testid="nav"') : page.index("</nav>")]
    assert 'data-testid="navgroup-social"' in nav and 'href="/social/crisis"' in nav
    assert "社交媒体" in nav
