"""The one policy module: role × operation → allowed, and for reads the scope (ACCESS.md).

Why one table instead of checks in routers: a reviewer of this file can see every door at once,
and the matrix test walks the app's OpenAPI operations against ``MATRIX`` so an endpoint without
an entry fails the suite. Scopes are data (``Scope``); each domain turns a scope into a WHERE
clause of its own query (``conversations.scope``), so lists never load other people's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from qc_service.errors import QCError


class Role(StrEnum):
    """The six roles of ACCESS.md."""

    ADMIN = "admin"
    MANAGER = "manager"
    REVIEWER = "reviewer"
    AGENT = "agent"
    SALES = "sales"
    INTEGRATION = "integration"


class Access(StrEnum):
    """What a role may do with an operation; the non-``ALL`` values are read scopes."""

    ALL = "all"
    """Allowed, on anything of the caller's tenant."""
    TEAMS = "teams"
    """Conversations (and their customers) whose employee's team is one of the user's teams."""
    OWN = "own"
    """Conversations and violations whose employee is the user's ``employee_id``."""
    CUSTOMERS = "customers"
    """Customers whose owner is the user's ``employee_id``, and their conversations."""


class Op(StrEnum):
    """Every operation a route, page or stream may perform. Each route declares exactly one."""

    SELF_READ = "self.read"
    INGEST = "ingest"
    CONVERSATIONS_READ = "conversations.read"
    VIOLATIONS_READ = "violations.read"
    VIOLATIONS_APPEAL = "violations.appeal"
    VIOLATIONS_DECIDE = "violations.decide"
    DASHBOARDS_READ = "dashboards.read"
    ALERTS_STREAM = "alerts.stream"
    CUSTOMERS_READ = "customers.read"
    TAGS_WRITE = "tags.write"
    RULES_READ = "rules.read"
    RULES_WRITE = "rules.write"
    SEGMENTS_READ = "segments.read"
    SEGMENTS_WRITE = "segments.write"
    TRANSFERS_DECIDE = "transfers.decide"
    TENANT_ADMIN = "tenant.admin"
    OPS_ADMIN = "ops.admin"
    PII_REVEAL = "pii.reveal"


A, M, R, G, S, IN = (Role.ADMIN, Role.MANAGER, Role.REVIEWER, Role.AGENT, Role.SALES,
                    Role.INTEGRATION)  # fmt: skip
ALL, TEAMS, OWN, CUSTOMERS = Access.ALL, Access.TEAMS, Access.OWN, Access.CUSTOMERS

MATRIX: dict[Op, dict[Role, Access]] = {
    Op.SELF_READ: {A: ALL, M: ALL, R: ALL, G: ALL, S: ALL, IN: ALL},
    Op.INGEST: {A: ALL, IN: ALL},
    Op.CONVERSATIONS_READ: {A: ALL, M: TEAMS, R: ALL, G: OWN, S: CUSTOMERS},
    Op.VIOLATIONS_READ: {A: ALL, M: TEAMS, R: ALL, G: OWN},
    Op.VIOLATIONS_APPEAL: {G: OWN},
    Op.VIOLATIONS_DECIDE: {A: ALL, R: ALL},
    Op.DASHBOARDS_READ: {A: ALL, M: TEAMS, R: ALL},
    Op.ALERTS_STREAM: {A: ALL, M: TEAMS, R: ALL, G: OWN},
    Op.CUSTOMERS_READ: {A: ALL, M: TEAMS, R: ALL, S: CUSTOMERS},
    Op.TAGS_WRITE: {A: ALL, S: CUSTOMERS},
    Op.RULES_READ: {A: ALL, M: ALL, R: ALL},
    Op.RULES_WRITE: {A: ALL},
    Op.SEGMENTS_READ: {A: ALL, M: TEAMS, R: ALL, S: CUSTOMERS},
    Op.SEGMENTS_WRITE: {A: ALL},
    Op.TRANSFERS_DECIDE: {A: ALL, M: TEAMS},
    Op.TENANT_ADMIN: {A: ALL},
    Op.OPS_ADMIN: {A: ALL},
    Op.PII_REVEAL: {A: ALL},
}
"""ACCESS.md's table: a missing role means 403 ``FORBIDDEN``."""


class AuthRequired(QCError):
    """No credential at all."""

    code = "AUTH_REQUIRED"
    status = 401


class AuthInvalid(QCError):
    """A credential that is unknown, expired, revoked, or of a disabled user."""

    code = "AUTH_INVALID"
    status = 401


class Forbidden(QCError):
    """The role may never do this operation."""

    code = "FORBIDDEN"
    status = 403


class TenantMismatch(QCError):
    """The request names a tenant other than the credential's."""

    code = "TENANT_MISMATCH"
    status = 403


class CsrfFailed(QCError):
    """A state-changing browser request without the session's CSRF token."""

    code = "CSRF_FAILED"
    status = 403


class LoginThrottled(QCError):
    """Too many failed logins for one username in the window."""

    code = "LOGIN_THROTTLED"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, field="username")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: the tenant and scope always come from here, never the request."""

    username: str
    tenant_id: str
    role: Role
    user_id: int | None = None
    employee_id: str | None = None
    teams: tuple[str, ...] = ()
    via: str = "token"
    """``token``, ``session`` (a browser: state changes need CSRF) or ``system``."""
    csrf_token: str | None = None

    @classmethod
    def system(cls, tenant_id: str, actor: str = "system") -> Principal:
        """Background work and operator CLI commands: the whole tenant, recorded as ``actor``."""
        return cls(username=actor, tenant_id=tenant_id, role=Role.ADMIN, via="system")


@dataclass(frozen=True, slots=True)
class Scope:
    """What a caller may see for one operation: ``access`` over ``tenant_id`` (and whose)."""

    op: Op
    access: Access
    tenant_id: str
    employee_id: str | None = None
    teams: tuple[str, ...] = field(default=())


def allowed(role: Role, op: Op) -> Access | None:
    """The access ``role`` has to ``op``, or None (403)."""
    return MATRIX[op].get(role)


def authorize(principal: Principal, op: Op) -> Scope:
    """The caller's scope for ``op``; raises ``Forbidden`` when the role may never do it.

    A scoped role without what its scope needs (an agent without ``employee_id``) gets an empty
    scope rather than the tenant: the safe failure is seeing nothing.
    """
    access = allowed(principal.role, op)
    if access is None:
        raise Forbidden(f"role {principal.role.value!r} may not do {op.value!r}")
    return Scope(
        op=op,
        access=access,
        tenant_id=principal.tenant_id,
        employee_id=principal.employee_id,
        teams=principal.teams,
    )


def check_tenant(principal: Principal, named: str | None, *, field_name: str = "tenant") -> None:
    """A tenant named by the request must be the credential's own (403 ``TENANT_MISMATCH``)."""
    if named is not None and named != principal.tenant_id:
        raise TenantMismatch(
            f"{field_name} {named!r} is not the tenant of this credential", field=field_name
        )
