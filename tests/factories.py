"""Builders of records shared by the service, API and CLI tests."""

from __future__ import annotations

from typing import Any


def record(rid: str = "c1", *messages: tuple[str, str, str], **extra: Any) -> dict[str, Any]:
    """A chat record with ``(id, role, text)`` messages."""
    return {
        "id": rid, "channel": "wecom",
        "employee": {"id": "e1", "name": "张伟", "team": "销售一组", "supervisor_id": "e9"},
        "customer": {"id": "u1", "name": "李女士", "phone": "13900000000"},
        "messages": [{"id": mid, "role": role, "text": text} for mid, role, text in messages],
        **extra,
    }  # fmt: skip
