"""Role home pages (issue 23): every role's home was the same four counters."""

from __future__ import annotations

import re

import pytest

from tests.conftest import CSRF, login

pytestmark = pytest.mark.db


def figure(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">([^<]*)<', html)
    assert match, testid
    return match.group(1)


def test_agent_home_has_my_queue_my_day_and_sla_at_risk(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "supervisor")
    client.put("/api/v1/me/presence", json={"presence": "away"})
    cid = client.post("/api/v1/conversations", json={
        "channel": "wechat", "contact": "13800138000", "text": "信用卡账单金额不对", "customer_no": "C0000000001",
    }).json()["conversation_id"]  # fmt: skip
    client.cookies.clear()
    login(client, "agent1")
    client.put("/api/v1/me/presence", json={"presence": "away", "reason": "break"})
    home = client.get("/").text
    assert 'data-testid="home-agent"' in home and 'data-testid="home-supervisor"' not in home
    assert figure(home, "day-replies") == "0" and int(figure(home, "home-waiting")) >= 1
    token = CSRF.search(home).group(1)
    client.post(f"/workspace/conversations/{cid}/claim", data={"csrf": token, "text": "您好"})
    home = client.get("/").text
    assert figure(home, "day-replies") == "1" and figure(home, "day-taken") == "1"
    assert figure(home, "home-mine") == "1"
    assert figure(home, "day-first-response").endswith("秒")
    assert "我的今日" in home and "SLA 风险" in home
    assert 'data-testid="counts"' in home  # the counters stay


def test_supervisor_home_has_queues_agent_states_and_alerts(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "supervisor")
    home = client.get("/").text
    board = home[home.index('data-testid="home-supervisor"') :]
    assert "信用卡" in board and "投诉与舆情" in board  # queues by their labels
    assert re.search(r'data-testid="home-states">[^<]*就绪 \d', home)
    assert 'data-testid="home-alerts"' in home and 'href="/supervisor/queues"' in board


@pytest.mark.parametrize(
    ("username", "present", "absent"),
    [
        ("admin", ["/admin/users"], ["/workspace/inbox", "/branch/counter"]),
        ("analyst", ["/reports"], ["/workspace/inbox", "/admin/users"]),
        ("teller", ["/branch/counter"], ["/reports", "/workspace/inbox"]),
    ],
)
def test_other_roles_get_their_own_places(
    client, username: str, present: list[str], absent: list[str]
) -> None:  # type: ignore[no-untyped-def]
    login(client, username)
    home = client.get("/").text
    links = home[home.index('data-testid="home-links"') :]
    links = links[: links.index("</nav>")]
    for path in present:
        assert f'href="{path}"' in links, path
    for path in absent:
        assert f'href="{path}"' not in links, path
    assert 'data-testid="home-agent"' not in home and 'data-testid="home-supervisor"' not in home
