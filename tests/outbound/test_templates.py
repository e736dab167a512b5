"""SMS templates: placeholders, rendering with validated values, maker-checker, audit."""

from __future__ import annotations

import re

import pytest

from kefu.outbound import templates as template_service
from kefu.outbound.templates import TemplateError, check_body, placeholders, render
from tests.conftest import CSRF, login

BODY = "尊敬的{name}，您尾号{tail}的信用卡{{本期}}应还{amount}元。"


def test_placeholders_in_first_use_order_and_literal_braces() -> None:
    assert placeholders(BODY) == ["name", "tail", "amount"]
    assert placeholders("{a}{b}{a}") == ["a", "b"]
    text = render(BODY, {"name": "张三", "tail": "1234", "amount": 1234.5})
    assert text == "尊敬的张三，您尾号1234的信用卡{本期}应还1234.5元。"


@pytest.mark.parametrize(
    ("variables", "field", "words"),
    [
        ({"name": "张三", "tail": "1234"}, "variables", "missing amount"),
        (
            {"name": "张三", "tail": "1", "amount": 1, "x": "y"},
            "variables",
            "not in the template: x",
        ),
        ({"name": "张三\n回复1领奖", "tail": "1", "amount": 1}, "variables.name", "line breaks"),
        ({"name": "张三\r", "tail": "1", "amount": 1}, "variables.name", "control"),
        ({"name": "\u202e张三", "tail": "1", "amount": 1}, "variables.name", "control"),
        ({"name": "【假银行】", "tail": "1", "amount": 1}, "variables.name", "signature"),
        ({"name": "长" * 65, "tail": "1", "amount": 1}, "variables.name", "longer than 64"),
        ({"name": " ", "tail": "1", "amount": 1}, "variables.name", "empty"),
        ({"name": ["a"], "tail": "1", "amount": 1}, "variables.name", "string or a number"),
        ({"name": True, "tail": "1", "amount": 1}, "variables.name", "string or a number"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(variables, field, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TemplateError) as caught:
        render(BODY, variables)
    assert caught.value.field == field and words in str(caught.value)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("您好{name", "stray '{'"),
        ("您好}", "stray '}'"),
        ("您好{1abc}", "stray '{'"),
        ("【银行】您好", "signature"),
        ("您好\r\n再见", "control"),
        ("  ", "empty"),
        ("长" * 501, "at most 500"),
    ],
)
def test_bad_bodies_are_refused(body: str, words: str) -> None:
    with pytest.raises(TemplateError) as caught:
        check_body(body)
    assert caught.value.field == "body" and words in str(caught.value)


def _api(client, method: str, path: str, **kw):  # type: ignore[no-untyped-def]
    return client.request(method, "/api/v1/sms/templates" + path, **kw)


@pytest.mark.db
def test_maker_checker_through_the_api_with_audit(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    made = _api(client, "POST", "", json={"name": "bill-ready", "kind": "notification",
                                          "body": "您{month}月账单已出，应还{amount}元"})  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["variables"] == ["month", "amount"] and made.json()["status"] == "draft"
    assert _api(client, "POST", "", json={"name": "bill-ready", "kind": "notification",
                                          "body": "x"}).status_code == 409  # fmt: skip
    assert _api(client, "POST", "/bill-ready/submit").json()["status"] == "pending"
    # Admins write templates but do not approve them.
    assert _api(client, "POST", "/bill-ready/approve", json={}).status_code == 403
    client.cookies.clear()
    login(client, "supervisor")
    rejected = _api(client, "POST", "/bill-ready/reject", json={})
    assert rejected.status_code == 422 and "note" in rejected.json()["detail"]
    assert _api(client, "POST", "/bill-ready/approve", json={"note": "ok"}).json()["status"] == (
        "approved"
    )
    assert _api(client, "PUT", "/bill-ready", json={"body": "新的"}).status_code == 409
    # A supervisor's own template needs another reviewer.
    _api(client, "POST", "", json={"name": "own", "kind": "marketing", "body": "新品{x}"})
    _api(client, "POST", "/own/submit")
    own = _api(client, "POST", "/own/approve", json={})
    assert own.status_code == 403 and "own template" in own.json()["detail"]
    client.cookies.clear()
    login(client, "admin")
    audit = client.get("/api/v1/audit", params={"limit": 50}).json()
    actions = [(e["actor"], e["action"]) for e in audit if e["action"].startswith("sms_template")]
    assert ("admin", "sms_template.create") in actions
    assert ("admin", "sms_template.submit") in actions
    assert ("supervisor", "sms_template.approve") in actions
    assert ("supervisor", "sms_template.create") in actions
    assert not any(a == "sms_template.approve" and who == "admin" for who, a in actions)


@pytest.mark.db
def test_a_name_taken_between_the_check_and_the_insert_is_a_409(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two requests creating one name at once both pass the look-up; the loser must get the
    409 too, not a 500 from the unique key (schemathesis found it on PostgreSQL)."""
    login(client, "admin")
    first = {"name": "race-1", "kind": "notification", "body": "您好"}
    assert _api(client, "POST", "", json=first).status_code == 201

    async def nobody_yet(db, name):  # type: ignore[no-untyped-def]
        return None  # the look-up ran before the other request's insert

    monkeypatch.setattr(template_service, "by_name", nobody_yet)
    again = _api(client, "POST", "", json={**first, "body": "另一个"})
    assert again.status_code == 409, again.text
    assert "already exists" in again.json()["detail"]
    monkeypatch.undo()
    assert _api(client, "GET", "/race-1").json()["body"] == "您好"


@pytest.mark.db
def test_an_editor_who_changed_a_template_may_not_approve_it(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "supervisor")
    _api(client, "POST", "", json={"name": "t1", "kind": "notification", "body": "a{x}"})
    client.cookies.clear()
    login(client, "admin")
    client.post("/api/v1/users", json={"username": "sup2", "password": "Pa55word-long!",
                                       "role": "supervisor"})  # fmt: skip
    client.cookies.clear()
    login(client, "sup2", "Pa55word-long!")
    assert _api(client, "PUT", "/t1", json={"body": "b{x}"}).json()["updated_by"] == "sup2"
    _api(client, "POST", "/t1/submit")
    assert _api(client, "POST", "/t1/approve", json={}).status_code == 403  # last editor
    client.cookies.clear()
    login(client, "supervisor")
    assert _api(client, "POST", "/t1/approve", json={}).status_code == 403  # author


@pytest.mark.db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Bad Name", "kind": "notification", "body": "x"}, "name"),
        ({"name": "ok", "kind": "spam", "body": "x"}, "kind"),
        ({"name": "ok", "kind": "notification", "body": "x{"}, "body"),
        ({"name": "ok", "kind": "notification", "body": ""}, "body"),
        ({"name": "ok", "kind": "notification", "body": "x", "extra": 1}, "extra"),
        ({"name": "ok", "kind": "notification", "body": "x", "partner": "nobody"}, "partner"),
    ],
)
def test_bad_template_requests_name_the_field(client, body, field) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    response = _api(client, "POST", "", json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.db
def test_roles_without_the_permission_are_refused(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "agent1")
    assert _api(client, "GET", "").status_code == 403
    assert (
        _api(client, "POST", "", json={"name": "x", "kind": "otp", "body": "{code}"}).status_code
        == 403
    )
    assert client.get("/marketing/templates").status_code == 403


@pytest.mark.db
def test_pages_write_submit_and_approve(client) -> None:  # type: ignore[no-untyped-def]
    login(client, "admin")
    page = client.get("/marketing/templates")
    token = CSRF.search(page.text).group(1)
    made = client.post("/marketing/templates", data={"name": "card-offer", "kind": "marketing",
                       "body": "{name}您好，分期优惠", "csrf": token}, follow_redirects=False)  # fmt: skip
    assert made.status_code == 303
    url = made.headers["location"]
    bad = client.post("/marketing/templates", data={"name": "x", "kind": "marketing",
                      "body": "坏{", "csrf": token})  # fmt: skip
    assert "stray" in bad.text
    client.post(url + "/submit", data={"csrf": token})
    assert "approve-template" not in client.get(url).text  # the author sees no review form
    client.cookies.clear()
    login(client, "supervisor")
    page = client.get(url)
    assert "approve-template" in page.text
    token = CSRF.search(page.text).group(1)
    client.post(url + "/approve", data={"csrf": token, "note": "合规"})
    status = re.search(r'data-testid="template-status">([^<]+)<', client.get(url).text)
    assert status and status.group(1) in ("已批准", "approved")
