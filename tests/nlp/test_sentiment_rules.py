"""A sentiment rule end to end: the deep lane scores messages with the shipped model and the
operator decides on them (``qc analyze``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RULES = """
rules:
  - {id: mood.angry-customer, name: 客户情绪差, when: {sentiment: {below: -0.3, level: conversation, role: customer}}}
  - {id: mood.angry-message, name: 差评消息, when: {sentiment: {below: -0.5, role: customer}}}
"""


def _record(rid: str, *texts: str) -> dict[str, object]:
    return {"id": rid, "channel": "im", "employee": {"id": "e1"}, "customer": {"id": "u1"},
            "messages": [{"id": f"m{i}", "role": "customer" if i % 2 == 0 else "agent", "text": t} for i, t in enumerate(texts)]}  # fmt: skip


def test_angry_customer_flagged_happy_one_not(tmp_path: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES, encoding="utf-8")
    f = tmp_path / "r.jsonl"
    records = [
        _record(
            "angry",
            "等了一个星期还没发货，太差了",
            "非常抱歉，我马上帮您催",
            "什么破服务，再也不买了，我要投诉",
        ),
        _record("happy", "东西收到了，质量很好", "感谢您的支持", "客服态度也很好，下次还来"),
    ]
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "qc_service.cli.main", "analyze", str(f), "--rules", str(rules),
                          "--format", "jsonl"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    fired = {
        (x["conversation_id"], x["rule_id"])
        for x in map(json.loads, out.stdout.splitlines())
        if x["type"] == "violation"
    }
    assert ("angry", "mood.angry-customer") in fired and ("angry", "mood.angry-message") in fired
    assert not any(cid == "happy" for cid, _ in fired)
    line = next(
        x
        for x in map(json.loads, out.stdout.splitlines())
        if x.get("rule_id") == "mood.angry-customer"
    )
    assert line["evidence"][0]["unit"] == "sentiment" and line["evidence"][0]["value"] < -0.3
