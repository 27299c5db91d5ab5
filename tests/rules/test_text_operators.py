"""Table-driven tests of keyword, regex, contact_info, message_type, near and all/any/not."""

from __future__ import annotations

import pytest
from helpers import assert_matches, assert_no_match, conv, rules, run_one, spans

A, C = "agent", "customer"


@pytest.mark.parametrize(
    ("words", "text", "expect"),
    [
        (["红包"], "给您发个红*包哈", ["红*包"]),
        (["红包"], "给您发个紅 包", ["紅 包"]),
        (["加v信"], "加 V 信聊", ["加 V 信"]),
        (["稳赚不赔"], "这个稳.赚.不.赔的", ["稳.赚.不.赔"]),
        (["稳赚不赔"], "穩賺不賠", ["穩賺不賠"]),
        (["vx"], "加我ＶＸ", ["ＶＸ"]),
        (["sb"], "你是S😀B吧", ["S😀B"]),
        (["我的", "我的世界"], "我在我的家里玩我的世界", ["我的", "我的世界"]),
    ],
)
def test_keyword_sees_through_evasion(words: list[str], text: str, expect: list[str]) -> None:
    assert_matches({"keyword": {"words": words}}, (A, text), expect=expect)


@pytest.mark.parametrize(
    ("words", "text"),
    [
        (["中国"], "中间国"),
        (["av"], "I have a nice day"),
        (["69"], "695 billion"),
        (["sb"], "插上USB接口"),
        (["保本"], "本产品不保本"),
    ],
)
def test_keyword_does_not_overmatch(words: list[str], text: str) -> None:
    cond = {"keyword": {"words": words, "allow": ["不保本"]}}
    assert_no_match(cond, (A, text))


def test_keyword_role_filter_and_system_messages() -> None:
    cond = {"keyword": {"words": ["红包"], "role": "agent"}}
    assert_no_match(cond, (C, "红包呢"), ("system", "红包已领取"))
    assert_matches(cond, (C, "红包呢"), (A, "红包马上发"), expect=["红包"])


def test_keyword_min_count_counts_across_the_conversation() -> None:
    cond = {"keyword": {"words": ["便宜", "优惠"], "min_count": 3, "role": C}}
    assert_no_match(cond, (C, "能便宜吗"), (A, "便宜不了"), (C, "有优惠吗"))
    assert_matches(
        cond, (C, "能便宜吗"), (C, "有优惠吗"), (C, "再便宜点"), expect=["便宜", "优惠", "便宜"]
    )


def test_keyword_evasion_off_matches_exact_text_only() -> None:
    cond = {"keyword": {"words": ["红包"], "evasion": False}}
    assert_no_match(cond, (A, "红*包"))
    assert_matches(cond, (A, "发红包"), expect=["红包"])


def test_regex_is_re2_with_min_count() -> None:
    assert_matches({"regex": {"pattern": r"\d{3,}元"}}, (A, "只要599元"), expect=["599元"])
    assert_no_match({"regex": {"pattern": "退款", "min_count": 2}}, (C, "我要退款"))
    assert_matches({"regex": {"pattern": "退款", "min_count": 2}}, (C, "我要退款"), (C, "退款！"))


@pytest.mark.parametrize(
    ("text", "kind", "expect"),
    [
        ("我手机 138 0013 8888", "phone", "138 0013 8888"),
        ("打我电话：１３８００１３８８８８", "phone", "１３８００１３８８８８"),
        ("一三八零零一三八八八八", "phone", "一三八零零一三八八八八"),
        ("加我微信 wxid_ab12345", "wechat", "wxid_ab12345"),
        ("+v：abc_88888", "wechat", "abc_88888"),
        ("我qq 12345678", "qq", "12345678"),
        ("发到 wang.li@163.com 吧", "email", "wang.li@163.com"),
        ("身份证 11010519491231002X", "id_card", "11010519491231002X"),
    ],
)
def test_contact_info_finds_hidden_details(text: str, kind: str, expect: str) -> None:
    result = run_one(rules({"when": {"contact_info": {"kinds": [kind]}}}), conv((A, text)))
    assert spans(result) == [expect]
    assert result.evidence[0].unit == kind


@pytest.mark.parametrize(
    "text",
    [
        "订单号 138001388881234",
        "官方客服热线 400-820-8820",
        "合计 15000 元，2026-11-20 到货",
        "用微信支付就可以",
        "快递单号 SF1234567890123",
    ],
)
def test_contact_info_leaves_order_numbers_and_amounts_alone(text: str) -> None:
    assert_no_match(
        {"contact_info": {"kinds": ["phone", "wechat", "qq", "id_card", "bank_card"]}}, (A, text)
    )


def test_message_type() -> None:
    cond = {"message_type": {"types": ["red_packet", "transfer"], "role": "agent"}}
    assert_matches(cond, (C, "谢谢"), (A, "[红包]恭喜发财", "red_packet"))
    assert_no_match(cond, (C, "[红包]", "red_packet"))


def test_near_reports_both_spans_in_either_order() -> None:
    cond = {"near": {"a": ["保证"], "b": ["收益", "回报"], "within_chars": 4}}
    assert_matches(cond, (A, "我保证年化收益8%"), expect=["保证", "收益"])
    assert_matches(cond, (A, "回报嘛我保证"), expect=["回报", "保证"])
    assert_no_match(cond, (A, "保证您满意，至于年化收益要看市场"))


def test_all_any_not_mean_the_same_message() -> None:
    cond = {"all": [{"keyword": {"words": ["退款"]}}, {"not": {"keyword": {"words": ["已退款"]}}}]}
    assert_matches(cond, (C, "我要退款"))
    assert_no_match(cond, (C, "已退款了吗"))
    split = {"all": [{"keyword": {"words": ["退款"]}}, {"keyword": {"words": ["投诉"]}}]}
    assert_no_match(split, (C, "我要退款"), (C, "我要投诉"))
    assert_matches(split, (C, "不退款我就投诉"))


def test_top_level_not_behaves_like_absent() -> None:
    result = run_one(
        rules({"when": {"not": {"keyword": {"words": ["您好"], "role": "agent"}}}}),
        conv((A, "在"), (C, "嗯")),
    )
    assert result.triggered
    assert result.evidence[0].kind == "window"
    assert result.evidence[0].message_ids == ["m1", "m2"]


def test_operator_without_features_is_a_visible_error() -> None:
    result = run_one(rules({"when": {"sentiment": {"below": -0.5}}}), conv((C, "太差了")))
    assert not result.triggered
    assert result.error and "sentiment" in result.error and result.stage == "sentiment"


def test_scope_limits_channels_and_teams() -> None:
    rs = rules({"when": {"keyword": {"words": ["红包"]}}, "scope": {"channels": ["sms"]}})
    from qc_service.rules.evaluator import evaluate

    assert evaluate(rs, conv((A, "红包"), channel="wechat")) == []
    assert evaluate(rs, conv((A, "红包"), channel="sms"))[0].triggered


def test_a_rule_over_its_time_budget_reports_an_error() -> None:
    rs = rules({"when": {"keyword": {"words": ["红包"]}}})
    rs.budget_seconds = 0.0
    result = run_one(rs, conv((A, "红包")))
    assert result.triggered  # the finding stands
    assert result.error is not None and "over the per-rule budget" in result.error
