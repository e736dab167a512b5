"""The workflow page: the diagram, rule forms on its nodes, the dry run on the same page, and
the refusal of a save based on a version someone else has replaced."""

from __future__ import annotations

import html
import json
import re

import pytest

from tests.conftest import CSRF, login

pytestmark = pytest.mark.db


def _token(page: str) -> str:
    return CSRF.search(page).group(1)  # type: ignore[union-attr]


def _state(page: str, node: str) -> str:
    match = re.search(rf'data-node="{node}" data-state="([a-z]*)"', page)
    assert match, node
    return match.group(1)


def test_the_diagram_the_dry_run_and_edits_through_forms(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "supervisor")
    page = client.get("/routing/workflow")
    assert page.status_code == 200 and 'data-testid="diagram"' in page.text
    assert len(re.findall(r'data-node="rule-\d"', page.text)) == 5
    assert len(re.findall(r'data-node="queue-[a-z_]+"', page.text)) == 4
    assert 'href="/routing/workflow?edit=0#editor"' in page.text
    assert "规则（按顺序匹配）" in page.text and "优先级 8" in page.text  # Chinese first
    assert "Rules, in order" in client.get("/routing/workflow", params={"lang": "en"}).text
    client.cookies.delete("kefu_lang")
    token = _token(page.text)

    # The dry run on the same page: the path is marked on the picture.
    sample = {"csrf": token, "channel": "weibo", "text": "我的卡被盗刷了", "keywords": "盗刷",
              "sentiment": "-0.8", "tier": "gold", "waited": "0"}  # fmt: skip
    run = client.post("/routing/workflow/try", data=sample)
    assert run.status_code == 200
    assert _state(run.text, "rule-0") == "matched" and _state(run.text, "rule-1") == ""
    assert _state(run.text, "target-0-0") == "current"
    assert (
        _state(run.text, "queue-complaint") == "current" and _state(run.text, "boosts") == "applied"
    )
    assert re.search(r'data-testid="dry-run-priority">11<', run.text)  # 8 + 2 (negative) + 1 (gold)
    later = client.post("/routing/workflow/try", data={**sample, "waited": "300"})
    assert (
        _state(later.text, "target-0-1") == "current"
        and _state(later.text, "queue-general") == "current"
    )
    bad = client.post("/routing/workflow/try", data={**sample, "sentiment": "很差"})
    assert bad.status_code == 422 and 'data-error="sentiment"' in bad.text
    assert 'value="很差"' in bad.text  # the input is kept

    # Edit a rule's form: a new version, as the YAML editor would make it.
    form = client.get("/routing/workflow", params={"edit": "1"})
    assert 'data-testid="rule-form"' in form.text and 'value="negative_social"' in form.text
    fields = dict(re.findall(r'<input name="([a-z0-9_]+)" value="([^"]*)"', form.text))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    fields.update({"t0_queue": "complaint", "t1_queue": "general", "priority": "6", "csrf": token,
                   "key": "1", "base_version": "1", "op": "save"})  # fmt: skip
    saved = client.post("/routing/workflow/rules", data=fields)
    assert saved.status_code == 200 and 'data-testid="saved"' in saved.text
    current = client.get("/api/v1/routing/workflow").json()
    assert current["version"] == 2 and current["document"]["rules"][1]["priority"] == 6
    assert current["versions"][0]["comment"] == "修改规则 negative_social"

    # Invalid edits keep the input and say what is wrong next to the field, in Chinese.
    broken = client.post(
        "/routing/workflow/rules",
        data={**fields, "base_version": "2", "when": "channel == <b>", "t0_skills": "complaint:9"},
    )
    assert broken.status_code == 422
    assert 'value="channel == &lt;b&gt;"' in broken.text and "<b>" not in broken.text
    assert re.search(r'data-error="when">第 11 个字符处', broken.text)
    assert 'data-error="t0_skills">技能等级为 0 到 5。' in broken.text
    assert client.get("/api/v1/routing/workflow").json()["version"] == 2  # nothing saved

    # Add a rule, move it first, then delete it: each a version.
    new = {"csrf": token, "key": "new", "op": "save", "base_version": "2", "name": "vip",
           "when": 'tier == "private"', "priority": "9", "t0_queue": "general"}  # fmt: skip
    assert client.post("/routing/workflow/rules", data=new).status_code == 200
    for version in (3, 4, 5, 6, 7):
        moved = client.post("/routing/workflow/rules", data={"csrf": token, "key": str(8 - version),
                            "op": "up", "base_version": str(version)})  # fmt: skip
        assert moved.status_code == 200, moved.text
    rules = client.get("/api/v1/routing/workflow").json()["document"]["rules"]
    assert [r["name"] for r in rules][:2] == ["vip", "crisis"]
    gone = client.post("/routing/workflow/rules", data={"csrf": token, "key": "0", "op": "delete",
                                                        "base_version": "8"})  # fmt: skip
    assert gone.status_code == 200
    assert [r["name"] for r in client.get("/api/v1/routing/workflow").json()["document"]["rules"]][
        0
    ] == "crisis"
    missing = client.post("/routing/workflow/rules", data={"csrf": token, "key": "42", "op": "delete",
                                                           "base_version": "9"})  # fmt: skip
    assert missing.status_code == 404
    no_csrf = client.post("/routing/workflow/rules", data={**new, "csrf": "", "base_version": "9"})
    assert no_csrf.status_code == 400  # web.deps.check_csrf
    assert client.get("/api/v1/routing/workflow").json()["version"] == 9


def test_a_second_supervisor_saving_the_same_version_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "supervisor")
    token = _token(client.get("/routing/workflow").text)
    first = {"csrf": token, "key": "0", "op": "save", "base_version": "1", "name": "crisis",
             "when": "crisis", "priority": "9", "t0_queue": "complaint"}  # fmt: skip
    assert client.post("/routing/workflow/rules", data=first).status_code == 200
    # The second editor also opened version 1 and now saves: refused, their input kept.
    second = {**first, "priority": "3", "when": 'crisis or tier == "gold"'}
    refused = client.post("/routing/workflow/rules", data=second)
    assert refused.status_code == 409 and 'data-testid="conflict"' in refused.text
    assert (
        "已保存了第 2 版" in refused.text
        and 'value="crisis or tier == &#34;gold&#34;"' in refused.text
    )
    rule = client.get("/api/v1/routing/workflow").json()["document"]["rules"][0]
    assert (rule["priority"], rule["when"]) == (9, "crisis")  # the first save stands
    # The YAML editor checks the same way.
    page = client.get("/routing/workflow")
    text = html.unescape(
        re.search(r'data-testid="workflow-text">(.*?)</textarea>', page.text, re.S).group(1)
    )
    stale = client.post("/routing/workflow", data={"text": text.replace("priority: 9", "priority: 4"),
                                                   "action": "save", "csrf": token, "base_version": "1"})  # fmt: skip
    assert stale.status_code == 409 and "priority: 4" in stale.text
    fresh = client.post("/routing/workflow", data={"text": text, "action": "save", "csrf": token,
                                                   "base_version": "2", "comment": "same again"})  # fmt: skip
    assert (
        fresh.status_code == 200 and client.get("/api/v1/routing/workflow").json()["version"] == 3
    )


def test_user_text_in_the_workflow_is_escaped_everywhere(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    document = client.get("/api/v1/routing/workflow").json()["document"]
    document["rules"].insert(0, {"name": "<img src=x onerror=alert(1)>", "when": '"<script>" in text',
                                 "targets": [{"queue": "general", "expression": 'username != "</text><svg>"'}]})  # fmt: skip
    document["queues"][3]["label"] = "<i>综合</i>"
    assert client.put("/api/v1/routing/workflow", json={"document": document}).status_code == 200
    page = client.get("/routing/workflow")
    for raw in ("<img src=x", "<script>", "</text><svg>", "<i>综合"):
        assert raw not in page.text, raw
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    token = _token(page.text)
    run = client.post(
        "/routing/workflow/try", data={"csrf": token, "channel": "sms", "text": "<script>"}
    )
    assert _state(run.text, "rule-0") == "matched" and "&lt;img src=x" in run.text


def test_a_workflow_text_over_its_limit_is_422_even_in_escaped_json(client) -> None:  # type: ignore[no-untyped-def]
    """One character over the limit, each an astral character (12 bytes escaped in JSON):
    the field's own refusal (422), not the server's body limit (413)."""
    from kefu.routing.views import TEXT_MAX

    login(client, "admin")
    raw = json.dumps({"text": "\U0001f600" * (TEXT_MAX + 1)}).encode()  # ensure_ascii escapes
    answer = client.put("/api/v1/routing/workflow", content=raw,
                        headers={"content-type": "application/json"})  # fmt: skip
    assert answer.status_code == 422, answer.text[:200]
