"""The job registry: ``@job("review.confirm_expired")`` on a function of a domain's ``jobs.py``.

Why a registry that fails loudly on duplicates (like the operator registry): two modules
registering one name would silently run one of them; a typo'd import would silently run none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class DuplicateJob(Exception):
    """A job name registered twice."""


@dataclass(slots=True)
class JobContext:
    """What a job gets: the store (settings), the session of the job's transaction, the
    scheduler's clock; it appends conversation ids for the deep lane (``to_submit``) and effects
    outside the database (``after_commit``), both run only after its transaction commits.
    ``publish`` puts an alert on this process's alert stream (Redis pub/sub with a broker; a
    no-op in a process that serves no stream and has no broker)."""

    store: Any
    db_session: Any
    now: datetime
    to_submit: list[int] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    publish: Callable[[dict[str, Any]], None] = field(default=lambda _event: None)


@dataclass(frozen=True, slots=True)
class Job:
    """A registered job: ``every`` seconds, or None for every scheduler tick."""

    name: str
    fn: Callable[[JobContext], dict[str, Any]]
    every: float | None
    enabled: Callable[[Any], bool]


_JOBS: dict[str, Job] = {}


def parse_every(text: str) -> float:
    """``30s``, ``5m``, ``24h``, ``1d`` → seconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if m is None:
        raise ValueError(f"every must look like 30s, 5m, 24h or 1d (got {text!r})")
    return float(m.group(1)) * _UNITS[m.group(2)]


def job(
    name: str, *, every: str | None = None, enabled: Callable[[Any], bool] | None = None
) -> Callable[[Callable[[JobContext], dict[str, Any]]], Callable[[JobContext], dict[str, Any]]]:
    """Register ``fn`` as job ``name``. ``every=None``: each tick (``QC_SWEEP_INTERVAL_SECONDS``);
    ``enabled(settings)``: whether it runs in this installation (e.g. retention only when set)."""
    seconds = parse_every(every) if every else None

    def register(
        fn: Callable[[JobContext], dict[str, Any]],
    ) -> Callable[[JobContext], dict[str, Any]]:
        if name in _JOBS and _JOBS[name].fn is not fn:
            raise DuplicateJob(
                f"job {name!r} is registered twice ({_JOBS[name].fn.__module__} and {fn.__module__})"
            )
        _JOBS[name] = Job(name, fn, seconds, enabled or (lambda _settings: True))
        return fn

    return register


def registered() -> dict[str, Job]:
    """Every registered job by name (the kernel imports the domains' ``jobs`` modules first)."""
    return dict(_JOBS)
