"""Handlers of the lexical, message-level operators: keyword, regex, contact_info,
message_type, near.

Why these read precomputed hits: the rule set's single automaton has already scanned the
conversation (see ``compiled.build_context``); a keyword handler only filters its own hits
(role, allow, containment, min_count) and turns them into evidence.
"""

from __future__ import annotations

from collections.abc import Callable

import re2

from qc_service.rules.compiled import EvalContext, Leaf
from qc_service.rules.contact import ContactHit, find_contacts
from qc_service.rules.matcher import Hit, drop_allowed, drop_contained
from qc_service.rules.model import Evidence
from qc_service.rules.normalize import fold_word
from qc_service.rules.operators import schemas  # noqa: F401  (specs are registered before handlers)
from qc_service.rules.pinyin import PinyinMatcher, pinyin_view
from qc_service.rules.registry import (
    REGISTRY,
    MessageHits,
    OperatorUnavailable,
    Pattern,
)

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def span_evidence(ctx: EvalContext, message: int, start: int, end: int) -> Evidence:
    """Evidence for characters ``[start, end)`` of one message's original text."""
    msg = ctx.conversation.messages[message]
    return Evidence("span", msg.id, msg.role, start, end, msg.text[start:end])


def message_evidence(ctx: EvalContext, message: int) -> Evidence:
    """Evidence pointing at a whole message."""
    msg = ctx.conversation.messages[message]
    return Evidence("message", msg.id, msg.role, text=msg.text)


def _hits_of(leaf: Leaf, ctx: EvalContext, role: str) -> list[Hit]:
    return ctx.hits.get(leaf.index, {}).get(role, [])


def _in_role(leaf: Leaf, ctx: EvalContext, hits: list[Hit]) -> list[Hit]:
    if leaf.role == "any":
        msgs = ctx.conversation.messages
        return [h for h in hits if msgs[h.message].role != "system"]
    msgs = ctx.conversation.messages
    return [h for h in hits if msgs[h.message].role == leaf.role]


def _group(ctx: EvalContext, hits: list[Hit]) -> MessageHits:
    out: MessageHits = {}
    for h in sorted(hits, key=lambda x: (x.message, x.start, x.end)):
        out.setdefault(h.message, []).append(span_evidence(ctx, h.message, h.start, h.end))
    return out


def _word_patterns(words: list[str], role: str, raw: bool) -> list[Pattern]:
    out: list[Pattern] = []
    for word in words:
        pattern = word if raw else fold_word(word)
        if pattern:
            out.append((role, pattern, raw))
    return out


@REGISTRY.compiler("keyword")
def compile_keyword(leaf: Leaf, _report: Callable[[str, str], None]) -> list[Pattern]:
    """Words and allow phrases go into the rule set's automaton (raw when evasion is off)."""
    raw = not leaf.params["evasion"]
    if leaf.params.get("pinyin"):  # matched on its own pinyin view instead (see rules.pinyin)
        allow = leaf.params.get("allow") or []
        leaf.compiled["pinyin"] = PinyinMatcher(
            [("word", w) for w in leaf.params["resolved_words"]] + [("allow", w) for w in allow]
        )
        return []
    return _word_patterns(leaf.params["resolved_words"], "word", raw) + _word_patterns(
        leaf.params.get("allow") or [], "allow", raw
    )


@REGISTRY.message_handler("keyword")
def keyword(leaf: Leaf, ctx: EvalContext) -> MessageHits:
    """A word occurs outside allowed phrases; min_count counts across the conversation."""
    if "error" in leaf.compiled:
        raise OperatorUnavailable(leaf.compiled["error"])
    if "pinyin" in leaf.compiled:
        view = ctx.cache.get("pinyin")
        if view is None:
            view = ctx.cache["pinyin"] = pinyin_view(ctx.batch)
        found = leaf.compiled["pinyin"].find(view, ctx.batch)
        hits = drop_allowed(found.get("word", []), found.get("allow", []))
    else:
        hits = drop_allowed(_hits_of(leaf, ctx, "word"), _hits_of(leaf, ctx, "allow"))
    hits = _in_role(leaf, ctx, drop_contained(hits))
    if len(hits) < leaf.params["min_count"]:
        return {}
    return _group(ctx, hits)


@REGISTRY.compiler("regex")
def compile_regex(leaf: Leaf, report: Callable[[str, str], None]) -> list[Pattern]:
    """Compile with RE2 once; patterns RE2 cannot compile are load errors."""
    try:
        leaf.compiled["regex"] = re2.compile(leaf.params["pattern"], _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        report(f"{leaf.path}.pattern", f"RE2 cannot compile this pattern: {detail}")
    return []


@REGISTRY.message_handler("regex")
def regex(leaf: Leaf, ctx: EvalContext) -> MessageHits:
    """The pattern matches; min_count counts matches across the conversation."""
    pattern = leaf.compiled["regex"]
    out: MessageHits = {}
    count = 0
    for i in ctx.eligible(leaf.role):
        text = ctx.conversation.messages[i].text
        for m in pattern.finditer(text):
            if m.end() > m.start():
                out.setdefault(i, []).append(span_evidence(ctx, i, m.start(), m.end()))
                count += 1
    return out if count >= leaf.params["min_count"] else {}


@REGISTRY.message_handler("contact_info")
def contact_info(leaf: Leaf, ctx: EvalContext) -> MessageHits:
    """Personal contact details or identity numbers appear."""
    kinds = leaf.compiled.setdefault("kinds", frozenset(leaf.params["kinds"]))
    out: MessageHits = {}
    found: dict[tuple[int, frozenset[str]], list[ContactHit]] = ctx.cache.setdefault("contacts", {})
    for i in ctx.eligible(leaf.role):
        key = (i, kinds)
        if key not in found:  # several rules asking the same message share one detection
            found[key] = find_contacts(ctx.conversation.messages[i].text, kinds)
        for hit in found[key]:
            ev = span_evidence(ctx, i, hit.start, hit.end)
            ev.unit = hit.kind
            out.setdefault(i, []).append(ev)
    return out


@REGISTRY.message_handler("message_type")
def message_type(leaf: Leaf, ctx: EvalContext) -> MessageHits:
    """A message of one of the listed types is sent."""
    types = set(leaf.params["types"])
    msgs = ctx.conversation.messages
    return {i: [message_evidence(ctx, i)] for i in ctx.eligible(leaf.role) if msgs[i].type in types}


@REGISTRY.compiler("near")
def compile_near(leaf: Leaf, _report: Callable[[str, str], None]) -> list[Pattern]:
    """Both word lists go into the automaton, tagged a and b."""
    return _word_patterns(leaf.params["a"], "a", False) + _word_patterns(
        leaf.params["b"], "b", False
    )


@REGISTRY.message_handler("near")
def near(leaf: Leaf, ctx: EvalContext) -> MessageHits:
    """A word of a and a word of b within ``within_chars`` normalized characters, either order."""
    limit = leaf.params["within_chars"]
    a_hits = _in_role(leaf, ctx, drop_contained(_hits_of(leaf, ctx, "a")))
    b_hits = _in_role(leaf, ctx, drop_contained(_hits_of(leaf, ctx, "b")))
    pairs: list[Hit] = []
    for a in a_hits:
        for b in b_hits:
            if a.message != b.message or a == b:
                continue
            gap = max(a.norm_start, b.norm_start) - min(a.norm_end, b.norm_end)
            if gap <= limit:
                pairs.extend((a, b))
    return _group(ctx, list(dict.fromkeys(pairs)))
