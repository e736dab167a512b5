"""Issue 21: the OpenAPI document states what kefu answers (kefu.web.openapi), and the answers
it states hold: problem+json refusals, the Allow header of a 405, the validation rules."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from kefu.web.inputs import MOBILE_PATTERN
from tests.conftest import login

pytestmark = pytest.mark.db
PROBLEM = "application/problem+json"


def _operations(document: dict) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    return [(m.upper(), p, op) for p, ops in document["paths"].items() for m, op in ops.items()]


def test_every_refusal_is_documented_as_problem_json(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, operation in _operations(document):
        for code, response in operation["responses"].items():
            if code.startswith(("4", "5")):
                assert list(response["content"]) == [PROBLEM], (method, path, code)
        codes = set(operation["responses"])
        if path.startswith("/api/"):  # every API operation names its caller and checks it
            assert {"401", "403"} <= codes, (method, path)
        if "{" in path:
            assert "404" in codes, (method, path)
        if "requestBody" in operation:
            assert {"413", "422"} <= codes, (method, path)


def test_refusals_raised_by_a_route_or_its_helpers_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "409" in paths["/api/v1/users"]["post"]["responses"]  # raised in the handler
    assert "400" in paths["/api/v1/users"]["post"]["responses"]  # a body that is not JSON
    assert "503" in paths["/readyz"]["get"]["responses"]
    assert "429" in paths["/channels/webchat/{site}/sessions"]["post"]["responses"]  # route class
    assert "409" in paths["/api/v1/sms/templates"]["post"]["responses"]  # EXTRA: the service
    assert "409" in paths["/api/v1/partners/{name}/templates/{template}"]["delete"]["responses"]


def test_validation_rules_are_in_the_schema(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["ConsentIn"]["properties"]["phone"]["pattern"] == MOBILE_PATTERN
    assert schemas["SendIn"]["properties"]["to"]["items"]["pattern"] == MOBILE_PATTERN
    password = schemas["UserIn"]["properties"]["password"]
    assert password["minLength"] == 10 and "pattern" in password
    assert "partner" not in schemas["UserIn"]["properties"]["role"]["enum"]
    # the web chat reads its bodies itself; the document still states them
    paths = client.get("/openapi.json").json()["paths"]
    message = paths["/channels/webchat/{site}/sessions/{session_id}/messages"]["post"]
    body = message["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["text"]["maxLength"] == 2000 and body["required"] == ["text"]


def test_what_the_schema_refuses_the_server_refuses(client: TestClient) -> None:
    login(client, "admin")
    weak = client.post(
        "/api/v1/users", json={"username": "u1", "password": "abcdefghij", "role": "agent"}
    )
    assert weak.status_code == 422 and weak.headers["content-type"] == PROBLEM
    spaced = client.post(
        "/api/v1/marketing/consents", json={"phone": " 13812345678", "source": "web"}
    )
    assert spaced.status_code == 422
    ok = client.post(
        "/api/v1/marketing/consents", json={"phone": "+8613812345678", "source": "web"}
    )
    assert ok.status_code == 201 and ok.json()["phone"] == "13812345678"


def test_a_405_allows_every_method_of_the_path(client: TestClient) -> None:
    login(client, "admin")
    users = client.patch("/api/v1/users")
    assert users.status_code == 405 and users.headers["allow"] == "GET, POST"
    assert users.headers["content-type"] == PROBLEM
    # a literal segment is more specific than {region}: sync is POST only
    sync = client.get("/api/v1/wechat/demo/menus/sync")
    assert sync.status_code == 405 and sync.headers["allow"] == "POST"


def test_an_id_too_large_to_store_is_a_422_not_a_500(client: TestClient) -> None:
    login(client, "admin")
    for path in ("/api/v1/sms/messages/99605012206078361600", "/api/v1/webhooks/" + "9" * 25):
        method = "GET" if "messages" in path else "DELETE"
        response = client.request(method, path)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == PROBLEM


def test_an_operation_outside_api_refuses_in_problem_json(client: TestClient) -> None:
    # the web chat API is in the document; its refusals are problem+json whatever Accept says
    response = client.get(
        "/channels/webchat/nosuch/sessions/x/messages", headers={"Accept": "text/html"}
    )
    assert response.status_code == 404 and response.headers["content-type"] == PROBLEM


def test_a_nul_in_a_name_is_a_422_not_a_500(client: TestClient) -> None:
    # PostgreSQL stores no U+0000: the lookup of partner "a\x00b" raised a DataError (a 500)
    login(client, "admin")
    response = client.post("/api/v1/partners/a%00b/disable")
    assert response.status_code in (404, 422), response.text  # 404 where SQLite can look
    assert response.headers["content-type"] == PROBLEM
