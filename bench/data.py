"""Bench inputs: real messages and a real 20k-word Chinese lexicon where ../shared/data exists,
else the shipped demo set and words drawn from it (the numbers then say so)."""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("QC_SHARED_DATA", REPO.parent / "shared" / "data"))
DEMO = REPO / "qc_service" / "demo" / "data" / "demo.jsonl"


def conversations(limit: int = 1000) -> tuple[list[list[str]], str]:
    """Conversations as lists of message texts, and where they came from."""
    jddc = SHARED / "jddc2019_cs_chat_sample" / "chat_sessions.jsonl"
    out: list[list[str]] = []
    if jddc.exists():
        for line in jddc.read_text(encoding="utf-8").splitlines()[:limit]:
            out.append([t["text"] for t in json.loads(line)["turns"]])
        return out, f"JDDC sample ({len(out)} conversations)"
    for line in DEMO.read_text(encoding="utf-8").splitlines()[:limit]:
        rec = json.loads(line)
        out.append([m.get("text", "") for m in rec.get("messages", [])])
    return out, f"demo set ({len(out)} conversations)"


def lexicon(size: int = 20_000) -> tuple[list[str], str]:
    """A Chinese lexicon of ``size`` words, and where it came from."""
    houbb = SHARED / "sensitive_lexicon_houbb" / "dict_v20240407.txt"
    if houbb.exists():
        words = [w.strip() for w in houbb.read_text(encoding="utf-8").splitlines()]
        words = [
            w
            for w in dict.fromkeys(words)
            if len(w) >= 2 and any("\u4e00" <= c <= "\u9fff" for c in w)
        ]
        return words[:size], f"houbb deny dictionary (first {size} Chinese words)"
    convs, _ = conversations()
    grams: dict[str, None] = {}
    for conv in convs:
        for text in conv:
            for i in range(len(text) - 2):
                grams.setdefault(text[i : i + 3], None)
    return list(grams)[:size], "trigrams of the demo set"
