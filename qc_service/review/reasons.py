"""The tenant's decision reason codes (UI.md: the review page's 理由 select).

Why codes and not free text: managers break overturns down by reason (a rule overturned for
``rule_too_strict`` needs rewriting; ``machine_error`` points at the detector), so the values must
be a closed, admin-editable list per tenant; the label is what reviewers read.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from qc_service.errors import QCError, ReasonRequired
from qc_service.tenancy.models import Tenant

DEFAULT_REASONS: dict[str, str] = {
    "machine_error": "机器误判",
    "rule_too_strict": "规则过严",
    "context_ok": "语境合规",
    "insufficient_evidence": "证据不足",
    "confirmed": "确属违规",
}
UPHOLD_DEFAULT = "confirmed"
"""What an uphold without a reason records (UI.md)."""
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def tenant_reasons(tenant: Tenant | None) -> dict[str, str]:
    """The tenant's codes → labels, in display order (the defaults until an admin edits them)."""
    stored = ((tenant.settings or {}) if tenant is not None else {}).get("reason_codes")
    return dict(stored) if stored else dict(DEFAULT_REASONS)


def set_reasons(*, db_session: Session, tenant: Tenant, reasons: dict[str, str]) -> dict[str, str]:
    """Replace the tenant's list; ``confirmed`` stays (an uphold without a reason records it)."""
    if not reasons:
        raise QCError("the list of reason codes cannot be empty", field="reasons")
    for code, label in reasons.items():
        if not _CODE.match(code):
            raise QCError(f"reason code {code!r} must be lower-case letters, digits and _",
                          field=f"reasons.{code}")  # fmt: skip
        if not label.strip():
            raise QCError(f"reason code {code!r} needs a label", field=f"reasons.{code}")
    if UPHOLD_DEFAULT not in reasons:
        raise QCError(f"the list must keep {UPHOLD_DEFAULT!r} (what an uphold records by default)",
                      field="reasons")  # fmt: skip
    tenant.settings = {**(tenant.settings or {}), "reason_codes": dict(reasons)}
    db_session.flush()
    return dict(reasons)


def resolve(decision: str, reason_code: str | None, reasons: dict[str, str]) -> str:
    """The code a decision records: required for an overturn, ``confirmed`` for a bare uphold."""
    code = (reason_code or "").strip() or None
    if code is None:
        if decision == "overturn":
            raise ReasonRequired("an overturn needs a reason code", field="reason_code")
        return UPHOLD_DEFAULT
    if code not in reasons:
        raise QCError(f"unknown reason code {code!r}; the tenant's codes: {', '.join(reasons)}",
                      field="reason_code")  # fmt: skip
    return code
