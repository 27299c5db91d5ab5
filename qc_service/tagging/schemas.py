"""The tag shape of the API: one schema for ``/v1/customers/{id}/tags`` and the customer view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class TagOut(BaseModel):
    """A tag on a customer, where it came from and its evidence."""

    tag: str
    source: str
    rule_id: str | None
    rule_version: int | None
    first_seen_at: datetime
    last_seen_at: datetime
    evidence: list[dict[str, Any]]
    override: str | None = None
    """``locked`` when a person locked it (no automatic source removes it)."""
    override_by: str | None = None
    override_reason: str | None = None
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None
