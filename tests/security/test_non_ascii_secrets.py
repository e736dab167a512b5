"""Every comparison of a secret with what a caller sent survives non-ASCII input.

``hmac.compare_digest`` refuses ``str`` arguments holding non-ASCII characters with a
TypeError — a 500 for a hostile header or form field instead of a refusal. Fuzzing found it in
WeChat's callback; these are the other places a caller's text meets a secret: the staff forms'
CSRF token, the bank contract's bearer token, a TOTP code (``isdigit`` accepts Arabic-Indic
digits), the H5 OAuth state, and the Weibo push and social webhook signatures (tested with
their routes in tests/channels)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from fastapi import HTTPException

from kefu.auth import totp
from kefu.bank.http.contract import _check_token
from kefu.hall.h5.auth import OAUTH_COOKIE, OAUTH_TTL, returning_to
from kefu.hall.h5.signing import sign
from kefu.web.deps import check_csrf


def test_a_totp_code_in_other_digits_is_refused_not_an_error() -> None:
    secret = totp.new_secret()
    now = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
    assert "١٢٣٤٥٦".isdigit()  # why the digit check alone does not keep it out
    assert totp.verify(secret, "١٢٣٤٥٦", now, None) is None
    right = totp.code_at(secret, totp.step_at(now))
    assert totp.verify(secret, right, now, None) == totp.step_at(now)


@pytest.mark.parametrize("submitted", ["é", "令牌", "tok\u00e9n"])
def test_a_non_ascii_csrf_token_is_the_expired_form_answer(submitted: str) -> None:
    request = SimpleNamespace(session={"csrf": "token-of-the-session"})
    with pytest.raises(HTTPException) as refused:
        check_csrf(request, submitted)  # type: ignore[arg-type]
    assert refused.value.status_code == 400


def test_a_non_ascii_bearer_token_is_401() -> None:
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(token="bank-token")),
                              headers={"authorization": "Bearer é"})  # fmt: skip
    with pytest.raises(HTTPException) as refused:
        _check_token(request)  # type: ignore[arg-type]
    assert refused.value.status_code == 401


def test_a_non_ascii_oauth_state_is_no_way_back() -> None:
    settings = SimpleNamespace(session_secret="s" * 32)
    cookie = sign(settings.session_secret, "h5-oauth", ["demo", "/h5/demo/bill", "nonce-1"],
                  ttl=OAUTH_TTL)  # fmt: skip
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(settings=settings)),
                              cookies={OAUTH_COOKIE: cookie})  # fmt: skip
    assert returning_to(request, "demo", "状态") is None  # type: ignore[arg-type]
    assert returning_to(request, "demo", "nonce-1") == "/h5/demo/bill"  # type: ignore[arg-type]
