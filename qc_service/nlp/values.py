"""Value extractors for Q&A tagging: the first age, number, money, date, city or yes/no in a reply.

Why rule-based and stdlib-only: replies to a sales question are short ("8岁", "两万左右",
"不太需要"); a small, table-tested parser is predictable, explainable (every value carries the
span it was read from) and keeps ``nlp`` a pure library. ``start``/``end`` are code points into
the text given, the span of the value itself.

Conventions (see ``tests/nlp/test_values.py`` for the full table):

- Chinese numerals: 零〇一二两三四五六七八九十百千万亿, digits may be mixed in (``1.5万``,
  ``3千5``); a trailing digit after a unit is the next unit down (一万五 = 15000, 两千五 = 2500,
  三百五 = 350; 一万零五 = 10005).
- ``age``: years; ``岁半`` adds 0.5, ``多`` is ignored (三岁多 = 3). Chinese numerals need 岁;
  a bare Arabic number counts ("16") unless another unit follows (年级, 点, 号, 块, …). School
  grades (三年级, 初一) are not ages.
- ``money``: yuan; ``k`` ×1000, ``w``/万 ×10000; 左右/多/上下 are ignored (两千多 = 2000).
  Numbers followed by a non-money unit (岁, 年级, 个, …) are skipped.
- ``date``: an ISO date; relative words (今天, 明天, 下周三, 20号) count from ``today``.
- ``city``: a prefecture-level (or higher) city, without 市.
- ``yes_no``: a refusal anywhere in the reply wins over an agreement (negation first:
  "好的，不过暂时不需要" is False); 不错/没问题/没关系 are not refusals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from qc_service.nlp.cities import CITIES

KINDS: tuple[str, ...] = ("age", "number", "money", "date", "city", "yes_no")
UNITS: dict[str, str | None] = {
    "age": "years",
    "number": None,
    "money": "yuan",
    "date": "date",
    "city": "city",
    "yes_no": "yes_no",
}


@dataclass(frozen=True, slots=True)
class Value:
    """A value read from a text: what kind, the value, where (code points) and its unit."""

    kind: str
    value: int | float | str | bool
    start: int
    end: int
    unit: str | None = None


# -- Chinese numerals ------------------------------------------------------------------------
_CN_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG_UNITS = {"亿": 10**8, "万": 10**4}
_NUM_CHARS = "零〇一二两三四五六七八九十百千万亿"
_TOKEN = re.compile(r"\d+(?:\.\d+)?|[零〇一二两三四五六七八九]|[十百千万亿]")
NUMBER_RE = re.compile(rf"(?:\d+(?:\.\d+)?|[{_NUM_CHARS}])+")


def _tidy(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def parse_number(text: str) -> int | float | None:
    """A Chinese, Arabic or mixed numeral (``两万``, ``一万五``, ``1.5万``, ``二零二六``) or None."""
    text = text.strip()
    if not text or any(c not in _NUM_CHARS and not c.isdigit() and c != "." for c in text):
        return None
    try:
        return _tidy(_parse_big(text))
    except ValueError:
        return None


def _single_digit(text: str) -> int | None:
    if len(text) == 1 and text in _CN_DIGITS:
        return _CN_DIGITS[text]
    if len(text) == 1 and text.isdigit():
        return int(text)
    return None


def _parse_big(text: str) -> float:
    for unit, size in _BIG_UNITS.items():
        if unit in text:
            idx = text.rindex(unit)
            head, tail = text[:idx], text[idx + 1 :]
            high = _parse_big(head) if head else 1.0
            abbreviated = _single_digit(tail)
            if abbreviated is not None:  # 一万五: the next unit down
                low = abbreviated * size / 10
            else:
                low = _parse_big(tail.lstrip("零〇")) if tail.lstrip("零〇") else 0.0
            return high * size + low
    return _parse_section(text)


def _parse_section(text: str) -> float:
    if not text:
        raise ValueError("empty numeral")
    if len(text) > 1 and all(c in _CN_DIGITS for c in text):  # 二零二六: digit by digit
        return float("".join(str(_CN_DIGITS[c]) for c in text))
    tokens = _TOKEN.findall(text)
    if "".join(tokens) != text:
        raise ValueError(f"not a numeral: {text}")
    total = 0.0
    current: float | None = None
    last_unit: int | None = None
    after_zero = False
    single = False
    for tok in tokens:
        if tok in _SMALL_UNITS:
            unit = _SMALL_UNITS[tok]
            total += (current if current is not None else 1) * unit
            current, last_unit, after_zero = None, unit, False
        elif tok in ("零", "〇"):
            after_zero, current = True, None
        else:
            if current is not None:
                raise ValueError(f"two numbers in a row: {text}")
            current = float(_CN_DIGITS[tok]) if tok in _CN_DIGITS else float(tok)
            single = len(tok) == 1
    if current is not None:
        if last_unit is not None and not after_zero and single:  # 三百五 = 350
            total += current * last_unit / 10
        else:
            total += current
    return total


@dataclass(frozen=True, slots=True)
class _Num:
    value: float
    start: int
    end: int
    text: str


def _numbers(text: str) -> list[_Num]:
    """Every numeral in the text with a value, in order (unit-only runs like 千万 are skipped)."""
    out = []
    for m in NUMBER_RE.finditer(text):
        raw = m.group()
        if not any(c.isdigit() or c in _CN_DIGITS for c in raw):
            continue
        value = parse_number(raw)
        if value is None:
            continue
        out.append(_Num(float(value), m.start(), m.end(), raw))
    return out


def _is_arabic(raw: str) -> bool:
    return raw[0].isdigit()


def _after(text: str, end: int, n: int = 3) -> str:
    return text[end : end + n]


def _before(text: str, start: int) -> str:
    return text[start - 1] if start > 0 else ""


# -- age -------------------------------------------------------------------------------------
_NOT_AGE_AFTER = (
    "年级", "年", "级", "点", "号", "日", "月", "个", "块", "元", "万", "千", "k", "K", "w", "W",
    "%", "分", "次", "人", "节", "天", "周", "小时", "班", "期", "斤", "公", "米", "cm",
)  # fmt: skip
_NOT_AGE_BEFORE = ("初", "高", "第", "周", "星", "期", "级", "-", "/", ".", ":")


def _age(text: str) -> Value | None:
    for num in _numbers(text):
        rest = text[num.end :]
        m = re.match(r"\s*(?:周岁|岁)", rest)
        if m:
            end = num.end + m.end()
            value = num.value
            if text[end : end + 1] == "半":
                value, end = value + 0.5, end + 1
            if 0 < value < 120:
                return Value("age", _tidy(value), num.start, end, "years")
            continue
        if not _is_arabic(num.text) or "." in num.text:
            continue
        if _before(text, num.start) in _NOT_AGE_BEFORE or rest.lstrip().startswith(_NOT_AGE_AFTER):
            continue
        if 0 < num.value < 120:
            return Value("age", _tidy(num.value), num.start, num.end, "years")
    return None


# -- number ----------------------------------------------------------------------------------
_MEASURE = "个位次人节门只本张岁年月天周名间套件台份遍家种部条"


def _number(text: str) -> Value | None:
    for num in _numbers(text):
        if (
            len(num.text) == 1
            and num.text in _CN_DIGITS
            and _after(text, num.end, 1) not in (_MEASURE)
        ):  # a lone 一 / 两 needs a measure word (一下, 一直 are not numbers)
            continue
        return Value("number", _tidy(num.value), num.start, num.end, None)
    return None


# -- money -----------------------------------------------------------------------------------
_NOT_MONEY_AFTER = (
    "岁", "年级", "年", "级", "个", "次", "人", "节", "课", "分钟", "小时", "天", "周", "号", "日",
    "月", "点", "%", "折", "期", "班", "斤", "米", "门", "套", "位",
)  # fmt: skip
_MONEY_UNIT = re.compile(r"\s*(?:块钱|块|元|rmb|RMB|人民币)")


def _money(text: str) -> Value | None:
    for num in _numbers(text):
        rest = text[num.end :]
        value, end = num.value, num.end
        suffix = re.match(r"[kKwW](?![a-zA-Z])", rest)
        if suffix and _is_arabic(num.text):
            value *= 1000 if suffix.group().lower() == "k" else 10000
            end += 1
            rest = text[end:]
        elif rest.startswith(_NOT_MONEY_AFTER):
            continue
        elif _before(text, num.start) in ("初", "高", "第", "周", "-", "/"):
            continue
        unit = _MONEY_UNIT.match(rest)
        if len(num.text) == 1 and num.text in _CN_DIGITS and not unit and not suffix:
            continue  # a lone 一 / 两 is money only with 块 / 元
        if unit:
            end += unit.end()
        if value <= 0:
            continue
        return Value("money", _tidy(value), num.start, end, "yuan")
    return None


# -- date ------------------------------------------------------------------------------------
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_RELATIVE_DAYS = {"大后天": 3, "后天": 2, "明天": 1, "明日": 1, "今天": 0, "今日": 0,
                  "昨天": -1, "前天": -2}  # fmt: skip
_NUM = rf"(?:\d{{1,4}}|[{_NUM_CHARS}]{{1,4}})"
_DATE_PATTERNS = [
    ("ymd", re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")),
    ("md", re.compile(rf"({_NUM})\s*月\s*({_NUM})\s*[日号]")),
    ("md_slash", re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?![\d/])")),
    ("week", re.compile(r"(下下|下个?|这个?|本|上个?)?\s*(?:周|星期|礼拜)([一二三四五六日天末])")),
    ("rel", re.compile("|".join(_RELATIVE_DAYS))),
    ("day", re.compile(rf"(下个?月)?({_NUM})\s*[日号]")),
]


def _int(raw: str) -> int | None:
    value = parse_number(raw)
    return int(value) if isinstance(value, int) else None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _date_of(kind: str, m: re.Match[str], today: date) -> date | None:
    if kind == "ymd":
        return _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if kind in ("md", "md_slash"):
        month, day = _int(m.group(1)), _int(m.group(2))
        if month is None or day is None:
            return None
        found = _safe_date(today.year, month, day)
        if found is not None and found < today - timedelta(days=180):
            found = _safe_date(today.year + 1, month, day)  # "1月5号" said in November
        return found
    if kind == "week":
        prefix = (m.group(1) or "").replace("个", "")
        weeks = {"下下": 2, "下": 1, "上": -1}.get(prefix, 0)
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(weeks=weeks, days=_WEEKDAYS[m.group(2)])
    if kind == "rel":
        return today + timedelta(days=_RELATIVE_DAYS[m.group()])
    day = _int(m.group(2))
    if day is None:
        return None
    year, month = today.year, today.month
    if m.group(1) or day < today.day:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return _safe_date(year, month, day)


def _date(text: str, today: date | None) -> Value | None:
    base = today or date.today()
    found: list[tuple[int, int, date]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _DATE_PATTERNS:
        for m in pattern.finditer(text):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue  # inside a longer date already read (11月20号 is not also 20号)
            when = _date_of(kind, m, base)
            if when is not None:
                found.append((m.start(), m.end(), when))
                taken.append((m.start(), m.end()))
    if not found:
        return None
    start, end, when = min(found)
    return Value("date", when.isoformat(), start, end, "date")


# -- city ------------------------------------------------------------------------------------
_CITY_RE = re.compile("|".join(sorted(CITIES, key=len, reverse=True)))


def _city(text: str) -> Value | None:
    m = _CITY_RE.search(text)
    if m is None:
        return None
    return Value("city", m.group(), m.start(), m.end(), "city")


# -- yes / no --------------------------------------------------------------------------------
_NOT_REFUSALS = ("不错", "没问题", "没关系", "不要紧", "不客气", "要不要", "可不可以", "行不行")
_NO = (
    "不太需要", "不需要", "不用了", "不用", "不要", "算了", "没兴趣", "不感兴趣", "不考虑", "不想",
    "不行", "不可以", "不了", "不必", "没必要", "没空", "没时间", "再说吧", "先不", "暂时不",
    "拒绝", "no", "No", "NO",
)  # fmt: skip
_YES = (
    "有兴趣", "感兴趣", "好的", "好啊", "好呀", "好滴", "可以", "没问题", "是的", "需要", "要的",
    "愿意", "同意", "当然", "不错", "没关系", "ok", "OK", "Ok", "yes", "Yes", "行", "要", "好", "嗯", "对", "想",
)  # fmt: skip
_NO_RE = re.compile("|".join(map(re.escape, _NO)))
_YES_RE = re.compile("|".join(map(re.escape, _YES)))
_NEGATED = re.compile(r"[不没别][太很大怎么是用]?(?:" + "|".join(map(re.escape, _YES)) + ")")


def _yes_no(text: str) -> Value | None:
    masked = text
    for phrase in _NOT_REFUSALS:  # same length, so spans stay put
        masked = masked.replace(phrase, "\0" * len(phrase))
    refusals = [m for m in (_NO_RE.search(masked), _NEGATED.search(masked)) if m is not None]
    if refusals:
        no = min(refusals, key=lambda x: (x.start(), -x.end()))
        return Value("yes_no", False, no.start(), no.end(), "yes_no")
    yes = _YES_RE.search(text)
    if yes is None:
        return None
    return Value("yes_no", True, yes.start(), yes.end(), "yes_no")


def extract(kind: str, text: str, *, today: date | None = None) -> Value | None:
    """The first value of ``kind`` in ``text`` (yes/no: a refusal first), or None.

    ``today`` anchors relative dates (明天, 下周三); it defaults to the current date.
    """
    if kind == "age":
        return _age(text)
    if kind == "number":
        return _number(text)
    if kind == "money":
        return _money(text)
    if kind == "date":
        return _date(text, today)
    if kind == "city":
        return _city(text)
    if kind == "yes_no":
        return _yes_no(text)
    raise ValueError(f"unknown value kind {kind!r} (known: {', '.join(KINDS)})")
