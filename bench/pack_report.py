"""The built-in pack on real dialogues (JDDC, STC-3) and on the labelled demo set.

Run: ``.venv/bin/python -m bench.pack_report``. Prints how many conversations each red line
flags, with every flagged evidence, so a red line firing on ordinary service talk is seen
(and fixed) rather than counted. The README quotes its output.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from bench.data import DEMO, SHARED
from qc_service.records import parse_record, to_conversation
from qc_service.rules.analysis import analyze
from qc_service.rules.loader import load_builtin_pack
from qc_service.rules.model import Conversation, Message

DEMO_LABELS = {
    "contact": "redline.private-contact",
    "red_packet": "redline.red-packet",
    "guaranteed_return": "redline.guaranteed-returns",
    "abuse": "redline.abuse",
}


def jddc(path: Path) -> Iterator[Conversation]:
    """JDDC sessions (JD.com customer service)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        msgs = [Message(f"m{i}", t["role"], t["text"]) for i, t in enumerate(d["turns"])]
        yield Conversation(d["session_id"], "im", msgs)


def stc3(path: Path) -> Iterator[Conversation]:
    """STC-3 Weibo helpdesk dialogues (helpdesk = agent)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        msgs = [
            Message(
                f"m{i}",
                "agent" if t["role"] == "helpdesk" else "customer",
                " ".join(t["utterances"]),
            )
            for i, t in enumerate(d["turns"])
        ]
        yield Conversation(d["id"], "im", msgs)


def flagged(convs: Iterator[Conversation]) -> tuple[int, dict[str, list[tuple[str, str, str]]]]:
    """Number of conversations, and rule id → (conversation id, evidence, message) for every hit."""
    pack = load_builtin_pack()
    hits: dict[str, list[tuple[str, str, str]]] = {}
    n = 0
    for conv in convs:
        n += 1
        texts = {m.id: m.text for m in conv.messages}
        for v in analyze(pack, conv).violations:
            ev = v.evidence[0]
            hits.setdefault(v.rule_id, []).append(
                (conv.id, ev.text or "", texts.get(ev.message_id or "", ""))
            )
    return n, hits


def demo_confusion() -> Counter[str]:
    """True/false positives/negatives of the pack against the demo set's labels."""
    pack = load_builtin_pack()
    out: Counter[str] = Counter()
    for line in DEMO.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        got = {v.rule_id for v in analyze(pack, to_conversation(parse_record(data))).violations}
        want = {DEMO_LABELS[label] for label in data.get("demo_labels", []) if label in DEMO_LABELS}
        out["tp"] += len(got & want)
        out["fp"] += len(got - want)
        out["fn"] += len(want - got)
    return out


def main() -> None:
    sources = {
        "JDDC (JD.com customer service)": (
            jddc,
            SHARED / "jddc2019_cs_chat_sample" / "chat_sessions.jsonl",
        ),
        "STC-3 (Weibo helpdesks)": (
            stc3,
            SHARED / "stc3_weibo_helpdesk_dialogues" / "train_data_cn_compact.jsonl",
        ),
    }
    for name, (reader, path) in sources.items():
        if not path.exists():
            print(f"{name}: {path} not found, skipped")
            continue
        n, hits = flagged(reader(path))
        total = len({cid for rows in hits.values() for cid, _, _ in rows})
        print(f"{name}: {n} conversations, {total} flagged")
        for rule_id, rows in hits.items():
            print(f"  {rule_id}: {len(rows)}")
            for cid, ev, text in rows:
                print(f"    {cid}: [{ev}] {text[:90]}")
    print(f"demo set vs its labels: {dict(demo_confusion())}")


if __name__ == "__main__":
    main()
