"""Builders of records shared by the service, API and CLI tests."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qc_service.store import Store


def record(rid: str = "c1", *messages: tuple[str, str, str], **extra: Any) -> dict[str, Any]:
    """A chat record with ``(id, role, text)`` messages."""
    return {
        "id": rid, "channel": "wecom",
        "employee": {"id": "e1", "name": "张伟", "team": "销售一组", "supervisor_id": "e9"},
        "customer": {"id": "u1", "name": "李女士", "phone": "13900000000"},
        "messages": [{"id": mid, "role": role, "text": text} for mid, role, text in messages],
        **extra,
    }  # fmt: skip


def bearer(
    store: Store,
    role: str = "admin",
    *,
    employee_id: str | None = None,
    teams: list[str] | None = None,
    tenant: str = "default",
    username: str | None = None,
) -> dict[str, str]:
    """``Authorization`` headers of a new user of ``role`` (created through the identity service,
    as ``qc users add`` + ``qc tokens create`` do)."""
    from qc_service.db.session import write_transaction
    from qc_service.identity import service as identity

    if role in ("agent", "sales") and employee_id is None:
        employee_id = "e1"
    if role == "manager" and not teams:
        teams = ["销售一组"]
    key = (store.settings.database_url, role, employee_id, tuple(teams or ()), tenant, username)
    if key in _TOKENS:
        return _TOKENS[key]
    name = username or f"{role}-{tenant}-{employee_id or ''}-{secrets.token_hex(3)}"
    with write_transaction(store.session_factory) as db:
        identity.add_user(db, username=name, tenant_id=tenant, role=role, password="password-123",
                          employee_id=employee_id, teams=teams, actor="tests")  # fmt: skip
        token = identity.create_token(
            db, username=name, name="tests", expires_days=None, actor="tests"
        )
    _TOKENS[key] = {"Authorization": f"Bearer {token.secret}"}
    return _TOKENS[key]


_TOKENS: dict[tuple[object, ...], dict[str, str]] = {}


def chat(
    rid: str, employee: str, team: str, customer: str, text: str, tenant: str = "default"
) -> dict[str, Any]:
    """A closed chat with one agent line (a red line when ``text`` is one)."""
    return {"id": rid, "channel": "wecom", "tenant": tenant,
            "employee": {"id": employee, "team": team, "supervisor_id": "e9"},
            "customer": {"id": customer, "phone": "13812345678"},
            "messages": [{"id": "m1", "role": "customer", "text": "孩子今年四年级了"},
                         {"id": "m2", "role": "agent", "text": text}]}  # fmt: skip


RED = "加我微信私聊，给你发个红包"
