"""Detect personal contact details and identity numbers in a message.

Why a detector and not a regex in the rule pack: agents hide numbers (``１３８ 0013-8888``,
``一三八零零一三八八八八``, ``③``), and a digit run longer than a kind's length is an order
number, not a phone. Each kind validates what it can (ID-card checksum, Luhn for bank cards)
so ordinary service talk about orders and amounts stays clean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qc_service.rules.normalize import fold_same_length

_CN_DIGITS = str.maketrans("零〇一壹幺二贰三叁四肆五伍六陆七柒八捌九玖", "001112233445566778899")
_DIGITISH = re.compile(
    r"[\d⁰¹²³⁴-⁹₀-₉①-⒛❶-➓⓪-⓿㈠-㈩㊀-㊉零〇一壹幺二贰三叁四肆五伍六陆七柒八捌九玖]"
)
_MIN_DIGITS = 5
DIGITISH, MIN_DIGITS = _DIGITISH, _MIN_DIGITS
"""What counts as a digit (any script the detector folds) and how many a number needs: the
maskers' cheap pre-check must agree with the detector."""
_RUN = re.compile(r"[0-9](?:[ \t\u3000\-–—._·/]{0,3}[0-9])*")
_QQ_CUE = re.compile(r"(?:q\W{0,2}q|扣扣|企鹅|q号)\W{0,4}$")
_WECHAT = re.compile(
    r"(?:[+＋]\s?v|微\W{0,2}信|薇\W{0,2}信|威\W{0,2}信|v\W{0,2}信|vx|wx|wei\W{0,2}xin|微|加\W{0,2}我)"
    r"(?:号码|账号|号|id|搜|聊|是|为){0,2}[\s:：,，=＝+＋~～\-]{0,3}"
    r"(?P<id>[a-z][a-z0-9_-]{5,19})(?![a-z0-9_-])"
)
_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
_URL = re.compile(
    r"(?:https?://[^\s，。！？、<>\"'）)]+)|(?:www\.[a-z0-9-]+(?:\.[a-z0-9-]+)+)"
    r"|(?<![a-z0-9@.-])[a-z0-9-]+\.(?:com|cn|net|org|top|xyz|vip|cc|me|io)(?![a-z0-9])"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@dataclass(frozen=True, slots=True)
class ContactHit:
    """One detected contact detail: kind and code-point span in the original text."""

    kind: str
    start: int
    end: int


def _id_card_ok(digits: str) -> bool:
    if len(digits) != 18 or not digits[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == digits[17].upper()


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _classify(digits: str, before: str) -> str | None:
    """The kind of a digit run, or None (an order number, an amount, a date...)."""
    if _QQ_CUE.search(before) and 5 <= len(digits) <= 11 and digits[0] != "0":
        return "qq"
    if len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789":
        return "phone"
    if (
        len(digits) == 13
        and digits.startswith("86")
        and digits[2] == "1"
        and digits[3] in "3456789"
    ):
        return "phone"
    if digits[0] == "0" and digits[1] != "0" and 10 <= len(digits) <= 12:
        return "phone"
    if _id_card_ok(digits):
        return "id_card"
    if 16 <= len(digits) <= 19 and _luhn_ok(digits):
        return "bank_card"
    return None


def find_contacts(text: str, kinds: frozenset[str]) -> list[ContactHit]:
    """Every contact detail of the requested kinds in ``text`` (offsets into ``text``)."""
    found: list[ContactHit] = []
    digits_needed = kinds & {"phone", "qq", "id_card", "bank_card"}
    folded: str | None = None
    if (
        digits_needed
        and len(_DIGITISH.findall(text)) >= _MIN_DIGITS
        or (kinds & {"wechat", "email", "url"})
    ):
        folded = fold_same_length(text).translate(_CN_DIGITS)
    if folded is None:
        return found
    if digits_needed:
        for m in _RUN.finditer(folded):
            digits = re.sub(r"[^0-9]", "", m.group())
            end = m.end()
            if len(digits) == 17 and end < len(folded) and folded[end] in "xX":
                digits += "X"
                end += 1
            if len(digits) < _MIN_DIGITS:
                continue
            kind = _classify(digits, folded[max(0, m.start() - 8) : m.start()])
            if kind in kinds:
                found.append(ContactHit(kind, m.start(), end))
    if "wechat" in kinds:
        for m in _WECHAT.finditer(folded):
            found.append(ContactHit("wechat", m.start("id"), m.end("id")))
    email_spans: list[tuple[int, int]] = []
    if kinds & {"email", "url"} and "@" in folded:
        for m in _EMAIL.finditer(folded):
            email_spans.append((m.start(), m.end()))
            if "email" in kinds:
                found.append(ContactHit("email", m.start(), m.end()))
    if "url" in kinds and "." in folded:
        for m in _URL.finditer(folded):
            if any(s <= m.start() < e for s, e in email_spans):
                continue
            found.append(ContactHit("url", m.start(), m.end()))
    return _dedupe(found)


def _dedupe(hits: list[ContactHit]) -> list[ContactHit]:
    """One report per place: a span inside another kind's span is dropped."""
    hits.sort(key=lambda h: (h.start, -(h.end - h.start)))
    out: list[ContactHit] = []
    for h in hits:
        if any(o.start <= h.start and h.end <= o.end for o in out):
            continue
        out.append(h)
    return out


_PII_KINDS = frozenset({"phone", "id_card", "bank_card", "email"})
_KEEP_HEAD, _KEEP_TAIL = 3, 4


def _mask_digits(span: str) -> str:
    """Keep the first 3 and last 4 digit-like characters of a number; the rest become ``*``."""
    positions = [i for i, ch in enumerate(span) if _DIGITISH.match(ch) or ch in "xX"]
    hidden = set(positions[_KEEP_HEAD : max(_KEEP_HEAD, len(positions) - _KEEP_TAIL)])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(span))


def _mask_email(span: str) -> str:
    local, _, domain = span.partition("@")
    return local[:1] + "*" * (len(local) - 1) + "@" + domain


_HEX_TOKEN = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F-]{24,}(?![0-9A-Za-z])")


def _hex_id_spans(text: str) -> list[tuple[int, int]]:
    """Spans of hex identifiers (uuids, hashes) in running text. Why: a uuid's digits can read as a
    mobile number (``…e14348671245ac…``), and a masked id in a log line can no longer be found.
    A pure digit run is not an identifier here: it may well be a card number."""
    return [m.span() for m in _HEX_TOKEN.finditer(text) if re.search(r"[a-fA-F]", m.group())]


def mask_pii(text: str) -> str:
    """Mobile, ID-card and bank-card numbers and e-mail addresses masked, length kept in code
    points (``13812345678`` → ``138****5678``), so evidence offsets still point at the same
    characters. Sees through what the contact rule sees through (一三八…, spaces, full width)."""
    try:
        hits = [h for h in find_contacts(text, _PII_KINDS) if h.kind in _PII_KINDS]
    except UnicodeEncodeError:  # a lone surrogate (a log line): detect on a same-length copy
        clean = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
        hits = [h for h in find_contacts(clean, _PII_KINDS) if h.kind in _PII_KINDS]
    if hits and (ids := _hex_id_spans(text)):
        hits = [h for h in hits if not any(a <= h.start and h.end <= b for a, b in ids)]
    if not hits:
        return text
    out = list(text)
    for h in hits:
        span = text[h.start : h.end]
        masked = _mask_email(span) if h.kind == "email" else _mask_digits(span)
        out[h.start : h.end] = list(masked)
    return "".join(out)


_IDENTIFIER_KEY = re.compile(r"(?:^|_)(?:id|ids|hash|key|fingerprint|token)$")
_HEX_ID = re.compile(r"[0-9a-fA-F-]{24,}")


def is_identifier_key(key: str) -> bool:
    """Keys whose values are identifiers, hashes or keys (``id``, ``event_id``, ``prev_hash``…):
    never masked, or links, idempotency keys and the audit chain would break. The person's data
    they may name (a phone used as a customer id) is the caller's own input, not a disclosure."""
    return bool(_IDENTIFIER_KEY.search(key))


def mask_text_value(text: str) -> str:
    """``mask_pii`` for a free-standing string value, leaving hex identifiers (uuids) alone."""
    return text if _HEX_ID.fullmatch(text) else mask_pii(text)


def mask_pii_value(value: object, key: str = "") -> object:
    """A JSON-able value (dicts, lists, strings) with every string masked except identifier
    values (``is_identifier_key``); keys and numbers untouched (SSE alerts, CRM payloads)."""
    if isinstance(value, str):
        return value if is_identifier_key(key) else mask_text_value(value)
    if isinstance(value, dict):
        return {k: mask_pii_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_pii_value(v, key) for v in value]
    return value
