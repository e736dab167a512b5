"""Server-Sent Events on a real socket: replies arrive on the stream, and a reconnecting
client gets what it missed (Last-Event-ID); a stored message left unanswered is answered by
the sweep (nothing accepted is lost)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kefu.channels.webchat.models import WebchatMessage
from kefu.channels.wechat.simulator.serve import serve
from tests.channels.webchat.conftest import API, ORIGIN

pytestmark = pytest.mark.db


async def _events(response: httpx.Response, count: int) -> list[tuple[str, str, Any]]:
    """The first ``count`` message events of a stream as (id, event, data)."""
    found: list[tuple[str, str, Any]] = []
    event_id = event = ""
    async for line in response.aiter_lines():
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            if event == "message":
                found.append((event_id, event, json.loads(line[6:])))
                if len(found) >= count:
                    return found
        elif line == "":
            event_id = event = ""
    return found


async def test_stream_delivers_replies_and_replays_after_reconnect(webchat_settings) -> None:  # type: ignore[no-untyped-def]
    from kefu.app import create_app

    served = await serve(create_app(webchat_settings))
    try:
        async with httpx.AsyncClient(base_url=served.url, headers={"Origin": ORIGIN},
                                     timeout=20) as http:  # fmt: skip
            session = (await http.post(f"{API}/sessions", json={})).json()
            url = f"{API}/sessions/{session['session']}/events?token={session['token']}"
            auth = {"Authorization": f"Bearer {session['token']}"}
            async with http.stream("GET", url) as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                assert stream.headers["access-control-allow-origin"] == ORIGIN
                posted = await http.post(f"{API}/sessions/{session['session']}/messages",
                                         json={"text": "帮助"}, headers=auth)  # fmt: skip
                assert posted.status_code == 202
                greeting, mine, reply = await asyncio.wait_for(_events(stream, 3), 15)
            assert [greeting[0], mine[0], reply[0]] == ["1", "2", "3"]
            assert mine[2]["direction"] == "in" and reply[2]["sender"] == "bot"
            # Disconnected: a message sent meanwhile, then a reconnect from the last id seen.
            await http.post(f"{API}/sessions/{session['session']}/messages",
                            json={"text": "你好"}, headers=auth)  # fmt: skip
            async with http.stream("GET", url, headers={"Last-Event-ID": "3"}) as again:
                missed = await asyncio.wait_for(_events(again, 2), 15)
            assert [int(m[0]) for m in missed] == [4, 5]
            assert missed[0][2]["text"] == "你好" and missed[1][2]["sender"] == "bot"
    finally:
        await served.stop()


async def test_a_stored_message_left_unanswered_is_answered_by_the_sweep(webchat_settings) -> None:  # type: ignore[no-untyped-def]
    from fastapi import FastAPI

    from kefu.app import create_app

    app: FastAPI = create_app(webchat_settings)
    served = await serve(app)
    try:
        channel = app.state.webchat

        async def crash(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("the process died before answering")

        real = channel._answer
        channel._answer = crash  # the answer task dies; the message is stored already
        async with httpx.AsyncClient(base_url=served.url, headers={"Origin": ORIGIN},
                                     timeout=20) as http:  # fmt: skip
            session = (await http.post(f"{API}/sessions", json={})).json()
            auth = {"Authorization": f"Bearer {session['token']}"}
            posted = await http.post(f"{API}/sessions/{session['session']}/messages",
                                     json={"text": "帮助"}, headers=auth)  # fmt: skip
            assert posted.status_code == 202
            await asyncio.sleep(0.2)
            channel._answer = real
            async with channel.sessionmaker() as db:
                row = await db.scalar(select(WebchatMessage).where(WebchatMessage.seq == 2))
                assert row is not None and row.state == "received"
                row.created_at = row.created_at.replace(year=row.created_at.year - 1)
                await db.commit()
            assert await channel.sweep() == 1
            body = (await http.get(f"{API}/sessions/{session['session']}/messages?after=0",
                                   headers=auth)).json()  # fmt: skip
            assert [m["sender"] for m in body["messages"]] == ["bot", "customer", "bot"]
    finally:
        await served.stop()


async def _state_where(lines, predicate) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    event = ""
    async for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "state":
            state = json.loads(line[6:])
            if predicate(state):
                return state
    raise AssertionError("the stream ended")


async def test_an_agent_taking_the_chat_reaches_the_stream_without_a_message(
    webchat_settings,
) -> None:  # type: ignore[no-untyped-def]
    """Routing knows nothing of web chat: the channel notices the assignment and says so."""
    from sqlalchemy import update

    from kefu.agents.models import Agent
    from kefu.app import create_app
    from kefu.conversations.models import Conversation
    from kefu.routing.models import RoutingTask, TaskState

    app = create_app(webchat_settings)
    served = await serve(app)
    try:
        async with httpx.AsyncClient(base_url=served.url, headers={"Origin": ORIGIN},
                                     timeout=20) as http:  # fmt: skip
            session = (await http.post(f"{API}/sessions", json={})).json()
            url = f"{API}/sessions/{session['session']}/events?token={session['token']}"
            auth = {"Authorization": f"Bearer {session['token']}"}
            async with http.stream("GET", url) as stream:
                lines = stream.aiter_lines()
                await http.post(f"{API}/sessions/{session['session']}/messages",
                                json={"text": "转人工"}, headers=auth)  # fmt: skip
                waiting = await asyncio.wait_for(_state_where(lines, lambda s: s["handed_off"]), 15)
                assert waiting["agent"] is None and waiting["queue_position"] >= 1
                async with app.state.sessionmaker() as db:
                    agent = await db.scalar(select(Agent).where(Agent.username == "agent1"))
                    conversation = await db.scalar(select(Conversation).where(
                        Conversation.contact == f"v:{session['session']}"))  # fmt: skip
                    assert agent is not None and conversation is not None
                    conversation.assigned_agent_id = agent.id
                    await db.execute(update(RoutingTask)
                                     .where(RoutingTask.conversation_id == conversation.id)
                                     .values(state=TaskState.ASSIGNED, agent_id=agent.id))  # fmt: skip
                    await db.commit()
                served_by = await asyncio.wait_for(
                    _state_where(lines, lambda s: s["agent"] is not None), 5
                )  # well before the 15 s ping: the channel looked
            assert served_by["agent"] == agent.display_name and served_by["queue_position"] is None
    finally:
        await served.stop()
