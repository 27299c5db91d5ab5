"""The rule stage at scale, as ratios against baselines run in the same process.

1. 200 rules mixing every text operator over a 20k-word lexicon, against raw ahocorasick-rs on
   the same (pre-normalized) messages.
2. A 50k-pattern lexicon against a 1k-pattern one (same texts, same hit rate): target ≥ 0.8×.
3. A rule set containing an adversarial regex against the same set without it: target ≥ 1/1.5.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import ahocorasick_rs

from bench.data import conversations, lexicon
from qc_service.rules.compiled import RuleSet
from qc_service.rules.evaluator import evaluate
from qc_service.rules.loader import load_rules_data
from qc_service.rules.model import Conversation, Message
from qc_service.rules.normalize import fold_word, normalize_batch

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _best(fn: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _convs(texts: list[list[str]]) -> list[Conversation]:
    out = []
    for k, c in enumerate(texts):
        msgs = [
            Message(f"m{j}", "agent" if j % 2 else "customer", t, ts=T0 + timedelta(seconds=30 * j))
            for j, t in enumerate(c)
        ]
        out.append(Conversation(f"c{k}", "im", msgs, employee_id="e1", final=True))
    return out


def _mixed_rules(words: list[str], n_rules: int = 200) -> list[dict[str, Any]]:
    """``n_rules`` rules cycling through the text operators; keyword rules share the lexicon."""
    chunk = max(1, len(words) // 100)
    kinds: list[Callable[[int], dict[str, Any]]] = [
        lambda i: {"keyword": {"words": words[(i % 100) * chunk : (i % 100 + 1) * chunk], "allow": ["不保本"]}},
        lambda i: {"regex": {"pattern": rf"订单.{{0,4}}{i % 10}\d{{3,}}"}},
        lambda i: {"near": {"a": ["退款", "退货"], "b": ["多久", "什么时候"], "within_chars": 5 + i % 5}},
        lambda i: {"contact_info": {"kinds": ["phone", "wechat"], "role": "agent"}},
        lambda i: {"message_type": {"types": ["red_packet"], "role": "agent"}},
        lambda i: {"sequence": {"first": {"keyword": {"words": ["投诉"]}}, "then": {"keyword": {"words": ["抱歉", "不好意思"]}}}},
        lambda i: {"unanswered": {"trigger": {"keyword": {"words": ["人工", "投诉"], "role": "customer"}},
                                  "expect": {"keyword": {"words": ["抱歉", "您好"], "role": "agent"}}}},
        lambda i: {"position": {"first_turns": 2, "cond": {"keyword": {"words": ["您好", "你好"], "role": "agent"}}}},
        lambda i: {"absent": {"cond": {"keyword": {"words": ["还有什么可以帮您", "祝您生活愉快"], "role": "agent"}}}},
        lambda i: {"repetition": {"min_times": 3, "role": "agent"}},
        lambda i: {"response_time": {"over_seconds": 60 + i}},
        lambda i: {"duration": {"over_seconds": 600 + i}},
    ]  # fmt: skip
    return [
        {"id": f"bench.r{i:03d}", "name": f"r{i}", "when": kinds[i % len(kinds)](i)}
        for i in range(n_rules)
    ]


def _split_by_occurrence(words: list[str], texts: list[str]) -> tuple[list[str], list[str]]:
    """Words that occur in the (normalized) texts, and words that never do."""
    folded = [fold_word(w) for w in words]
    keep = [(w, f) for w, f in zip(words, folded, strict=True) if f]
    patterns = list(dict.fromkeys(f for _, f in keep))
    ac = ahocorasick_rs.AhoCorasick(patterns, matchkind=ahocorasick_rs.MatchKind.Standard)
    seen = {
        patterns[p] for t in texts for p, _, _ in ac.find_matches_as_indexes(t, overlapping=True)
    }
    occurring = [w for w, f in keep if f in seen]
    absent = [w for w, f in keep if f not in seen]
    return occurring, absent


def _load(rule_defs: list[dict[str, Any]]) -> RuleSet:
    return load_rules_data({"rules": rule_defs})


def _run_all(ruleset: RuleSet, convs: list[Conversation]) -> int:
    fired = 0
    for c in convs:
        fired += sum(1 for r in evaluate(ruleset, c) if r.triggered)
    return fired


def run() -> None:
    texts, src = conversations()
    words, lex_src = lexicon(20_000)
    convs = _convs(texts)
    n_msgs = sum(len(c.messages) for c in convs)
    print(
        f"rule stage: {len(convs)} conversations / {n_msgs} messages from {src}; lexicon {lex_src}"
    )

    ruleset = _load(_mixed_rules(words))
    folded = list(dict.fromkeys(fold_word(w) for w in words if fold_word(w)))
    ac = ahocorasick_rs.AhoCorasick(folded, matchkind=ahocorasick_rs.MatchKind.Standard)
    pre = [normalize_batch([m.text]).text for c in convs for m in c.messages]
    t_raw = _best(lambda: [ac.find_matches_as_indexes(t, overlapping=True) for t in pre])
    t_ours = _best(lambda: _run_all(ruleset, convs))
    print(f"  200 mixed rules: {n_msgs / t_ours:,.0f} msgs/s vs raw ahocorasick-rs {n_msgs / t_raw:,.0f} msgs/s "
          f"= {t_raw / t_ours:.2f}×")  # fmt: skip

    occurring, absent = _split_by_occurrence(lexicon(70_000)[0], pre)
    small = (occurring + absent)[:1000]
    big = small + absent[len(small) - len(occurring[:1000]) :][:49_000]
    rs_small = _load([{"id": "lex", "name": "lex", "when": {"keyword": {"words": small}}}])
    rs_big = _load([{"id": "lex", "name": "lex", "when": {"keyword": {"words": big}}}])
    hits_small, hits_big = _run_all(rs_small, convs), _run_all(rs_big, convs)
    t_small = _best(lambda: _run_all(rs_small, convs))
    t_big = _best(lambda: _run_all(rs_big, convs))
    print(f"  {len(rs_big.index.matcher.patterns):,}-pattern lexicon vs {len(rs_small.index.matcher.patterns):,}: "
          f"{t_small / t_big:.2f}× (target ≥ 0.8×; same texts, {hits_big} vs {hits_small} conversations fired)")  # fmt: skip

    plain = _mixed_rules(words, 50)
    evil = [
        *plain,
        {
            "id": "bench.evil",
            "name": "evil",
            "when": {"regex": {"pattern": r"(a+)+$|(.*a){20}|(x+x+)+y"}},
        },
    ]
    rs_plain, rs_evil = _load(plain), _load(evil)
    t_plain = _best(lambda: _run_all(rs_plain, convs))
    t_evil = _best(lambda: _run_all(rs_evil, convs))
    print(
        f"  with an adversarial regex vs without: {t_plain / t_evil:.2f}× of the speed (target ≥ 0.67×, i.e. within 1.5×; RE2 is linear)"
    )


if __name__ == "__main__":
    run()
