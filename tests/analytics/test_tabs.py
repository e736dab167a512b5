"""The analytics tab bar shows a role exactly the tabs it may open: every tab shown answers 200,
every tab left out answers 403 (before, an agent allowed to watch replays saw nine tabs that
answered 403). Run per role through the real app by tests/analytics/test_views.py."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import login

ALL_TABS = ["/analytics", "/analytics/funnel", "/analytics/campaigns", "/analytics/paths",
            "/analytics/forms", "/analytics/failures", "/analytics/selfservice",
            "/analytics/customers", "/analytics/topics", "/analytics/replays"]  # fmt: skip
NAV = re.compile(r'<nav class="tabs" data-testid="analytics-tabs">(.*?)</nav>', re.S)
# the demo staff, one per role; what each role should see (kefu.auth.permissions)
EXPECTED = {
    "analyst": ALL_TABS,
    "supervisor": ALL_TABS,
    "agent1": ["/analytics/replays"],  # analytics.replay without reports.read
    "admin": [],
    "teller": [],
}


def tabs_of(html: str) -> list[str]:
    found = NAV.search(html)
    assert found, "no tab bar on the page"
    return re.findall(r'href="([^"]+)"', found.group(1))


def tabs_by_role(client: TestClient) -> None:
    for user, expected in EXPECTED.items():
        client.cookies.clear()
        assert login(client, user).status_code == 303, user
        answers = {url: client.get(url).status_code for url in ALL_TABS}
        # the bar must agree with the pages' own permission checks, whichever way they change
        assert sorted(u for u, code in answers.items() if code == 200) == sorted(expected), user
        assert all(code in (200, 403) for code in answers.values()), (user, answers)
        if expected:
            shown = tabs_of(client.get(expected[0]).text)
            assert shown == expected, (user, shown)
    client.cookies.clear()
