"""The semantic paraphrase set (models/semantic/paraphrases.yaml) and its real-dialogue parts.

Why real data is read at run time and not copied: the set's own sentences are the project's
text, but the real positives (agents asking for a good rating), the real disclaimers and the
ordinary service sentences come from JDDC (no redistribution) and STC-3 (dialogue text without a
licence), so the YAML names them by session and turn and this module resolves them from
``../shared/data``. Where that folder is absent the real parts are empty and callers say so.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qc_service.nlp.corpora import data_root

SET_FILE = Path(__file__).resolve().parents[2] / "models" / "semantic" / "paraphrases.yaml"
REVIEW_TALK = re.compile(r"好评|评价|五星|满意|打分|小红心|红心")
"""Real agent messages asking for a rating are positives of ``solicit_review``, never negatives."""


@dataclass
class RuleSet:
    """One rule of the set: its examples and the sentences that must / must not match it."""

    rule_id: str
    name: str
    examples: list[str]
    paraphrases: list[str]
    negated: list[str] = field(default_factory=list)
    disclaimers: list[str] = field(default_factory=list)
    real_positives: list[str] = field(default_factory=list)
    real_disclaimers: list[str] = field(default_factory=list)


@dataclass
class Ordinary:
    """A real agent message of an ordinary service conversation (a negative for every rule)."""

    text: str
    source: str
    session: str

    @property
    def split(self) -> str:
        """``calibration`` or ``test``, by a hash of the session (stable across runs)."""
        digest = hashlib.sha1(self.session.encode()).digest()[0]
        return "calibration" if digest % 2 == 0 else "test"


def _jddc_sessions(data_dir: Path) -> Iterator[dict[str, Any]]:
    path = data_dir / "jddc2019_cs_chat_sample" / "chat_sessions.jsonl"
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)


def _resolve(refs: list[dict[str, Any]], data_dir: Path) -> list[str]:
    if not refs:
        return []
    wanted = {(r["session"], int(r["turn"])) for r in refs if r.get("source") == "jddc"}
    found: dict[tuple[str, int], str] = {}
    for session in _jddc_sessions(data_dir):
        for prefix, turn in wanted:
            if session["session_id"].startswith(prefix) and turn < len(session["turns"]):
                found[(prefix, turn)] = session["turns"][turn]["text"]
    return [
        found[(r["session"], int(r["turn"]))]
        for r in refs
        if (r["session"], int(r["turn"])) in found
    ]


def load_set(path: Path = SET_FILE, *, data_dir: Path | None = None) -> list[RuleSet]:
    """The rules of the paraphrase set, with their real sentences resolved where data exists."""
    data_dir = data_dir or data_root(None)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for rule_id, spec in raw["rules"].items():
        out.append(
            RuleSet(
                rule_id,
                spec["name"],
                list(spec["examples"]),
                list(spec["paraphrases"]),
                list(spec.get("negated_paraphrases", [])),
                list(spec.get("disclaimers", [])),
                _resolve(spec.get("real_positives", []), data_dir),
                _resolve(spec.get("real_disclaimers", []), data_dir),
            )
        )
    return out


def ordinary_sentences(
    *, data_dir: Path | None = None, per_source: int = 300, seed: int = 7
) -> list[Ordinary]:
    """Real agent messages from JDDC and STC-3 helpdesk replies, sampled deterministically."""
    data_dir = data_dir or data_root(None)
    jddc = [
        Ordinary(t["text"], "jddc", s["session_id"])
        for s in _jddc_sessions(data_dir)
        for t in s["turns"]
        if t["role"] == "agent"
    ]
    stc3: list[Ordinary] = []
    path = data_dir / "stc3_weibo_helpdesk_dialogues" / "train_data_cn_compact.jsonl"
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                d = json.loads(line)
                for turn in d["turns"]:
                    if turn["role"] == "helpdesk":
                        stc3.extend(Ordinary(u, "stc3", d["id"]) for u in turn["utterances"])
    rng = random.Random(seed)
    out = []
    for pool in (jddc, stc3):
        usable = [o for o in pool if len(o.text.strip()) >= 4 and not REVIEW_TALK.search(o.text)]
        out.extend(rng.sample(usable, min(per_source, len(usable))))
    return out
