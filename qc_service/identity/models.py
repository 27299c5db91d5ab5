"""ORM models for users and their credentials.

Why credentials are stored as SHA-256 hashes: a token or session id is 32 random bytes, so a fast
hash is enough to make a stolen table useless (passwords, chosen by people, get argon2 instead).
Users are never deleted, only disabled: the audit trail names them forever.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qc_service.db.base import Base, JSONType, utcnow


class User(Base):
    """A person (or an integration) with one tenant and one role."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str | None] = mapped_column(String(255))
    employee_id: Mapped[str | None] = mapped_column(String(255))
    """The ``employee.id`` of records (agents and sales): what "own" means for them."""
    teams: Mapped[list[str]] = mapped_column(JSONType, default=list)
    """The teams a manager watches."""
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiToken(Base):
    """A bearer token: shown once, stored hashed, may expire, can be revoked."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    """The first characters of the token, so a person can tell their tokens apart in a list."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship()


class WebSession(Base):
    """A browser's server-side session (cookie ``qc_session`` carries the random id)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship()


class LoginFailure(Base):
    """One failed login, kept for the throttle window (in the database so every API process of an
    installation counts the same failures)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(default=utcnow)
