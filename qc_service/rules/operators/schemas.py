"""Parameter schemas of every operator in RULES.md, registered at import.

Why all of them now: a rule file that uses ``loudness`` or ``semantic`` must load (and be
checked) today even where the feature that evaluates it arrives later; such operators report
"feature unavailable" at evaluation time.
"""

from __future__ import annotations

from qc_service.rules.model import MESSAGE_TYPES
from qc_service.rules.registry import REGISTRY, OperatorSpec, Param

CONTACT_KINDS: tuple[str, ...] = ("phone", "wechat", "qq", "email", "url", "id_card", "bank_card")

_WORDS = {
    "words": Param("str_list", doc="words to look for"),
    "lexicon": Param("str_list", doc="names of lexicons declared at the top of the file"),
    "file": Param("str", doc="a word list file, one word a line, relative to the rules file"),
}
_SECONDS = Param("number", minimum=0)

_SPECS = [
    OperatorSpec(
        "keyword",
        "message",
        lexical=True,
        any_of=("words", "lexicon", "file"),
        doc="a word occurs (evasion-aware)",
        params={
            **_WORDS,
            "min_count": Param("int", default=1, minimum=1),
            "allow": Param(
                "word_source",
                doc="phrases (or {words, lexicon, file}) that cancel a hit inside them",
            ),
            "evasion": Param("bool", default=True),
            "pinyin": Param("bool", default=False),
        },
    ),
    OperatorSpec(
        "regex",
        "message",
        lexical=True,
        doc="an RE2 pattern matches a message",
        params={
            "pattern": Param("str", required=True),
            "min_count": Param("int", default=1, minimum=1),
        },
    ),
    OperatorSpec(
        "contact_info",
        "message",
        lexical=True,
        doc="personal contact details or identity numbers",
        params={"kinds": Param("enum_list", default=list(CONTACT_KINDS), choices=CONTACT_KINDS)},
    ),
    OperatorSpec(
        "message_type",
        "message",
        lexical=True,
        doc="a message of that type is sent",
        params={"types": Param("enum_list", required=True, choices=MESSAGE_TYPES)},
    ),
    OperatorSpec(
        "near",
        "message",
        lexical=True,
        doc="a word of a and a word of b close together",
        params={
            "a": Param("word_source", required=True),
            "b": Param("word_source", required=True),
            "within_chars": Param("int", default=10, minimum=0),
        },
    ),
    OperatorSpec(
        "semantic",
        "message",
        feature="semantic",
        doc="same meaning as an example",
        params={
            "examples": Param("str_list", required=True),
            "threshold": Param("float", minimum=0, maximum=1),
        },
    ),
    OperatorSpec(
        "sentiment",
        "message",
        feature="sentiment",
        one_of=(("below", "above"),),
        doc="sentiment crosses a bound",
        params={
            "below": Param("float", minimum=-1, maximum=1),
            "above": Param("float", minimum=-1, maximum=1),
            "level": Param("enum", default="message", choices=("message", "conversation")),
        },
    ),
    OperatorSpec(
        "sequence",
        "conversation",
        doc="first, then within N turns",
        params={
            "first": Param("condition", required=True),
            "then": Param("condition", required=True),
            "within_turns": Param("int", default=3, minimum=0),
        },
    ),
    OperatorSpec(
        "unanswered",
        "conversation",
        doc="a trigger without the expected reply",
        params={
            "trigger": Param("condition", required=True),
            "expect": Param("condition", required=True),
            "within_turns": Param("int", default=2, minimum=1),
        },
    ),
    OperatorSpec(
        "position",
        "conversation",
        one_of=(("first_turns", "last_turns", "first_seconds", "last_seconds"),),
        doc="cond inside the first/last turns or seconds",
        params={
            "first_turns": Param("int", minimum=1),
            "last_turns": Param("int", minimum=1),
            "first_seconds": _SECONDS,
            "last_seconds": _SECONDS,
            "cond": Param("condition", required=True),
        },
    ),
    OperatorSpec(
        "absent",
        "conversation",
        doc="cond matches nowhere (must-say items)",
        params={"cond": Param("condition", required=True)},
    ),
    OperatorSpec(
        "repetition",
        "conversation",
        doc="the same sentence sent min_times or more",
        params={"min_times": Param("int", default=3, minimum=2)},
    ),
    OperatorSpec(
        "response_time",
        "conversation",
        doc="an agent's first reply comes too late",
        params={
            "over_seconds": Param("number", required=True, minimum=0),
            "business_hours": Param("hours"),
        },
    ),
    OperatorSpec(
        "duration",
        "conversation",
        one_of=(("under_seconds", "over_seconds"),),
        doc="the conversation is too short or too long",
        params={"under_seconds": _SECONDS, "over_seconds": _SECONDS},
    ),
    OperatorSpec(
        "loudness",
        "conversation",
        feature="audio",
        one_of=(("over_dbfs", "over_baseline_db"),),
        doc="the role's audio stays louder than the bound",
        params={
            "over_dbfs": Param("number", maximum=0),
            "over_baseline_db": Param("number", minimum=0),
            "min_seconds": Param("number", default=1.0, minimum=0),
        },
    ),
    OperatorSpec(
        "silence",
        "conversation",
        feature="audio",
        doc="both parties silent too long",
        params={"over_seconds": Param("number", required=True, minimum=0)},
    ),
    OperatorSpec(
        "overtalk",
        "conversation",
        feature="audio",
        doc="both parties speak at once",
        params={
            "over_seconds": Param("number", required=True, minimum=0),
            "by": Param("enum", choices=("agent", "customer")),
        },
    ),
    OperatorSpec(
        "speech_rate",
        "conversation",
        feature="audio",
        one_of=(("over_cpm", "under_cpm"),),
        doc="a turn spoken too fast or too slow",
        params={"over_cpm": Param("number", minimum=0), "under_cpm": Param("number", minimum=0)},
    ),
]

for _spec in _SPECS:
    REGISTRY.add(_spec)
