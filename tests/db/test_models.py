"""The models' constraints, defaults, JSON columns and invariants hold on both backends."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_bridge.outbox.models import OutboxEvent
from qc_service.conversations.models import Conversation, Message
from qc_service.customers.models import Customer
from qc_service.db.migrate import upgrade_to_head
from qc_service.db.session import make_engine, make_session_factory
from qc_service.review.models import Evidence, Violation
from qc_service.rulesets.models import Rule, RuleVersion, RuleVersionImmutableError
from qc_service.tagging.models import CustomerTag
from qc_service.tenancy.models import Employee, Tenant

TRICKY_TEXT = '李女士说："加我微信，发你红包🧧" \\ \'单引号\' \n 第二行\t"引号"'
"""Chinese, emoji, full-width and ASCII quotes, a backslash, a newline and a tab."""


def _conversation(session: Session, external_id: str = "conv-1") -> Conversation:
    tenant = session.get(Tenant, "default") or Tenant(id="default", name="默认")
    employee = Employee(tenant_id="default", external_id="e1", name="张三", team="销售一组")
    customer = Customer(tenant_id="default", external_id="c1", name="李女士", phone="13800000000")
    session.add_all([tenant, employee, customer])
    session.flush()
    conversation = Conversation(
        tenant_id="default",
        external_id=external_id,
        channel="wechat",
        employee_id=employee.id,
        customer_id=customer.id,
    )
    session.add(conversation)
    session.flush()
    return conversation


def test_conversation_defaults(db_session: Session) -> None:
    conversation = _conversation(db_session)
    db_session.commit()
    db_session.expire_all()

    stored = db_session.get_one(Conversation, conversation.id)

    assert stored.status == "pending"
    assert stored.closed is False
    assert stored.stage_errors == []
    assert stored.extra == {}
    assert stored.call is None
    assert stored.analysis_attempts == 0
    assert stored.employee.name == "张三"
    assert stored.customer.phone == "13800000000"


def test_duplicate_message_id_in_a_conversation_is_rejected(db_session: Session) -> None:
    conversation = _conversation(db_session)
    db_session.add(Message(conversation_id=conversation.id, external_id="m1", seq=0, role="agent"))
    db_session.commit()

    db_session.add(Message(conversation_id=conversation.id, external_id="m1", seq=1, role="agent"))
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_duplicate_message_seq_in_a_conversation_is_rejected(db_session: Session) -> None:
    conversation = _conversation(db_session)
    db_session.add(Message(conversation_id=conversation.id, external_id="m1", seq=0, role="agent"))
    db_session.commit()

    db_session.add(Message(conversation_id=conversation.id, external_id="m2", seq=0, role="agent"))
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_same_message_id_in_two_conversations_is_fine(db_session: Session) -> None:
    first = _conversation(db_session, "conv-1")
    second = Conversation(
        tenant_id="default",
        external_id="conv-2",
        channel="sms",
        employee_id=first.employee_id,
        customer_id=first.customer_id,
    )
    db_session.add(second)
    db_session.flush()
    for conversation in (first, second):
        db_session.add(
            Message(conversation_id=conversation.id, external_id="m1", seq=0, role="customer")
        )
    db_session.flush()

    assert db_session.scalar(select(func.count()).select_from(Message)) == 2


def test_duplicate_conversation_id_in_a_tenant_is_rejected(db_session: Session) -> None:
    first = _conversation(db_session)
    db_session.add(
        Conversation(
            tenant_id="default",
            external_id=first.external_id,
            channel="wechat",
            employee_id=first.employee_id,
            customer_id=first.customer_id,
        )
    )
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_messages_load_in_seq_order_and_go_with_their_conversation(db_session: Session) -> None:
    conversation = _conversation(db_session)
    for seq, external_id in [(2, "m3"), (0, "m1"), (1, "m2")]:
        db_session.add(
            Message(conversation_id=conversation.id, external_id=external_id, seq=seq, role="agent")
        )
    db_session.commit()
    db_session.expire_all()

    stored = db_session.get_one(Conversation, conversation.id)
    assert [m.external_id for m in stored.messages] == ["m1", "m2", "m3"]
    assert [m.type for m in stored.messages] == ["text"] * 3

    db_session.execute(text("DELETE FROM conversations WHERE id = :id"), {"id": conversation.id})
    assert db_session.scalar(select(func.count()).select_from(Message)) == 0


def test_one_violation_per_tenant_conversation_and_rule(db_session: Session) -> None:
    conversation = _conversation(db_session)
    for _ in range(2):
        db_session.add(
            Violation(
                tenant_id="default",
                conversation_id=conversation.id,
                rule_id="redline.red-packet",
                rule_version=1,
                severity="high",
            )
        )
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_one_tag_row_per_customer_and_tag(db_session: Session) -> None:
    conversation = _conversation(db_session)
    for source in ("qa", "manual"):
        db_session.add(
            CustomerTag(
                tenant_id="default", customer_id=conversation.customer_id, tag="小学", source=source
            )
        )
    with pytest.raises(IntegrityError):
        db_session.flush()


def _rule_version(session: Session) -> RuleVersion:
    session.add(Tenant(id="default", name="默认"))
    rule = Rule(
        tenant_id="default",
        rule_id="redline.red-packet",
        name="发红包",
        kind="violation",
        current_version=1,
    )
    version = RuleVersion(
        rule=rule,
        version=1,
        definition={"id": "redline.red-packet", "when": {"keyword": {"lexicon": "红包"}}},
        lexicons={"红包": ["红包", "hongbao"]},
        source="pack",
        checksum="0" * 64,
    )
    session.add_all([rule, version])
    session.commit()
    return version


def test_rule_versions_cannot_be_updated(db_session: Session) -> None:
    version = _rule_version(db_session)

    version.definition = {"id": "redline.red-packet", "when": {"keyword": {"lexicon": "微信"}}}
    with pytest.raises(RuleVersionImmutableError, match="rule versions are immutable"):
        db_session.flush()

    db_session.rollback()
    db_session.expire_all()
    stored = db_session.get_one(RuleVersion, version.id)
    assert stored.definition["when"] == {"keyword": {"lexicon": "红包"}}
    assert stored.rule.versions == [stored]


def test_a_new_rule_version_is_an_insert(db_session: Session) -> None:
    first = _rule_version(db_session)
    rule = first.rule
    rule.current_version = 2
    db_session.add(
        RuleVersion(
            rule=rule,
            version=2,
            definition={"id": "redline.red-packet"},
            lexicons={},
            source="api",
            checksum="1" * 64,
        )
    )
    db_session.commit()

    assert [v.version for v in rule.versions] == [1, 2]


@pytest.mark.parametrize(
    "value",
    [
        {"备注": TRICKY_TEXT, "标签": ["小学", "高意向"], "嵌套": {"年龄": 8, "单位": "岁"}},
        {"emoji": "🧧💰", "full_width": "ＡＢＣ１２３，。！", "traditional": "發紅包"},
    ],
)
def test_json_round_trips_chinese_text(db_session: Session, value: dict[str, object]) -> None:
    conversation = _conversation(db_session)
    customer = conversation.customer
    customer.extra = value
    db_session.commit()
    db_session.expire_all()

    assert db_session.get_one(Customer, customer.id).extra == value
    first_key = next(iter(value))
    path_value = db_session.scalar(select(Customer.extra[first_key].as_string()))
    assert path_value == value[first_key]


def test_sqlite_json_text_keeps_chinese_unescaped(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'qc.db'}")
    try:
        upgrade_to_head(engine)
        with make_session_factory(engine)() as session:
            session.add(Tenant(id="default", name="默认", settings={"名称": TRICKY_TEXT}))
            session.commit()
            raw = session.execute(text("SELECT settings FROM tenants")).scalar_one()
    finally:
        engine.dispose()

    assert "名称" in raw
    assert json.loads(raw) == {"名称": TRICKY_TEXT}


def test_json_none_is_stored_as_sql_null(db_session: Session) -> None:
    conversation = _conversation(db_session)
    conversation.call = None
    db_session.flush()

    count = db_session.scalar(
        select(func.count()).select_from(Conversation).where(Conversation.call.is_(None))
    )
    assert count == 1


def test_evidence_round_trips_to_the_findings_shape(db_session: Session) -> None:
    conversation = _conversation(db_session)
    violation = Violation(
        tenant_id="default",
        conversation_id=conversation.id,
        rule_id="redline.red-packet",
        rule_version=1,
        severity="high",
        evidence=[
            Evidence(
                kind="span", message_external_id="m3", role="agent", start=4, end=7, text="红*包"
            ),
            Evidence(kind="window", message_ids=["m1", "m2"]),
        ],
    )
    db_session.add(violation)
    db_session.commit()
    db_session.expire_all()

    stored = db_session.get_one(Violation, violation.id)
    assert stored.status == "open"
    assert stored.actions == []
    assert [e.to_dict() for e in stored.evidence] == [
        {
            "kind": "span",
            "message_id": "m3",
            "role": "agent",
            "start": 4,
            "end": 7,
            "text": "红*包",
            "t_start": None,
            "t_end": None,
            "value": None,
            "unit": None,
        },
        {
            "kind": "window",
            "message_id": None,
            "role": None,
            "start": None,
            "end": None,
            "text": None,
            "t_start": None,
            "t_end": None,
            "value": None,
            "unit": None,
            "message_ids": ["m1", "m2"],
        },
    ]


def test_outbox_events_get_unique_idempotency_keys(db_session: Session) -> None:
    events = [
        OutboxEvent(
            tenant_id="default",
            event_type="customer.tagged",
            ordering_key="default:c1",
            payload={"tag": "小学"},
        )
        for _ in range(2)
    ]
    db_session.add_all(events)
    db_session.flush()

    assert all(len(e.event_id) == 32 for e in events)
    assert events[0].event_id != events[1].event_id
    assert {e.status for e in events} == {"pending"}

    db_session.add(
        OutboxEvent(
            tenant_id="default",
            event_id=events[0].event_id,
            event_type="customer.tagged",
            ordering_key="default:c1",
            payload={},
        )
    )
    with pytest.raises(IntegrityError):
        db_session.flush()


def test_model_imports_respect_the_package_boundaries() -> None:
    probe = (
        "import sys\n"
        "import crm_bridge.outbox.models\n"
        "import qc_service.db.base\n"
        "print(sorted(m for m in sys.modules if m.startswith('qc_service')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "['qc_service', 'qc_service.db', 'qc_service.db.base']"
