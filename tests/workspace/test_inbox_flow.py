"""The workspace over HTTP: intake → offer → accept → reply/script/batch → transfer → close."""

from __future__ import annotations

import html
import re

import pytest

from tests.conftest import CSRF, login

pytestmark = pytest.mark.db


def online(client, username: str) -> None:  # type: ignore[no-untyped-def]
    client.cookies.clear()
    assert login(client, username).status_code == 303
    assert client.put("/api/v1/me/presence", json={"presence": "online"}).json() == {
        "presence": "online",
        "reason": None,
    }


def intake(client, **body):  # type: ignore[no-untyped-def]
    client.cookies.clear()
    login(client, "supervisor")
    response = client.post(
        "/api/v1/conversations", json={"channel": "wechat", "contact": "13800138000", **body}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_demo_conversations_are_queued(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "agent1")
    inbox = client.get("/api/v1/inbox").json()
    # Logging in sets presence online; offers come with the next routing round.
    assert inbox["presence"] == "online"
    assert len(inbox["queue"]) == 4 and inbox["offers"] == []
    assert {i["queue"] for i in inbox["queue"]} >= {"complaint", "credit_card"}


def test_full_agent_flow(client) -> None:  # type: ignore[no-untyped-def]
    online(client, "agent1")  # going online takes queued work: the demo conversations
    offers = client.get("/api/v1/inbox").json()["offers"]
    assert offers, "agent1 was offered demo conversations on going online"
    routed = intake(
        client, text="信用卡账单金额不对", customer_no="C0000000001", intent="bill_query"
    )
    assert routed["queue"] == "credit_card"
    client.cookies.clear()
    login(client, "agent1")
    cid = routed["conversation_id"]
    # Reply before accepting is refused: the conversation is only offered.
    assert client.post(
        f"/api/v1/conversations/{cid}/messages", json={"body": "hi"}
    ).status_code in (403, 409)
    if routed["state"] == "reserved":
        assert client.post(f"/api/v1/conversations/{cid}/accept").json()["state"] == "assigned"
    else:  # agent1 was full; take it from the queue through a supervisor reassign instead
        pytest.fail(f"expected an offer to agent1, got {routed}")
    sent = client.post(
        f"/api/v1/conversations/{cid}/messages", json={"body": "{title}您好，尾号{card_tail}"}
    ).json()
    assert sent["delivery_state"] == "accepted"
    assert re.fullmatch(r".(先生|女士)您好，尾号\d{4}", sent["body"]), sent["body"]
    assert (
        client.post(
            f"/api/v1/conversations/{cid}/messages", json={"body": "{password}"}
        ).status_code
        == 422
    )
    scripts = client.get("/api/v1/scripts", params={"q": "/bi"}).json()
    assert [s["shortcut"] for s in scripts] == ["bill"]
    note = client.post(
        f"/api/v1/conversations/{cid}/notes", json={"body": "请 @supervisor 看一下 @nobody"}
    ).json()
    assert note["mentions"] == ["supervisor"]
    assert client.put(
        f"/api/v1/conversations/{cid}/tags", json={"tags": ["账单", "账单", "复核"]}
    ).json() == {"tags": ["复核", "账单"]}
    detail = client.get(f"/api/v1/conversations/{cid}").json()
    assert [e["kind"] for e in detail["events"]][:3] == ["queued", "offered", "accepted"]
    panel = client.get(f"/api/v1/conversations/{cid}/customer").json()
    assert panel["known"] and "****" in panel["profile"]["mobile"]
    assert all(" **** **** " in c["card_no"] for c in panel["cards"])
    page = client.get(f"/workspace/conversations/{cid}")
    assert page.status_code == 200 and "信用卡账单金额不对" in page.text
    closed = client.post(
        f"/api/v1/conversations/{cid}/close", json={"disposition": "resolved"}
    ).json()
    assert (closed["state"], closed["disposition"]) == ("completed", "resolved")


def test_batch_reply_personalises_and_skips_others(client) -> None:  # type: ignore[no-untyped-def]
    online(client, "agent2")  # the only online agent in this database
    ids = [intake(client, channel="weibo", contact=f"weibo{i}", text="网点排队太久", customer_no=f"C000000000{i + 1}")["conversation_id"] for i in range(3)]  # fmt: skip
    client.cookies.clear()
    login(client, "agent2")
    offers = [o["id"] for o in client.get("/api/v1/inbox").json()["offers"]]
    assert set(ids) <= set(offers)
    for cid in ids:
        assert client.post(f"/api/v1/conversations/{cid}/accept").status_code == 200
    result = client.post(
        "/api/v1/conversations/batch-reply", json={"conversation_ids": [*ids, 1], "script": "queue"}
    ).json()
    assert sorted(result["sent"]) == sorted(ids)
    assert result["skipped"] == {"1": "not assigned to you"}
    bodies = [client.get(f"/api/v1/conversations/{i}").json()["messages"][-1]["body"] for i in ids]
    assert all(
        re.fullmatch(r".(先生|女士)您好，非常抱歉让您久等.*感谢您的监督。", b) for b in bodies
    ), bodies
    assert (
        client.post(
            "/api/v1/conversations/batch-reply", json={"conversation_ids": ids, "script": "nope"}
        ).status_code
        == 422
    )


def test_transfer_and_supervisor_sees_it(client) -> None:  # type: ignore[no-untyped-def]
    online(client, "agent3")
    online(client, "agent1")
    cid = intake(client, text="信用卡怎么还款")["conversation_id"]
    client.cookies.clear()
    login(client, "agent1")
    client.post(f"/api/v1/conversations/{cid}/accept")
    client.cookies.clear()
    login(client, "supervisor")
    overview = client.get("/api/v1/supervisor/overview").json()
    ids = {a["username"]: a["id"] for a in overview["agents"]}
    client.cookies.clear()
    login(client, "agent1")
    moved = client.post(
        f"/api/v1/conversations/{cid}/transfer", json={"to_agent_id": ids["agent3"], "note": "理财"}
    ).json()
    assert (moved["state"], moved["agent_id"]) == ("assigned", ids["agent3"])
    # agent1 no longer holds it, so a second transfer by agent1 is refused.
    again = client.post(f"/api/v1/conversations/{cid}/transfer", json={"to_queue": "general"})
    assert again.status_code == 403 and again.headers["content-type"] == "application/problem+json"
    bad = client.post(
        f"/api/v1/conversations/{cid}/transfer", json={"to_queue": "general", "to_agent_id": 1}
    )
    assert bad.status_code == 422
    client.cookies.clear()
    login(client, "supervisor")
    loads = {
        a["username"]: a["load"] for a in client.get("/api/v1/supervisor/overview").json()["agents"]
    }
    assert loads["agent3"] >= 1
    page = client.get("/supervisor/queues")
    assert page.status_code == 200 and 'data-agent="agent3"' in page.text
    esc = client.post(
        f"/api/v1/conversations/{cid}/escalate", json={"reason": "客户要求主管回电"}
    ).json()
    assert esc["escalated"]
    assert any(
        f["conversation_id"] == cid
        for f in client.get("/api/v1/supervisor/overview").json()["flagged"]
    )


def test_html_forms_and_live_fragments(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "agent1")
    page = client.get("/workspace/inbox")
    assert page.status_code == 200 and "EventSource" in page.text
    token = CSRF.search(page.text).group(1)
    assert (
        client.post(
            "/workspace/presence",
            data={"presence": "online", "csrf": token},
            follow_redirects=False,
        ).status_code
        == 303
    )
    fragment = client.get("/workspace/inbox/fragment")
    assert 'data-testid="inbox-offers"' in fragment.text and "accept-" in fragment.text
    cid = int(re.search(r'data-testid="accept-(\d+)"', fragment.text).group(1))
    accepted = client.post(
        f"/workspace/conversations/{cid}/routing",
        data={"action": "accept", "csrf": token, "back": "/workspace/inbox"},
        follow_redirects=False,
    )
    assert accepted.status_code == 303 and accepted.headers["location"] == "/workspace/inbox"
    replied = client.post(
        f"/workspace/conversations/{cid}/act",
        data={"action": "reply", "text": "您好", "csrf": token},
        follow_redirects=False,
    )
    assert replied.status_code == 303
    assert (
        client.post(
            f"/workspace/conversations/{cid}/act",
            data={"action": "reply", "text": "x", "csrf": "forged"},
        ).status_code
        == 400
    )
    stream = client.get("/workspace/events", params={"max_seconds": 0.5})
    assert (
        stream.headers["content-type"].startswith("text/event-stream")
        and "event: hello" in stream.text
    )
    assert "/bill" in client.get("/workspace/scripts", params={"q": "bill"}).text
    assert client.get("/api/v1/inbox", params={"channel": "fax"}).status_code == 422


def test_workflow_admin_validates_and_dry_runs(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    current = client.get("/api/v1/routing/workflow").json()
    assert current["version"] == 1
    bad = client.put(
        "/api/v1/routing/workflow", json={"text": "queues: []\ndefault: {targets: [{queue: x}]}"}
    )
    assert bad.status_code == 422 and bad.json()["problems"][0]["path"] == "queues"
    doc = current["document"]
    doc["rules"].insert(
        0,
        {
            "name": "vip",
            "when": 'tier == "private"',
            "priority": 9,
            "targets": [{"queue": "general"}],
        },
    )
    assert client.put(
        "/api/v1/routing/workflow", json={"document": doc, "comment": "vip first"}
    ).json() == {"version": 2}
    run = client.post(
        "/api/v1/routing/dry-run",
        json={"conversation": {"channel": "sms", "tier": "private", "text": "信用卡"}},
    ).json()
    assert (run["rule"], run["current_target"]["queue"]) == ("vip", "general")
    page = client.get("/routing/workflow")
    token = CSRF.search(page.text).group(1)
    broken = client.post(
        "/routing/workflow", data={"text": "queues: [{name: Bad}]", "action": "save", "csrf": token}
    )
    assert broken.status_code == 422 and "queues[0].name" in broken.text
    webhook = client.post(
        "/api/v1/webhooks",
        json={"name": "crm", "url": "https://crm.example/hook", "events": ["conversation.created"]},
    )
    assert webhook.status_code == 201 and len(webhook.json()["secret"]) > 20


REFUSED = {
    "agent1": ["/supervisor/queues", "/api/v1/supervisor/overview", "/routing/workflow", "/api/v1/routing/workflow", "/api/v1/webhooks"],
    "analyst": ["/workspace/inbox", "/api/v1/inbox", "/api/v1/scripts", "/supervisor/queues", "/routing/workflow"],
    "teller": ["/workspace/inbox", "/api/v1/supervisor/overview", "/api/v1/routing/workflow"],
    "admin": ["/workspace/inbox", "/supervisor/queues", "/api/v1/conversations/1"],
}  # fmt: skip


@pytest.mark.parametrize("username", sorted(REFUSED))
def test_roles_are_refused(client, username: str) -> None:  # type: ignore[no-untyped-def]
    login(client, username)
    for path in REFUSED[username]:
        assert client.get(path).status_code == 403, path
    if username == "agent1":
        assert (
            client.post(
                "/api/v1/conversations/1/reassign", json={"to_queue": "general"}
            ).status_code
            == 403
        )
        assert (
            client.post("/api/v1/conversations", json={"channel": "sms", "text": "x"}).status_code
            == 403
        )
        assert (
            client.post(
                "/api/v1/scripts", json={"shortcut": "x", "title": "x", "body": "x"}
            ).status_code
            == 403
        )


def test_intake_meets_new_bank_customers_and_refuses_unknown_ones(client) -> None:  # type: ignore[no-untyped-def]
    routed = intake(client, text="查一下账单", customer_no="C0000000015")
    login(client, "supervisor")
    panel = client.get(f"/api/v1/conversations/{routed['conversation_id']}/customer").json()
    assert panel["known"] and panel["customer_no"] == "C0000000015"
    client.cookies.clear()
    login(client, "admin")
    bad = client.post(
        "/api/v1/conversations", json={"channel": "sms", "text": "x", "customer_no": "C9999999999"}
    )
    assert bad.status_code == 422 and "no customer" in bad.json()["detail"]
    invalid = client.post("/api/v1/conversations", json={"channel": "fax", "text": ""})
    assert invalid.status_code == 422 and {e["field"] for e in invalid.json()["errors"]} == {
        "channel",
        "text",
    }


def test_every_action_is_in_the_openapi_document(client) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in [
        ("/api/v1/conversations", "post"),
        ("/api/v1/conversations/{conversation_id}/accept", "post"),
        ("/api/v1/conversations/{conversation_id}/messages", "post"),
        ("/api/v1/conversations/batch-reply", "post"),
        ("/api/v1/conversations/{conversation_id}/transfer", "post"),
        ("/api/v1/conversations/{conversation_id}/escalate", "post"),
        ("/api/v1/conversations/{conversation_id}/close", "post"),
        ("/api/v1/supervisor/overview", "get"),
        ("/api/v1/routing/workflow", "put"),
        ("/api/v1/routing/dry-run", "post"),
        ("/api/v1/webhooks", "post"),
        ("/api/v1/scripts", "get"),
    ]:
        assert method in paths[path], (path, method)
    assert not any(p.startswith("/workspace/") for p in paths)  # HTML routes stay out


def test_conversation_page_forms(client) -> None:  # type: ignore[no-untyped-def]
    cid = intake(client, text="信用卡还款", customer_no="C0000000002")["conversation_id"]
    online(client, "agent1")
    page = client.get("/workspace/inbox")
    token = CSRF.search(page.text).group(1)

    def act(action: str, **extra: str):  # type: ignore[no-untyped-def]
        return client.post(f"/workspace/conversations/{cid}/routing", data={"action": action, "csrf": token, **extra},
                           follow_redirects=False)  # fmt: skip

    assert act("accept").status_code == 303
    assert act("pending").status_code == 303
    assert client.get(f"/api/v1/conversations/{cid}").json()["status"] == "pending"
    assert act("resume").status_code == 303
    assert act("escalate").status_code == 422  # a reason is required
    view = client.get(f"/workspace/conversations/{cid}")
    assert 'data-testid="customer-panel"' in view.text and "****" in view.text
    # Knowledge-base suggestions for the customer's last message load beside the reply box.
    assert 'data-testid="kb-suggestions-box"' in view.text
    suggestion_url = re.search(
        r'hx-get="(/knowledge/fragments/suggestions[^"]+)"', view.text
    ).group(1)
    fragment = client.get(suggestion_url.replace("&amp;", "&"))
    assert fragment.status_code == 200 and 'data-target="#reply-text"' in fragment.text
    note = client.post(f"/workspace/conversations/{cid}/act", data={"action": "note", "text": "@agent2 看下", "csrf": token},
                       follow_redirects=False)  # fmt: skip
    assert note.status_code == 303
    tags = client.post(f"/workspace/conversations/{cid}/act", data={"action": "tags", "text": "还款，VIP", "csrf": token},
                       follow_redirects=False)  # fmt: skip
    assert tags.status_code == 303
    assert act("transfer", to_queue="general", to_agent_id="1").status_code == 422
    assert act("close", text="resolved").status_code == 303
    detail = client.get(f"/api/v1/conversations/{cid}").json()
    assert detail["status"] == "closed" and detail["routing"]["disposition"] == "resolved"
    assert detail["routing"]["tags"] == ["VIP", "还款"] and detail["notes"][0]["mentions"] == [
        "agent2"
    ]
    client.cookies.clear()
    login(client, "agent2")
    mentions = client.get("/api/v1/inbox").json()["mentions"]
    assert [(m["conversation_id"], m["author"]) for m in mentions] == [(cid, "李晓雨")]
    assert 'data-testid="mentions"' in client.get("/workspace/inbox/fragment").text
    client.cookies.clear()
    login(client, "agent1")
    token = CSRF.search(client.get("/workspace/inbox").text).group(1)  # a new session, a new token
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds.index("pending") < kinds.index("resumed") < kinds.index("closed")
    assert act("close", text="resolved").status_code == 409  # already closed


def test_supervisor_live_fragment_and_workflow_dry_run_form(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "supervisor")
    fragment = client.get("/supervisor/queues/fragment")
    assert fragment.status_code == 200 and 'data-queue="complaint"' in fragment.text
    page = client.get("/routing/workflow")
    token = CSRF.search(page.text).group(1)
    text = re.search(r'data-testid="workflow-text">(.*?)</textarea>', page.text, re.S).group(1)
    run = client.post("/routing/workflow", data={"text": html.unescape(text), "action": "dry_run", "csrf": token,
                                                 "sample": '{"channel": "weibo", "text": "卡被盗刷", "crisis": true}'})  # fmt: skip
    assert run.status_code == 200 and 'data-testid="dry-run"' in run.text and "crisis" in run.text
    bad_sample = client.post("/routing/workflow", data={"text": html.unescape(text), "action": "dry_run", "csrf": token,
                                                        "sample": "[1]"})  # fmt: skip
    assert bad_sample.status_code == 422 and "JSON object" in bad_sample.text
