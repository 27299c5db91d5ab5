"""Value extractors for Q&A tagging: every example of the issue, plus the tricky ones."""

from __future__ import annotations

from datetime import date

import pytest

from qc_service.nlp.values import KINDS, Value, extract, parse_number

TODAY = date(2026, 11, 18)  # a Wednesday

# (kind, text, value or None, span text or None)
CASES: list[tuple[str, str, object, str | None]] = [
    # age (years)
    ("age", "8岁", 8, "8岁"),
    ("age", "八岁半", 8.5, "八岁半"),
    ("age", "8岁半了", 8.5, "8岁半"),
    ("age", "刚满五岁", 5, "五岁"),
    ("age", "十四岁", 14, "十四岁"),
    ("age", "16", 16, "16"),
    ("age", "今年16了", 16, "16"),
    ("age", "7周岁", 7, "7周岁"),
    ("age", "三岁多", 3, "三岁"),
    ("age", "我家孩子8岁了，老大12岁", 8, "8岁"),
    ("age", "上初一", None, None),
    ("age", "三年级", None, None),
    ("age", "3年级了", None, None),
    ("age", "十四", None, None),  # Chinese numerals need 岁
    ("age", "还小呢", None, None),
    # number
    ("number", "两个孩子", 2, "两"),
    ("number", "一共35人", 35, "35"),
    ("number", "二十", 20, "二十"),
    ("number", "我想一下", None, None),
    ("number", "一直没空", None, None),
    # money (yuan)
    ("money", "两万左右", 20000, "两万"),
    ("money", "3k", 3000, "3k"),
    ("money", "三千块", 3000, "三千块"),
    ("money", "一万五", 15000, "一万五"),
    ("money", "两千多", 2000, "两千"),
    ("money", "1.5万", 15000, "1.5万"),
    ("money", "5w", 50000, "5w"),
    ("money", "价格是3k吗", 3000, "3k"),
    ("money", "预算5000元", 5000, "5000元"),
    ("money", "孩子8岁，预算两万", 20000, "两万"),
    ("money", "三年级，大概三百五", 350, "三百五"),
    ("money", "千万别太贵", None, None),
    ("money", "没想好", None, None),
    # date (ISO, relative to TODAY)
    ("date", "明天", "2026-11-19", "明天"),
    ("date", "后天下午", "2026-11-20", "后天"),
    ("date", "下周三", "2026-11-25", "下周三"),
    ("date", "周五吧", "2026-11-20", "周五"),
    ("date", "11月20号", "2026-11-20", "11月20号"),
    ("date", "十一月二十号", "2026-11-20", "十一月二十号"),
    ("date", "2026-11-20", "2026-11-20", "2026-11-20"),
    ("date", "2027年1月5日", "2027-01-05", "2027年1月5日"),
    ("date", "1月5号", "2027-01-05", "1月5号"),  # said in November: next January
    ("date", "25号", "2026-11-25", "25号"),
    ("date", "还不确定", None, None),
    # city (without 市)
    ("city", "我在杭州市", "杭州", "杭州"),
    ("city", "深圳", "深圳", "深圳"),
    ("city", "北京朝阳区", "北京", "北京"),
    ("city", "石家庄那边", "石家庄", "石家庄"),
    ("city", "在老家", None, None),
    # yes / no (negation first)
    ("yes_no", "好的", True, "好的"),
    ("yes_no", "可以", True, "可以"),
    ("yes_no", "行", True, "行"),
    ("yes_no", "要", True, "要"),
    ("yes_no", "有兴趣", True, "有兴趣"),
    ("yes_no", "没问题", True, "没问题"),
    ("yes_no", "不用", False, "不用"),
    ("yes_no", "不要", False, "不要"),
    ("yes_no", "算了", False, "算了"),
    ("yes_no", "没兴趣", False, "没兴趣"),
    ("yes_no", "不考虑", False, "不考虑"),
    ("yes_no", "不太需要", False, "不太需要"),
    ("yes_no", "不好", False, "不好"),
    ("yes_no", "好的，不过暂时不需要", False, "暂时不"),
    ("yes_no", "哦", None, None),
]


@pytest.mark.parametrize(("kind", "text", "expected", "span"), CASES)
def test_extract(kind: str, text: str, expected: object, span: str | None) -> None:
    found = extract(kind, text, today=TODAY)
    if expected is None:
        assert found is None, found
        return
    assert found is not None, f"{kind} not found in {text!r}"
    assert found.kind == kind
    assert found.value == expected and type(found.value) is type(expected)
    assert text[found.start : found.end] == span


def test_units() -> None:
    assert extract("age", "8岁") == Value("age", 8, 0, 2, "years")
    assert extract("money", "3k") == Value("money", 3000, 0, 2, "yuan")
    assert extract("number", "35人") == Value("number", 35, 0, 2, None)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("一万五", 15000), ("两千五", 2500), ("三百五", 350), ("一万零五", 10005), ("十四", 14),
        ("十", 10), ("一百二十", 120), ("二零二六", 2026), ("三亿五千万", 350_000_000),
        ("3千5", 3500), ("1.5万", 15000), ("两", 2), ("零", 0), ("千万", 10_000_000),
        ("abc", None), ("", None),
    ],
)  # fmt: skip
def test_parse_number(text: str, value: int | None) -> None:
    assert parse_number(text) == value


def test_unknown_kind() -> None:
    assert "age" in KINDS
    with pytest.raises(ValueError, match="unknown value kind"):
        extract("colour", "红色")
