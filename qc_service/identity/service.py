"""Users, API tokens, browser sessions and login throttling (ACCESS.md, People and credentials).

Why hashes everywhere: the database holds argon2 hashes of passwords and SHA-256 hashes of tokens
and session ids; the secret itself is shown once (a token) or lives only in the cookie. Every
change of a user or a credential and every login is audited in the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from qc_service.audit.service import record
from qc_service.db.base import utcnow
from qc_service.errors import NotFound, QCError
from qc_service.identity.models import ApiToken, LoginFailure, User, WebSession
from qc_service.identity.policy import AuthInvalid, Principal, Role

TOKEN_PREFIX = "qct_"
THROTTLE_FAILURES = 5
THROTTLE_WINDOW = timedelta(minutes=15)
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a real password")
"""Verified against when the user is unknown, so both failures take the same time."""


class UserInvalid(QCError):
    """A user or token command with bad input (CLI exit 2)."""

    code = "USER_INVALID"
    status = 422


def sha256(secret: str) -> str:
    """Hex SHA-256 of a random secret (tokens, session ids)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def principal_of(user: User, *, via: str, csrf_token: str | None = None) -> Principal:
    """The caller as the policy sees them."""
    return Principal(
        username=user.username, tenant_id=user.tenant_id, role=Role(user.role), user_id=user.id,
        employee_id=user.employee_id, teams=tuple(user.teams or ()), via=via, csrf_token=csrf_token,
    )  # fmt: skip


# --- users -------------------------------------------------------------------------------------


def add_user(
    db_session: Session,
    *,
    username: str,
    tenant_id: str,
    role: str,
    password: str | None,
    display_name: str | None = None,
    employee_id: str | None = None,
    teams: list[str] | None = None,
    actor: str,
) -> User:
    """Create a user; usernames are unique across the installation."""
    username = username.strip()
    if not username:
        raise UserInvalid("username must not be empty", field="username")
    try:
        role_value = Role(role)
    except ValueError:
        raise UserInvalid(
            f"role must be one of {', '.join(r.value for r in Role)} (got {role!r})", field="role"
        ) from None
    if role_value in (Role.AGENT, Role.SALES) and not employee_id:
        raise UserInvalid(f"a {role_value.value} needs --employee-id", field="employee_id")
    if role_value is Role.MANAGER and not teams:
        raise UserInvalid("a manager needs at least one --team", field="teams")
    if password is not None and len(password) < 8:
        raise UserInvalid("the password must have at least 8 characters", field="password")
    if db_session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserInvalid(f"user {username!r} already exists", field="username")
    user = User(
        username=username, tenant_id=tenant_id, role=role_value.value, display_name=display_name,
        employee_id=employee_id, teams=list(teams or []),
        password_hash=_hasher.hash(password) if password else None,
    )  # fmt: skip
    db_session.add(user)
    db_session.flush()
    record(db_session, tenant_id=tenant_id, actor=actor, action="user.added", entity_type="user",
           entity_id=username, after={"role": role_value.value, "employee_id": employee_id,
                                      "teams": list(teams or [])})  # fmt: skip
    return user


def get_user(db_session: Session, username: str) -> User:
    """A user by name, or NotFound."""
    user = db_session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username!r} not found", field="username")
    return user


def list_users(db_session: Session, *, tenant_id: str | None = None) -> list[User]:
    """Every user (of one tenant), by name."""
    stmt = select(User).order_by(User.username)
    if tenant_id is not None:
        stmt = stmt.where(User.tenant_id == tenant_id)
    return list(db_session.scalars(stmt))


def disable_user(db_session: Session, *, username: str, actor: str) -> User:
    """Disable a user: every token and session of theirs stops working at once."""
    user = get_user(db_session, username)
    if user.disabled_at is None:
        user.disabled_at = utcnow()
        for s in db_session.scalars(select(WebSession).where(WebSession.user_id == user.id,
                                                             WebSession.ended_at.is_(None))):  # fmt: skip
            s.ended_at = user.disabled_at
        record(db_session, tenant_id=user.tenant_id, actor=actor, action="user.disabled",
               entity_type="user", entity_id=username)  # fmt: skip
    return user


# --- API tokens --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewToken:
    """A token as created: ``secret`` is shown once and never stored."""

    id: int
    secret: str
    expires_at: datetime | None


def create_token(
    db_session: Session, *, username: str, name: str | None, expires_days: int | None, actor: str
) -> NewToken:
    """A random bearer token for ``username``; only its hash is kept."""
    user = get_user(db_session, username)
    if user.disabled_at is not None:
        raise UserInvalid(f"user {username!r} is disabled", field="username")
    if expires_days is not None and expires_days <= 0:
        raise UserInvalid("--expires-days must be positive", field="expires_days")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=expires_days) if expires_days else None
    token = ApiToken(user_id=user.id, name=name, token_hash=sha256(secret), prefix=secret[:10],
                     expires_at=expires)  # fmt: skip
    db_session.add(token)
    db_session.flush()
    record(db_session, tenant_id=user.tenant_id, actor=actor, action="token.created",
           entity_type="token", entity_id=token.id,
           after={"user": username, "name": name, "expires_at": expires.isoformat() if expires else None})  # fmt: skip
    return NewToken(token.id, secret, expires)


def list_tokens(db_session: Session, *, username: str) -> list[ApiToken]:
    """A user's tokens (hashes never leave; the prefix tells them apart)."""
    user = get_user(db_session, username)
    return list(
        db_session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
        )
    )


def revoke_token(db_session: Session, *, token: str, actor: str) -> ApiToken:
    """Revoke by the token itself or by its id from ``qc tokens list``."""
    if token.isdigit():
        row = db_session.get(ApiToken, int(token))
    else:
        row = db_session.scalar(select(ApiToken).where(ApiToken.token_hash == sha256(token)))
    if row is None:
        raise NotFound("no such token", field="token")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(db_session, tenant_id=row.user.tenant_id, actor=actor, action="token.revoked",
               entity_type="token", entity_id=row.id, after={"user": row.user.username})  # fmt: skip
    return row


def authenticate_token(db_session: Session, secret: str) -> Principal:
    """The principal of a bearer token; ``AuthInvalid`` when unknown, expired, revoked or disabled."""
    row = db_session.execute(
        select(ApiToken, User).join(User, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == sha256(secret))
    ).one_or_none()  # fmt: skip
    if row is None:
        raise AuthInvalid("the token is not valid")
    token, user = row
    now = utcnow()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        raise AuthInvalid("the token has expired or was revoked")
    if user.disabled_at is not None:
        raise AuthInvalid("the token's user is disabled")
    return principal_of(user, via="token")


# --- browser sessions and login ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewSession:
    """A started session: the cookie value (``secret``) and its CSRF token."""

    secret: str
    csrf_token: str
    user: User


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """What a login attempt came to (its audit event and failure count are already written)."""

    session: NewSession | None
    retry_after: int | None = None


def login(
    db_session: Session,
    *,
    username: str,
    password: str,
    default_tenant: str,
    source: str | None = None,
) -> LoginOutcome:
    """One login attempt, decided and recorded in the caller's transaction.

    The same answer for an unknown user and a wrong password (both verify an argon2 hash); after
    ``THROTTLE_FAILURES`` failures in ``THROTTLE_WINDOW``, throttled even with the right password
    until the window passes. Attempts for one username are serialised (an advisory lock on
    PostgreSQL, SQLite's single writer), so concurrent guesses cannot all pass the count before
    any failure is written; the failure row commits with the attempt.
    """
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:u))"), {"u": f"login:{username}"}
        )
    now = utcnow()
    db_session.execute(delete(LoginFailure).where(LoginFailure.at < now - 2 * THROTTLE_WINDOW))
    failures = db_session.scalars(
        select(LoginFailure.at).where(LoginFailure.username == username, LoginFailure.at >= now - THROTTLE_WINDOW)
        .order_by(LoginFailure.at)
    ).all()  # fmt: skip
    user = db_session.scalar(select(User).where(User.username == username))
    tenant = user.tenant_id if user is not None else default_tenant
    if len(failures) >= THROTTLE_FAILURES:
        oldest = failures[-THROTTLE_FAILURES]
        wait = max(1, int((oldest + THROTTLE_WINDOW - now).total_seconds()) + 1)
        record(db_session, tenant_id=tenant, actor=username, action="login.failed", entity_type="user",
               entity_id=username, reason="throttled", after={"source": source})  # fmt: skip
        return LoginOutcome(None, retry_after=wait)
    try:
        ok = _hasher.verify(
            user.password_hash if user and user.password_hash else _DUMMY_HASH, password
        )
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or user.password_hash is None or user.disabled_at is not None:
        db_session.add(LoginFailure(username=username, at=now))
        record(db_session, tenant_id=tenant, actor=username, action="login.failed", entity_type="user",
               entity_id=username, reason="unknown user or wrong password", after={"source": source})  # fmt: skip
        return LoginOutcome(None)
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    db_session.add(WebSession(session_hash=sha256(secret), user_id=user.id, csrf_token=csrf))
    record(db_session, tenant_id=user.tenant_id, actor=username, action="login",
           entity_type="user", entity_id=username, after={"source": source})  # fmt: skip
    return LoginOutcome(NewSession(secret, csrf, user))


def authenticate_session(db_session: Session, secret: str, *, idle: timedelta) -> Principal:
    """The principal of a session cookie; idle sessions end. Touches ``last_seen_at`` at most once
    a minute (a write per request would serialise every page view on SQLite)."""
    row = db_session.execute(
        select(WebSession, User).join(User, WebSession.user_id == User.id)
        .where(WebSession.session_hash == sha256(secret))
    ).one_or_none()  # fmt: skip
    if row is None:
        raise AuthInvalid("the session is not valid; log in again")
    session, user = row
    now = utcnow()
    if session.ended_at is not None or user.disabled_at is not None:
        raise AuthInvalid("the session has ended; log in again")
    if session.last_seen_at + idle <= now:
        raise AuthInvalid("the session expired after inactivity; log in again")
    if now - session.last_seen_at > timedelta(minutes=1):
        session.last_seen_at = now
        db_session.commit()
    return principal_of(user, via="session", csrf_token=session.csrf_token)


def logout(db_session: Session, *, secret: str) -> bool:
    """End a session (audited); False when there was none."""
    row = db_session.execute(
        select(WebSession, User).join(User, WebSession.user_id == User.id)
        .where(WebSession.session_hash == sha256(secret), WebSession.ended_at.is_(None))
    ).one_or_none()  # fmt: skip
    if row is None:
        return False
    session, user = row
    session.ended_at = utcnow()
    record(db_session, tenant_id=user.tenant_id, actor=user.username, action="logout",
           entity_type="user", entity_id=user.username)  # fmt: skip
    return True
