"""The dashboard's SQL on both backends: local days across DST changes, the reviewers' medians,
the copies a violation carries (agent, channel, time to decide) and the migration that fills
them for violations found before it.

Why these: the figures are computed in SQL for speed (``insights.dashboard``), so the day a
timestamp falls on and a median must come out of SQLite and PostgreSQL exactly as Python's
``astimezone`` and ``statistics.median`` would give them.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from dashboard_seed import seed_dashboard
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from qc_service.conversations.models import Conversation
from qc_service.customers.models import Customer
from qc_service.db.migrate import alembic_config, upgrade_to_head
from qc_service.db.session import make_engine, write_transaction
from qc_service.identity.policy import Access, Op, Scope
from qc_service.insights import dashboard
from qc_service.insights.localday import offsets
from qc_service.review.models import Appeal, Violation
from qc_service.store import Store
from qc_service.tenancy.models import Employee, Tenant

ADMIN = Scope(Op.DASHBOARDS_READ, Access.ALL, "default")


def _violations(db: Session, stamps: list[datetime], **extra: object) -> list[Violation]:
    """One conversation (agent ``sql-e``, channel ``sms``) per timestamp, each with one
    violation created at it; the creator leaves the agent and channel out on purpose."""
    if db.get(Tenant, "default") is None:
        db.add(Tenant(id="default", settings={}))
    emp = Employee(tenant_id="default", external_id="sql-e", name="甲", team="SQL组")
    cust = Customer(tenant_id="default", external_id="sql-c", name="乙")
    db.add_all([emp, cust])
    db.flush()
    out = []
    for i, at in enumerate(stamps):
        conv = Conversation(tenant_id="default", external_id=f"sql-{i}", channel="sms",
                            employee_id=emp.id, customer_id=cust.id, status="analysed", analysed_at=at)  # fmt: skip
        db.add(conv)
        db.flush()
        v = Violation(tenant_id="default", conversation_id=conv.id, rule_id=f"sql.r{i % 2}",
                      rule_version=1, severity="high", created_at=at, **extra)  # fmt: skip
        db.add(v)
        out.append(v)
    db.flush()
    return out


def test_offsets_find_each_dst_change_to_the_second() -> None:
    since = datetime(2026, 3, 1, tzinfo=UTC)
    got = offsets("America/New_York", since, datetime(2026, 12, 1, tzinfo=UTC))
    assert got == [(since, -300), (datetime(2026, 3, 8, 7, tzinfo=UTC), -240),
                   (datetime(2026, 11, 1, 6, tzinfo=UTC), -300)]  # fmt: skip
    assert offsets("Asia/Shanghai", since, since + timedelta(days=90)) == [(since, 480)]


def test_trend_puts_each_violation_on_its_local_day_across_dst_changes(store: Store) -> None:
    tz = "America/New_York"
    stamps = [datetime(2026, 3, 8, h, 30, tzinfo=UTC) for h in (4, 5, 6, 7, 8)] + [
        datetime(2026, 3, 9, h, 30, tzinfo=UTC) for h in (3, 4)
    ] + [datetime(2026, 11, 1, h, 30, tzinfo=UTC) for h in (3, 4, 5, 6, 7)] + [
        datetime(2026, 11, 2, h, 30, tzinfo=UTC) for h in (4, 5)
    ]  # fmt: skip
    with write_transaction(store.session_factory) as db:
        _violations(db, stamps)
    zone = ZoneInfo(tz)
    expected = Counter(at.astimezone(zone).date() for at in stamps)
    since = datetime(2026, 3, 1, tzinfo=zone)
    f = dashboard.DashFilter(ADMIN, since, datetime(2026, 11, 10, tzinfo=zone), tz=tz)
    with store.session_factory() as db:
        got = dashboard.trend(db, f)
    assert {d: got.total(d) for d in got.days if got.total(d)} == dict(expected)
    assert len(expected) == 6  # the stamps straddle midnight on both sides of each change


def test_reviewers_median_is_the_middle_value_or_the_mean_of_the_two(store: Store) -> None:
    now = datetime.now(UTC)
    waits = {"qa-odd": [3600.0, 7200.0, 36000.0], "qa-even": [3600.0, 7200.0, 10800.0, 14400.0]}
    with write_transaction(store.session_factory) as db:
        rows = _violations(db, [now - timedelta(hours=1)] * 7)
        pairs = [(by, s) for by, secs in waits.items() for s in secs]
        for v, (by, s) in zip(rows, pairs, strict=True):
            v.status = "overturned" if s == 7200.0 else "upheld"
            v.decided_at, v.decided_by, v.decide_seconds = now - timedelta(minutes=5), by, s
    f = dashboard.DashFilter(ADMIN, *dashboard.last_days(7, "Asia/Shanghai"))
    with store.session_factory() as db:
        got = {
            r.reviewer: (r.decisions, r.overturned, r.median_hours)
            for r in dashboard.reviewers(db, f)
        }
    assert got == {by: (len(s), 1, round(statistics.median(s) / 3600, 1)) for by, s in waits.items()}  # fmt: skip
    assert got["qa-even"][2] == 2.5


def test_violations_carry_their_agent_channel_and_time_to_decide(store: Store) -> None:
    seed_dashboard(store)
    with store.session_factory() as db:
        rows = db.execute(
            select(Violation, Conversation.employee_id, Conversation.channel).join(
                Conversation, Violation.conversation_id == Conversation.id
            )
        ).all()
        assert rows
        for v, employee_id, channel in rows:
            assert (v.employee_id, v.channel) == (employee_id, channel)
            if v.decided_at is None:
                assert v.decide_seconds is None
                continue
            appealed = db.scalar(select(Appeal.created_at).where(Appeal.violation_id == v.id)
                                 .order_by(Appeal.created_at.desc()).limit(1))  # fmt: skip
            assert v.decide_seconds == pytest.approx(
                (v.decided_at - (appealed or v.created_at)).total_seconds(), abs=0.01
            )


def test_the_migration_fills_the_copies_and_goes_back_keeping_every_row(db_url: str) -> None:
    engine = make_engine(db_url)
    t0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0008")
            conn.execute(
                text(
                    "INSERT INTO tenants (id, name, settings, created_at) VALUES ('m', 'm', '{}', :t)"
                ),
                {"t": t0},
            )
            conn.execute(
                text(
                    "INSERT INTO employees (id, tenant_id, external_id, extra, created_at, updated_at) VALUES (7, 'm', 'e7', '{}', :t, :t)"
                ),
                {"t": t0},
            )
            conn.execute(
                text(
                    "INSERT INTO customers (id, tenant_id, external_id, extra, violation_summary, created_at, updated_at) VALUES (5, 'm', 'c5', '{}', '{}', :t, :t)"
                ),
                {"t": t0},
            )
            conn.execute(
                text(
                    "INSERT INTO conversations (id, tenant_id, external_id, channel, employee_id, customer_id, status, closed, "
                    "stage_errors, extra, analysis_attempts, revision, created_at, updated_at) "
                    "VALUES (3, 'm', 'x3', 'call', 7, 5, 'analysed', true, '[]', '{}', 1, 0, :t, :t)"
                ),
                {"t": t0},
            )
            for vid, rule, decided in (
                (1, "r1", t0 + timedelta(hours=5)),
                (2, "r2", t0 + timedelta(hours=9)),
                (3, "r3", None),
            ):
                conn.execute(text(
                    "INSERT INTO violations (id, tenant_id, conversation_id, rule_id, rule_version, severity, status, deduct, "
                    "fatal, actions, decided_at, created_at, updated_at) "
                    "VALUES (:id, 'm', 3, :rule, 1, 'high', 'upheld', 0, false, '[]', :d, :t, :t)"),
                    {"id": vid, "rule": rule, "d": decided, "t": t0})  # fmt: skip
            conn.execute(text("INSERT INTO appeals (violation_id, reason, appellant, created_at) VALUES (2, 'x', 'e7', :a)"),
                         {"a": t0 + timedelta(hours=1)})  # fmt: skip
        upgrade_to_head(engine)
        with engine.connect() as conn:
            got = conn.execute(
                text("SELECT id, employee_id, channel, decide_seconds FROM violations ORDER BY id")
            ).all()
        assert [tuple(r) for r in got] == [
            (1, 7, "call", 5 * 3600.0),
            (2, 7, "call", 8 * 3600.0),
            (3, 7, "call", None),
        ]
        with engine.begin() as conn:  # and back, with the appeal still pointing at violation 2
            command.downgrade(alembic_config(conn), "0008")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM violations")).scalar() == 3
            assert conn.execute(text("SELECT violation_id FROM appeals")).scalar() == 2
        upgrade_to_head(engine)
    finally:
        engine.dispose()
