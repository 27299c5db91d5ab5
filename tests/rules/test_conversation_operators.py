"""Table-driven tests of the conversation-level operators: sequence, unanswered, position,
absent, repetition, response_time and duration (turns, provisional runs, missing ts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from helpers import conv, rules, run_one, spans

from qc_service.rules.evaluator import evaluate_hot
from qc_service.rules.model import Conversation, Message, RuleResult
from qc_service.rules.operators.conversation import turns
from qc_service.rules.operators.timing import working_seconds

A, C, S = "agent", "customer", "system"
T0 = datetime(2024, 5, 6, 10, 0, 0)  # a Monday

TimedMessage = tuple[str, str, float | None]


def tconv(*messages: TimedMessage, final: bool = True, start: datetime = T0) -> Conversation:
    """A conversation from ``(role, text, seconds after start | None)``; ids m1, m2, …"""
    msgs = [
        Message(f"m{i}", role, text, ts=None if sec is None else start + timedelta(seconds=sec))
        for i, (role, text, sec) in enumerate(messages, start=1)
    ]
    return Conversation("c1", "wechat", msgs, customer_id="u1", employee_id="e1", final=final)


def run(condition: dict[str, Any], conversation: Conversation) -> RuleResult:
    return run_one(rules({"when": condition}), conversation)


def kw(*words: str, role: str = "any") -> dict[str, Any]:
    return {"keyword": {"words": list(words), "role": role}}


def ids(result: RuleResult) -> list[tuple[str, str | None]]:
    """(kind, message id) of every evidence item, in order."""
    return [(e.kind, e.message_id) for e in result.evidence]


def windows(result: RuleResult) -> list[list[str]]:
    return [e.message_ids or [] for e in result.evidence if e.kind == "window"]


def check(result: RuleResult, fires: bool, expect: list[str] | None) -> None:
    assert result.error is None, result.error
    assert result.triggered is fires
    if expect is not None:
        assert spans(result) == expect


# -- turns ----------------------------------------------------------------------------------
def test_turns_are_runs_of_one_role_and_system_messages_never_count() -> None:
    c = tconv((A, "a", 0), (A, "b", 1), (S, "系统", 2), (A, "c", 3), (C, "d", 4), (C, "e", 5))
    ctx = rules({"when": kw("x")}).context(c)
    assert turns(ctx) == [[0, 1, 3], [4, 5]]
    assert turns(rules({"when": kw("x")}).context(tconv())) == []


# -- sequence -------------------------------------------------------------------------------
PRICE_THEN_PROMISE = {
    "sequence": {"first": kw("多少钱", role=C), "then": kw("保证", role=A), "within_turns": 1}
}


@pytest.mark.parametrize(
    ("condition", "messages", "fires", "expect"),
    [
        # RULES.md: first matches and then matches a message within that many turns after it
        (PRICE_THEN_PROMISE, [(C, "这个多少钱"), (A, "保证划算")], True, ["多少钱", "保证"]),
        (PRICE_THEN_PROMISE, [(A, "保证划算"), (C, "这个多少钱")], False, None),
        (
            PRICE_THEN_PROMISE,
            [(C, "多少钱"), (A, "您好"), (C, "嗯"), (A, "保证划算")],
            False,
            None,
        ),  # three turns after: beyond within_turns 1
        (
            {
                **PRICE_THEN_PROMISE,
                "sequence": {**PRICE_THEN_PROMISE["sequence"], "within_turns": 3},
            },
            [(C, "多少钱"), (A, "您好"), (C, "嗯"), (A, "保证划算")],
            True,
            ["多少钱", "保证"],
        ),
        (  # a turn of several messages is one turn; system messages are not turns
            PRICE_THEN_PROMISE,
            [(C, "多少钱"), (C, "在吗"), (S, "客服已接入"), (A, "您好"), (A, "保证划算")],
            True,
            ["多少钱", "保证"],
        ),
        (  # a later message of the same turn is 0 turns after
            {"sequence": {"first": kw("保证"), "then": kw("收益"), "within_turns": 0}},
            [(A, "我保证"), (A, "年化收益20%")],
            True,
            ["保证", "收益"],
        ),
        (  # "then" must come after "first": not the same message, not before
            {"sequence": {"first": kw("保证"), "then": kw("收益"), "within_turns": 0}},
            [(A, "收益高我保证")],
            False,
            None,
        ),
        (PRICE_THEN_PROMISE, [], False, None),
        (PRICE_THEN_PROMISE, [(C, "多少钱"), (C, "保证吗")], False, None),  # one party only
    ],
)
def test_sequence(
    condition: dict[str, Any],
    messages: list[tuple[str, str]],
    fires: bool,
    expect: list[str] | None,
) -> None:
    check(run(condition, conv(*messages)), fires, expect)


def test_sequence_reports_every_pair_and_the_operator_role_restricts_both() -> None:
    cond = {"sequence": {"first": kw("保证"), "then": kw("收益"), "within_turns": 2}}
    result = run(cond, conv((A, "保证"), (C, "收益呢"), (A, "保证"), (C, "好"), (A, "收益10%")))
    assert ids(result) == [("span", "m1"), ("span", "m2"), ("span", "m3"), ("span", "m5")]
    result = run(cond, conv((A, "保证"), (C, "嗯"), (A, "好"), (C, "好"), (A, "收益10%")))
    assert not result.triggered  # four turns after
    agent_only = {"sequence": {**cond["sequence"], "role": A}}
    check(run(agent_only, conv((A, "保证"), (C, "收益呢"))), False, None)


# -- unanswered -----------------------------------------------------------------------------
COMPLAINT = {  # RULES.md: a complaint without an apology
    "unanswered": {"trigger": kw("投诉", role=C), "expect": kw("抱歉", "对不起", role=A)}
}


@pytest.mark.parametrize(
    ("messages", "final", "fires", "window"),
    [
        ([(C, "我要投诉"), (A, "您说"), (C, "太差了"), (A, "好的")], True, True, ["m2", "m3"]),
        ([(C, "我要投诉"), (A, "非常抱歉")], True, False, None),
        ([(C, "我要投诉"), (A, "您说"), (C, "太差了"), (A, "非常抱歉")], True, True, ["m2", "m3"]),
        (  # a turn of several messages; system messages never count as turns
            [(C, "我要投诉"), (C, "太差了"), (S, "转接中"), (A, "稍等"), (A, "真对不起")],
            True,
            False,
            None,
        ),
        ([(C, "我要投诉"), (S, "转接中"), (C, "人呢"), (A, "在的")], False, False, None),
        ([(C, "我要投诉"), (S, "转接中"), (C, "人呢"), (A, "在的")], True, True, ["m4"]),
        ([(C, "我要投诉")], False, False, None),  # provisional: the reply may still come
        ([(C, "我要投诉")], True, True, []),  # final: nobody answered at all
        ([(C, "我要投诉"), (A, "您说"), (C, "嗯"), (A, "好的")], False, True, ["m2", "m3"]),
        ([(C, "我要投诉"), (A, "您说"), (C, "嗯")], False, False, None),  # last turn still open
        ([], True, False, None),
    ],
)
def test_unanswered(
    messages: list[tuple[str, str]], final: bool, fires: bool, window: list[str] | None
) -> None:
    c = conv(*messages)
    c.final = final
    result = run(COMPLAINT, c)
    check(result, fires, None)
    if fires:
        assert [e.text for e in result.evidence if e.kind == "span"] == ["投诉"]
        assert windows(result) == [window]


def test_unanswered_looks_only_at_turns_after_the_triggers_turn() -> None:
    cond = {"unanswered": {"trigger": kw("投诉", role=C), "expect": kw("抱歉"), "within_turns": 1}}
    result = run(cond, conv((C, "我要投诉"), (C, "抱歉我急"), (A, "您说")))
    check(result, True, None)
    assert windows(result) == [["m3"]]
    check(run(cond, conv((C, "我要投诉"), (A, "抱歉"))), False, None)


def test_unanswered_reports_a_window_per_trigger() -> None:
    result = run(COMPLAINT, conv((C, "投诉"), (A, "嗯"), (C, "还投诉"), (A, "好"), (C, "哦")))
    assert sorted(ids(result)) == [
        ("span", "m1"),
        ("span", "m3"),
        ("window", "m1"),
        ("window", "m3"),
    ]
    assert windows(result) == [["m2", "m3"], ["m4", "m5"]]


# -- position -------------------------------------------------------------------------------
GREETING = kw("您好", role=A)


@pytest.mark.parametrize(
    ("where", "messages", "final", "fires"),
    [
        ({"first_turns": 2}, [(C, "在吗", 0), (A, "您好", 5)], True, True),
        (
            {"first_turns": 2},
            [(C, "在吗", 0), (A, "在", 5), (C, "?", 6), (A, "您好", 7)],
            True,
            False,
        ),
        (  # turns of all roles count; system messages do not
            {"first_turns": 2},
            [
                (S, "接入", 0),
                (C, "在吗", 1),
                (C, "?", 2),
                (S, "x", 3),
                (A, "在", 4),
                (A, "您好", 5),
            ],
            True,
            True,
        ),
        ({"first_turns": 1}, [(C, "您好", 0)], True, False),  # cond's own role filters inside
        ({"first_turns": 2, "role": C}, [(C, "在吗", 0), (A, "您好", 5)], True, False),
        ({"last_turns": 1}, [(C, "谢谢", 0), (A, "您好再见", 5)], True, True),
        ({"last_turns": 1}, [(C, "谢谢", 0), (A, "您好再见", 5)], False, False),  # provisional
        ({"last_turns": 1}, [(A, "您好", 0), (C, "谢谢", 5)], True, False),
        ({"first_seconds": 10}, [(C, "在吗", 0), (A, "您好", 10)], True, True),  # inclusive
        ({"first_seconds": 10}, [(C, "在吗", 0), (A, "您好", 11)], True, False),
        ({"first_seconds": 0}, [(C, "在吗", 5), (A, "您好", 5)], True, True),  # equal ts
        ({"last_seconds": 30}, [(A, "您好", 0), (C, "嗯", 60), (A, "您好", 70)], True, True),
        ({"last_seconds": 30}, [(A, "您好", 0), (C, "嗯", 60), (A, "好", 70)], True, False),
        ({"last_seconds": 30}, [(A, "您好", 0), (C, "嗯", 10)], False, False),  # provisional
        ({"first_turns": 2}, [], True, False),
        ({"first_seconds": 10}, [], True, False),
    ],
)
def test_position(
    where: dict[str, Any], messages: list[TimedMessage], final: bool, fires: bool
) -> None:
    result = run({"position": {**where, "cond": GREETING}}, tconv(*messages, final=final))
    check(result, fires, ["您好"] if fires else None)


def test_position_by_seconds_needs_ts_and_reports_a_per_rule_error() -> None:
    result = run(
        {"position": {"first_seconds": 10, "cond": GREETING}},
        tconv((C, "在吗", 0), (A, "您好", None)),
    )
    assert not result.triggered
    assert result.error == "position: message m2 has no ts" and result.stage == "rules"
    turns_only = run(
        {"position": {"first_turns": 2, "cond": GREETING}}, conv((C, "?"), (A, "您好"))
    )
    check(turns_only, True, ["您好"])


def test_system_messages_without_ts_are_ignored_by_time_windows() -> None:
    result = run(
        {"position": {"first_seconds": 10, "cond": GREETING}},
        tconv((S, "接入", None), (C, "在吗", 0), (A, "您好", 3)),
    )
    check(result, True, ["您好"])


# -- absent ---------------------------------------------------------------------------------
RISK = {"absent": {"cond": kw("风险", role=A)}}  # RULES.md: must-say items


@pytest.mark.parametrize(
    ("condition", "messages", "final", "fires", "window"),
    [
        (RISK, [(C, "收益多少", 0), (S, "x", 1), (A, "8%", 2)], True, True, ["m1", "m3"]),
        (RISK, [(C, "收益多少", 0), (A, "8%，有风险", 2)], True, False, None),
        (RISK, [(C, "收益多少", 0), (A, "8%", 2)], False, False, None),  # provisional
        (RISK, [(C, "有风险吗", 0), (A, "8%", 2)], True, True, ["m1", "m2"]),  # role inside
        (RISK, [], True, True, []),
        (
            {"absent": {"cond": {"position": {"first_turns": 2, "cond": GREETING}}}},
            [(C, "在吗", 0), (A, "在", 1), (C, "?", 2), (A, "您好", 3)],
            True,
            True,
            ["m1", "m2"],
        ),
        (
            {"absent": {"cond": {"position": {"first_turns": 2, "cond": GREETING}}}},
            [(C, "在吗", 0), (A, "您好", 1)],
            True,
            False,
            None,
        ),
        (
            {"absent": {"cond": {"position": {"last_seconds": 5, "cond": kw("再见", role=A)}}}},
            [(A, "再见", 0), (C, "嗯", 10), (A, "好", 12)],
            True,
            True,
            ["m2", "m3"],
        ),
        (
            {"absent": {"cond": {"position": {"last_seconds": 5, "cond": kw("再见", role=A)}}}},
            [(A, "再见", 0), (C, "嗯", 10), (A, "好", 12)],
            False,
            False,
            None,
        ),
    ],
)
def test_absent(
    condition: dict[str, Any],
    messages: list[TimedMessage],
    final: bool,
    fires: bool,
    window: list[str] | None,
) -> None:
    result = run(condition, tconv(*messages, final=final))
    check(result, fires, None)
    if fires:
        assert ids(result) == [("window", None)] and windows(result) == [window]


def test_absent_of_a_seconds_position_without_ts_is_an_error() -> None:
    cond = {"absent": {"cond": {"position": {"last_seconds": 5, "cond": GREETING}}}}
    result = run(cond, tconv((C, "在吗", None), (A, "好", 1)))
    assert not result.triggered and result.error == "position: message m1 has no ts"


# -- repetition -----------------------------------------------------------------------------
def test_repetition_counts_the_same_sentence_per_role() -> None:
    cond = {"repetition": {"min_times": 3, "role": A}}
    result = run(cond, conv((A, "亲，在的"), (C, "在的"), (A, "亲 在的！"), (A, "亲，在的。")))
    check(result, True, ["亲，在的", "亲 在的！", "亲，在的。"])
    assert {(e.value, e.unit) for e in result.evidence} == {(3, "times")}
    check(run(cond, conv((A, "在的"), (C, "在的"), (C, "在的"))), False, None)


# -- response_time --------------------------------------------------------------------------
SLOW = {"response_time": {"over_seconds": 300}}


@pytest.mark.parametrize(
    ("messages", "final", "evidence", "value"),
    [
        ([(C, "在吗", 0), (A, "在", 400)], True, [("message", "m1"), ("message", "m2")], 400),
        ([(C, "在吗", 0), (A, "在", 300)], True, [], None),  # not later than over_seconds
        ([(C, "在吗", 0), (A, "在", 0)], True, [], None),  # equal timestamps
        (  # the wait runs from the customer turn's first message, not its last
            [(C, "在吗", 0), (C, "想问下价格", 250), (A, "您好", 320)],
            True,
            [("message", "m1"), ("message", "m2"), ("message", "m3")],
            320,
        ),
        (  # system messages neither split the turn nor reply (and need no ts)
            [(C, "在吗", 0), (S, "排队中", None), (C, "?", 100), (A, "在", 350)],
            True,
            [("message", "m1"), ("message", "m3"), ("message", "m4")],
            350,
        ),
        (  # a turn never answered waits until the conversation's end — on the final run
            [(A, "您好", 0), (C, "在吗", 10), (C, "人呢", 400)],
            True,
            [("message", "m2"), ("message", "m3")],
            390,
        ),
        ([(A, "您好", 0), (C, "在吗", 10), (C, "人呢", 400)], False, [], None),
        ([(C, "在吗", 0), (C, "人呢", 301)], True, [("message", "m1"), ("message", "m2")], 301),
        ([(A, "您好", 0), (A, "在吗", 900)], True, [], None),  # agent only: nothing to answer
        ([], True, [], None),
        (  # only the late turn is reported
            [(C, "a", 0), (A, "b", 10), (C, "c", 20), (A, "d", 500)],
            True,
            [("message", "m3"), ("message", "m4")],
            480,
        ),
    ],
)
def test_response_time(
    messages: list[TimedMessage],
    final: bool,
    evidence: list[tuple[str, str]],
    value: float | None,
) -> None:
    result = run(SLOW, tconv(*messages, final=final))
    check(result, bool(evidence), None)
    assert ids(result) == evidence
    timed = [(e.value, e.unit) for e in result.evidence if e.value is not None]
    assert timed == ([(value, "s")] if value is not None else [])


def test_response_time_value_sits_on_the_reply() -> None:
    result = run(SLOW, tconv((C, "在吗", 0), (A, "在", 400)))
    assert [e.value for e in result.evidence] == [None, 400]
    unanswered = run(SLOW, tconv((C, "在吗", 0), (C, "人呢", 400)))
    assert [e.value for e in unanswered.evidence] == [400, None]  # on the turn's first message


def test_response_time_missing_or_mixed_ts_is_a_per_rule_error() -> None:
    result = run(SLOW, tconv((C, "在吗", 0), (A, "在", None)))
    assert not result.triggered and result.error == "response_time: message m2 has no ts"
    mixed = tconv((C, "在吗", 0), (A, "在", 1))
    mixed.messages[1] = Message("m2", A, "在", ts=T0.replace(tzinfo=UTC))
    assert "time zones" in (run(SLOW, mixed).error or "")


@pytest.mark.parametrize(
    ("hours", "asked", "answered", "fires"),
    [
        # RULES.md example: business_hours "09:00-18:00" — the night does not count
        ("09:00-18:00", T0.replace(hour=17, minute=55), T0.replace(hour=9, minute=10) + timedelta(days=1), False),
        (None, T0.replace(hour=17, minute=55), T0.replace(hour=9, minute=10) + timedelta(days=1), True),
        ("09:00-18:00", T0.replace(hour=9, minute=0), T0.replace(hour=9, minute=31), True),
        ("09:00-18:00", T0.replace(hour=19), T0.replace(hour=8, minute=59) + timedelta(days=1), False),
        ("22:00-06:00", T0.replace(hour=5, minute=50), T0.replace(hour=22, minute=25), True),
        ("22:00-06:00", T0.replace(hour=5, minute=50), T0.replace(hour=22, minute=5), False),
    ],
)  # fmt: skip
def test_response_time_counts_only_business_hours(
    hours: str | None, asked: datetime, answered: datetime, fires: bool
) -> None:
    cond = {"response_time": {"over_seconds": 1800}}
    if hours:
        cond["response_time"]["business_hours"] = hours
    c = tconv((C, "在吗", 0), (A, "在", (answered - asked).total_seconds()), start=asked)
    check(run(cond, c), fires, None)


@pytest.mark.parametrize(
    ("a", "b", "hours", "seconds"),
    [
        (T0.replace(hour=17, minute=55), T0.replace(hour=9, minute=10) + timedelta(days=1), (540, 1080), 900),
        (T0.replace(hour=8), T0.replace(hour=8) + timedelta(days=3), (540, 1080), 3 * 9 * 3600),
        (T0.replace(hour=5, minute=50), T0.replace(hour=22, minute=10), (1320, 360), 1200),
        (T0.replace(hour=23), T0.replace(hour=1) + timedelta(days=1), (1320, 360), 7200),
        (T0.replace(hour=12), T0.replace(hour=14), (540, 1440), 7200),
        (T0.replace(hour=12), T0.replace(hour=14), (0, 0), 7200),  # equal ends: the whole day
        (T0.replace(hour=14), T0.replace(hour=12), (540, 1080), 0),
        (T0, T0, None, 0),
    ],
)  # fmt: skip
def test_working_seconds(
    a: datetime, b: datetime, hours: tuple[int, int] | None, seconds: float
) -> None:
    assert working_seconds(a, b, hours) == seconds


def test_working_seconds_reads_hours_in_the_time_zone_of_the_timestamps() -> None:
    cst = timezone(timedelta(hours=8))
    asked = datetime(2024, 5, 6, 17, 55, tzinfo=cst)
    answered = datetime(2024, 5, 7, 1, 10, tzinfo=UTC)  # 09:10 in UTC+8
    assert working_seconds(asked, answered, (540, 1080)) == 900


# -- duration -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("bound", "messages", "final", "value"),
    [
        ({"over_seconds": 600}, [(C, "a", 0), (S, "x", 5000), (A, "b", 700)], True, 700),
        ({"over_seconds": 600}, [(C, "a", 0), (A, "b", 600)], True, None),
        ({"over_seconds": 600}, [(C, "a", 0), (A, "b", 700)], False, None),  # provisional
        ({"under_seconds": 30}, [(C, "a", 0), (A, "b", 20)], True, 20),
        ({"under_seconds": 30}, [(C, "a", 0), (A, "b", 30)], True, None),
        ({"under_seconds": 30}, [(C, "a", 7), (A, "b", 7)], True, 0),  # equal timestamps
        ({"under_seconds": 30}, [(C, "a", 7)], True, 0),  # one party only
        ({"under_seconds": 30}, [], True, None),
    ],
)
def test_duration(
    bound: dict[str, float], messages: list[TimedMessage], final: bool, value: float | None
) -> None:
    result = run({"duration": bound}, tconv(*messages, final=final))
    check(result, value is not None, None)
    if value is not None:
        (ev,) = result.evidence
        assert (ev.kind, ev.value, ev.unit) == ("window", value, "s")
        assert ev.message_ids == [m.id for m in tconv(*messages).messages if m.role != S]


def test_duration_without_ts_is_an_error() -> None:
    result = run({"duration": {"over_seconds": 1}}, tconv((C, "a", 0), (A, "b", None)))
    assert not result.triggered and result.error == "duration: message m2 has no ts"


# -- combining conversation truths ----------------------------------------------------------
def test_conversation_level_conditions_combine() -> None:
    both = {"all": [COMPLAINT, {"duration": {"over_seconds": 60}}]}
    c = tconv((C, "我要投诉", 0), (A, "您说", 100))
    result = run(both, c)
    check(result, True, None)
    assert sorted(e.kind for e in result.evidence) == ["span", "window", "window"]
    check(run(both, tconv((C, "我要投诉", 0), (A, "您说", 10))), False, None)


def test_an_any_branch_without_ts_is_a_visible_error_beside_a_finding() -> None:
    cond = {"any": [{"duration": {"over_seconds": 1}}, kw("投诉")]}
    result = run(cond, conv((C, "我要投诉")))
    assert result.triggered and result.error == "duration: message m1 has no ts"


def test_hot_lane_leaves_conversation_operators_to_the_deep_lane() -> None:
    rs = rules({"when": COMPLAINT})
    assert evaluate_hot(rs, conv((C, "我要投诉"))) == []
