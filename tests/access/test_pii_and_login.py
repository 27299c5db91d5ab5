"""Personal data masked everywhere it leaves (answers, the stream, logs); the browser door."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from factories import bearer, chat
from fastapi.testclient import TestClient

from qc_service.pipeline.files import ingest_one
from qc_service.rules.contact import mask_pii
from qc_service.store import Store
from qc_service.web.login import HOME
from qc_service.web.masking import clean_log_text, install_log_masking, mask_json_text

LUHN_CARD = "6222021234567890123"


def _luhn(number: str) -> bool:
    digits = [int(d) for d in number][::-1]
    return (
        sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)) % 10
        == 0
    )


def _valid_card() -> str:
    base = LUHN_CARD[:-1]
    return next(base + str(c) for c in range(10) if _luhn(base + str(c)))


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("我电话13812345678", "12345678"),
        ("打一三八一二三四五六七八找我", "一二三四五六七八"),
        ("号码 138 1234 5678", "138 1234 5678"),
        ("１３８１２３４５６７８", "１３８１２３４５６７８"),
        ("身份证11010519491231002X", "11010519491231002X"),
        ("发我邮箱 zhang.san@example.com", "zhang.san@example.com"),
    ],
)
def test_masks_keep_length_and_hide_the_middle(text: str, hidden: str) -> None:
    masked = mask_pii(text)
    assert len(masked) == len(text)
    assert hidden not in masked
    assert "*" in masked


def test_bank_cards_with_a_valid_checksum_are_masked_order_numbers_are_not() -> None:
    card = _valid_card()
    assert card not in mask_pii(f"卡号{card}")
    assert mask_pii("订单号 2026111403987193") == "订单号 2026111403987193"
    assert mask_pii("13812345678") == "138****5678"


def test_json_answers_are_masked_and_stay_valid_json() -> None:
    import json

    doc = json.dumps({"text": "电话13812345678", "n": 13812345678, "at": "2026-11-20T09:00:01+08:00",
                      "esc": "a\"b 13912345678"}, ensure_ascii=False)  # fmt: skip
    out = json.loads(mask_json_text(doc))
    assert out == {"text": "电话138****5678", "n": 13812345678, "at": "2026-11-20T09:00:01+08:00",
                   "esc": 'a"b 139****5678'}  # fmt: skip


@pytest.fixture
def phone_chat(client: TestClient, store: Store) -> dict[str, Any]:
    rec = chat("c-pii", "e1", "销售一组", "u1", "加我微信，电话一三八一二三四五六七八")
    assert ingest_one(store, rec, final=True).conversation_status == "analysed"
    return rec


def test_every_role_sees_masked_numbers_and_evidence_offsets_still_match(
    client: TestClient, store: Store, phone_chat: dict[str, Any]
) -> None:
    for headers in ({}, bearer(store, "reviewer"), bearer(store, "sales"), bearer(store, "agent")):
        body = client.get("/v1/conversations/c-pii", headers=headers).json()
        text = body["messages"][1]["text"]
        assert "一二三四五六七八" not in text and text.startswith(
            "加我微信，电话一三八****五六七八"
        )
        assert "13812345678" not in client.get(
            "/v1/customers/u1", headers=headers
        ).text or headers == bearer(store, "agent")
        for v in body["violations"]:
            for e in v["evidence"]:
                if e.get("start") is not None and e["message_id"] == "m2":
                    assert text[e["start"] : e["end"]] == e["text"]
    for headers in ({}, bearer(store, "reviewer"), bearer(store, "sales")):
        customer = client.get("/v1/customers/u1", headers=headers)
        assert customer.json()["phone"] == "138****5678"


def test_reveal_is_for_admins_only_and_audited(
    client: TestClient, store: Store, phone_chat: dict[str, Any]
) -> None:
    r = client.get("/v1/conversations/c-pii", params={"reveal": "pii"})
    assert "一三八一二三四五六七八" in r.text
    denied = client.get(
        "/v1/conversations/c-pii", params={"reveal": "pii"}, headers=bearer(store, "reviewer")
    )
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "FORBIDDEN")
    events = client.get("/v1/audit", params={"action": "pii.revealed"}).json()["items"]
    assert [(e["actor"], e["object_id"]) for e in events] == [
        ("test-admin", "/v1/conversations/c-pii")
    ]


def test_log_lines_carry_no_phone_token_or_password(
    client: TestClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    install_log_masking()
    token = bearer(store, "agent")["Authorization"]
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("qc_service.test").warning("customer 13812345678 sent %s", token)
        client.post("/login", data={"username": "nobody", "password": "hunter2-secret"})
        rec = chat("c-log", "e1", "销售一组", "u1", "电话13912345678")
        client.post(
            "/v1/conversations", json={"records": [rec]}, headers=bearer(store, "integration")
        )
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "13812345678" not in logged and "13912345678" not in logged
    assert token.split()[1] not in logged and "hunter2-secret" not in logged
    assert "138****5678" in logged
    assert clean_log_text("Bearer qct_abcdefghijkl") == "Bearer [redacted]"


def test_login_sets_a_session_cookie_and_wrong_or_unknown_look_the_same(
    client: TestClient, store: Store
) -> None:
    bearer(store, "reviewer", username="li")
    client.headers.pop("Authorization")
    wrong = client.post(
        "/login", data={"username": "li", "password": "nope-nope"}, follow_redirects=False
    )
    unknown = client.post(
        "/login", data={"username": "zz", "password": "nope-nope"}, follow_redirects=False
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"] == {**unknown.json()["error"]}
    ok = client.post(
        "/login", data={"username": "li", "password": "password-123"}, follow_redirects=False
    )
    assert (ok.status_code, ok.headers["location"]) == (303, "/review")  # the reviewer's home
    cookie = ok.headers["set-cookie"]
    assert (
        "qc_session=" in cookie
        and "HttpOnly" in cookie
        and "SameSite=lax" in cookie.replace("Lax", "lax")
    )
    me = client.get("/v1/me").json()
    assert (me["username"], me["role"]) == ("li", "reviewer")
    # state changes from a browser need the CSRF token
    vid_url = "/v1/violations/1/confirm"
    refused = client.post(vid_url, json={})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "CSRF_FAILED")
    passed = client.post(vid_url, json={}, headers={"X-CSRF-Token": me["csrf_token"]})
    assert passed.status_code == 404  # through the door; no violation 1 here
    out = client.post("/logout", headers={"X-CSRF-Token": me["csrf_token"]}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set("qc_session", cookie.split("qc_session=")[1].split(";")[0])
    assert client.get("/v1/me").json()["error"]["code"] == "AUTH_INVALID"


def test_five_failures_throttle_even_the_right_password(client: TestClient, store: Store) -> None:
    bearer(store, "reviewer", username="wang")
    client.headers.pop("Authorization")
    for _ in range(5):
        assert (
            client.post("/login", data={"username": "wang", "password": "bad-bad-bad"}).status_code
            == 401
        )
    r = client.post(
        "/login", data={"username": "wang", "password": "password-123"}, follow_redirects=False
    )
    assert (r.status_code, r.json()["error"]["code"]) == (429, "LOGIN_THROTTLED")
    assert 0 < int(r.headers["Retry-After"]) <= 15 * 60 + 1
    other = client.post(
        "/login",
        data={"username": "test-admin", "password": "password-123"},
        follow_redirects=False,
    )
    assert other.status_code == 303  # the throttle is per username


def test_expired_revoked_and_disabled_credentials_are_401(client: TestClient, store: Store) -> None:
    from qc_service.db.session import write_transaction
    from qc_service.identity import service as identity

    headers = bearer(store, "reviewer", username="zhao")
    assert client.get("/v1/rules", headers=headers).status_code == 200
    with write_transaction(store.session_factory) as db:
        identity.revoke_token(db, token=headers["Authorization"].split()[1], actor="tests")
    assert client.get("/v1/rules", headers=headers).json()["error"]["code"] == "AUTH_INVALID"
    headers = bearer(store, "reviewer", username="qian")
    with write_transaction(store.session_factory) as db:
        identity.disable_user(db, username="qian", actor="tests")
    assert client.get("/v1/rules", headers=headers).status_code == 401


def test_an_unexpected_error_is_a_500_in_the_error_shape_with_an_id_the_log_carries(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    from qc_service.main import create_app

    app = create_app(store.settings, store=store)

    @app.get("/v1/boom")
    def boom() -> None:
        raise RuntimeError("customer 13812345678 broke it")

    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        install_log_masking()
        r = client.get("/v1/boom")
    body = r.json()["error"]
    assert (r.status_code, body["code"]) == (500, "INTERNAL") and len(body["error_id"]) == 12
    assert "13812345678" not in r.text and "Traceback" not in r.text
    logged = "\n".join(rec.getMessage() + (rec.exc_text or "") for rec in caplog.records)
    assert body["error_id"] in logged and "13812345678" not in logged and "138****5678" in logged


def test_every_demo_user_logs_in_to_their_home_and_a_browser_failure_shows_the_form(
    store: Store,
) -> None:
    import io

    from rich.console import Console

    from qc_service.cli.store_cmds import DEMO_PASSWORD, DEMO_USERS, print_demo_users
    from qc_service.main import create_app

    out = io.StringIO()
    print_demo_users(store, Console(file=out, width=200))
    print_demo_users(store, Console(file=io.StringIO()))  # a second `qc demo` adds nobody twice
    assert "a local toy" in out.getvalue() and DEMO_PASSWORD in out.getvalue()
    homes = {"admin": "/rules", "manager": "/dashboard", "reviewer": "/review", "agent": "/me",
             "sales": "/customers", "integration": "/docs"}  # fmt: skip
    with TestClient(create_app(store.settings, store=store)) as client:
        for username, role, _employee, _teams in DEMO_USERS:
            r = client.post(
                "/login",
                data={"username": username, "password": DEMO_PASSWORD},
                follow_redirects=False,
            )
            assert (r.status_code, r.headers["location"]) == (303, homes[role]), username
            assert homes[role] == HOME[role]
            assert client.get("/v1/me").json()["role"] == role
            client.cookies.clear()
        page = client.post("/login", data={"username": "demo-admin", "password": "wrong-wrong"},
                           headers={"accept": "text/html"})  # fmt: skip
        assert (
            page.status_code == 401
            and "用户名或密码错误" in page.text
            and 'lang="zh-CN"' in page.text
        )
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        nxt = client.post("/login", data={"username": "demo-reviewer", "password": DEMO_PASSWORD, "next": "/review/7"},
                          follow_redirects=False)  # fmt: skip
        assert nxt.headers["location"] == "/review/7"
        client.cookies.clear()
        evil = client.post("/login", data={"username": "demo-reviewer", "password": DEMO_PASSWORD,
                                           "next": "//evil.example/"}, follow_redirects=False)  # fmt: skip
        assert evil.headers["location"] == "/review"  # the role's home, never another host


def test_pages_answer_errors_as_pages_and_send_the_logged_out_to_login(
    client: TestClient, store: Store
) -> None:
    html = {"accept": "text/html"}
    client.headers.pop("Authorization")
    r = client.get("/docs", params={"x": "1"}, headers=html, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/login?next=/docs%3Fx%3D1")
    missing = client.get("/no-such-page", headers=html)
    assert (
        missing.status_code == 404 and "未找到" in missing.text and 'lang="zh-CN"' in missing.text
    )
    fragment = client.get("/no-such-page", headers={**html, "HX-Request": "true"})
    assert fragment.text.startswith('<div role="alert"') and "<html" not in fragment.text
    api = client.get("/v1/violations", headers=html)  # the API stays JSON whatever the Accept
    assert (api.status_code, api.json()["error"]["code"]) == (401, "AUTH_REQUIRED")
    agent_docs = client.get("/docs", headers={**html, **bearer(store, "agent")})
    assert agent_docs.status_code == 200  # any user may read the contract


def test_a_cross_site_form_cannot_log_a_browser_in(client: TestClient, store: Store) -> None:
    bearer(store, "reviewer", username="li")
    client.headers.pop("Authorization")
    form = {"username": "li", "password": "password-123"}
    for headers in (
        {"origin": "https://evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "null"},
    ):
        r = client.post("/login", data=form, headers=headers, follow_redirects=False)
        assert (r.status_code, r.json()["error"]["code"]) == (403, "CSRF_FAILED"), headers
        assert "set-cookie" not in r.headers
    own = client.post("/login", data=form, headers={"origin": "http://testserver", "sec-fetch-site": "same-origin"},
                      follow_redirects=False)  # fmt: skip
    assert own.status_code == 303 and own.headers["location"] == "/review"  # the reviewer's home
    home = client.get("/", headers={"accept": "text/html"})
    assert "li（质检员）" in home.text and "退出" in home.text
    bad = client.post(
        "/login", data={"username": "x" * 300, "password": "p"}, headers={"accept": "text/html"}
    )
    assert bad.status_code == 422 and "用户名或密码错误" in bad.text


def test_uvicorn_access_log_lines_are_masked_and_still_formatted() -> None:
    from uvicorn.logging import AccessFormatter

    install_log_masking()
    record = logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/v1/customers/u1?phone=13812345678", "1.1", 200),
        None,
    )
    line = AccessFormatter(
        '%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False
    ).format(record)
    assert "13812345678" not in line and "138****5678" in line and line.endswith("200 OK")
