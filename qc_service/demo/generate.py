"""Write the synthetic demo set ``qc_service/demo/data/demo.jsonl`` (fixed seed, stdlib only).

Run ``python -m qc_service.demo.generate`` to (re)write it, ``--check`` to verify that the file
on disk is exactly what the generator produces and print its distribution.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from qc_service.demo import phrases_service as ps
from qc_service.demo import redlines as rl
from qc_service.demo.check import check
from qc_service.demo.scenarios import Dialogue, build_dialogue, make_slots

SEED = 20261116
OUT = Path(__file__).parent / "data" / "demo.jsonl"
TZ = timezone(timedelta(hours=8))
WEEK_START = datetime(2026, 11, 16, tzinfo=TZ)
N_CUSTOMERS, N_TWICE, N_THRICE = 250, 75, 18

# (id, name, team, supervisor id or None, pinyin for invented contact details)
EMPLOYEES: list[tuple[str, str, str, str | None, str]] = [
    ("e01", "张伟", "销售一组", "e90", "zhangwei"),
    ("e02", "王芳", "销售一组", "e90", "wangfang"),
    ("e03", "刘洋", "销售一组", "e90", "liuyang"),
    ("e04", "赵磊", "销售二组", "e91", "zhaolei"),
    ("e05", "孙丽", "销售二组", "e91", "sunli"),
    ("e06", "周杰", "销售二组", "e91", "zhoujie"),
    ("e07", "郑凯", "理财顾问组", "e92", "zhengkai"),
    ("e08", "冯雪", "理财顾问组", "e92", "fengxue"),
    ("e09", "何平", "理财顾问组", "e92", "heping"),
    ("e10", "林晓", "售后服务组", "e93", "linxiao"),
    ("e11", "马超", "售后服务组", "e93", "machao"),
    ("e12", "朱婷", "售后服务组", "e93", "zhuting"),
    ("e90", "李静", "销售一组", None, "lijing"),
    ("e91", "陈刚", "销售二组", None, "chengang"),
    ("e92", "吴敏", "理财顾问组", None, "wumin"),
    ("e93", "黄蕾", "售后服务组", None, "huanglei"),
]
TEAM_LINE = {
    "销售一组": "k12",
    "销售二组": "broadband",
    "理财顾问组": "wealth",
    "售后服务组": "ecom",
}
LINE_WEIGHTS = {"k12": 28, "ecom": 26, "broadband": 22, "wealth": 24}
CHANNEL_WEIGHTS = {
    "k12": {"wecom": 60, "wechat": 32, "sms": 8},
    "wealth": {"wecom": 60, "wechat": 32, "sms": 8},
    "ecom": {"im": 42, "wecom": 22, "wechat": 24, "sms": 12},
    "broadband": {"im": 25, "wecom": 33, "wechat": 30, "sms": 12},
}
# Red-line category weights per business line; SMS carries only contact and red packet.
REDLINE_WEIGHTS = {
    "k12": {rl.CONTACT: 4, rl.RED_PACKET: 4, rl.ABUSE: 1},
    "wealth": {rl.GUARANTEE: 8, rl.CONTACT: 2, rl.RED_PACKET: 1},
    "ecom": {rl.RED_PACKET: 3, rl.ABUSE: 5, rl.CONTACT: 2},
    "broadband": {rl.CONTACT: 3, rl.ABUSE: 4, rl.RED_PACKET: 2},
}
# Repeat offenders and their habits (a repeated entry is a likelier habit).
OFFENDERS = {"e03": (rl.CONTACT, rl.RED_PACKET), "e08": (rl.GUARANTEE, rl.GUARANTEE, rl.CONTACT)}
HOUR_WEIGHTS = {
    8: 2,
    9: 8,
    10: 10,
    11: 9,
    12: 4,
    13: 5,
    14: 9,
    15: 10,
    16: 9,
    17: 7,
    18: 4,
    19: 6,
    20: 6,
    21: 3,
}
SURNAMES = "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
KIDS = [
    "豆豆",
    "乐乐",
    "果果",
    "朵朵",
    "子涵",
    "一诺",
    "浩浩",
    "小宝",
    "糖糖",
    "轩轩",
    "多多",
    "安安",
]
NICKS = [
    "Lily",
    "小鱼儿",
    "天天向上",
    "A阳光",
    "Grace",
    "晴天",
    "老王",
    "Kevin",
    "木子",
    "随风",
    "Amy",
]
UNIONID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _employee(emp_id: str) -> dict[str, Any]:
    emp_id, name, team, sup, _ = next(e for e in EMPLOYEES if e[0] == emp_id)
    return {"id": emp_id, "name": name, "team": team} | ({"supervisor_id": sup} if sup else {})


def _customer_name(rng: random.Random, line: str) -> str:
    surname = rng.choice(SURNAMES)
    if line == "k12" and rng.random() < 0.7:
        return f"{rng.choice(KIDS)}{rng.choice(['妈妈', '妈妈', '爸爸'])}"
    if rng.random() < 0.25:
        return rng.choice(NICKS)
    return f"{surname}{rng.choice(['女士', '先生'])}"


def make_customers(rng: random.Random) -> list[dict[str, Any]]:
    """Customers with a business line, an owning agent and how many conversations they have."""
    visits = [3] * N_THRICE + [2] * N_TWICE + [1] * (N_CUSTOMERS - N_THRICE - N_TWICE)
    rng.shuffle(visits)
    customers = []
    for i, n in enumerate(visits, start=1):
        line = _weighted(rng, LINE_WEIGHTS)
        team = next(t for t, ln in TEAM_LINE.items() if ln == line)
        members = [e[0] for e in EMPLOYEES if e[2] == team and e[3]]
        supervisor = next(e[0] for e in EMPLOYEES if e[2] == team and not e[3])
        owner = supervisor if rng.random() < 0.03 else rng.choice(members)
        record = {
            "id": f"c{i:04d}",
            "name": _customer_name(rng, line),
            "phone": f"1{rng.choice(['38', '39', '58', '86', '77'])}0000{rng.randint(0, 9999):04d}",
            "unionid": "o" + "".join(rng.choice(UNIONID_CHARS) for _ in range(27)),
        }
        customers.append({"record": record, "line": line, "owner": owner, "visits": n})
    return customers


def plan_labels(rng: random.Random, emp_id: str, line: str, channel: str) -> list[str]:
    """Ground truth of one conversation: agent red lines (~20 %) and rare customer abuse."""
    if emp_id.startswith("e9"):
        return []
    weights = dict(REDLINE_WEIGHTS[line])
    if channel == "sms":
        weights = {k: v for k, v in weights.items() if k in (rl.CONTACT, rl.RED_PACKET)}
    labels: list[str] = []
    offender = OFFENDERS.get(emp_id)
    if rng.random() < (0.55 if offender else 0.15):
        labels.append(
            rng.choice(offender) if offender and rng.random() < 0.7 else _weighted(rng, weights)
        )
        if rng.random() < 0.15:
            second = _weighted(rng, weights)
            labels += [second] if second not in labels else []
    if line in ("ecom", "broadband") and channel != "sms" and rng.random() < 0.05:
        labels.insert(0, rl.CUSTOMER_ABUSE)
        if rl.ABUSE not in labels and rng.random() < 0.3:
            labels.append(rl.ABUSE)
    return labels


def _gap(rng: random.Random, prev_role: str, role: str, channel: str) -> int:
    """Seconds between two messages: quick within a turn, longer across, SMS slower."""
    if prev_role == role or role == "system" or prev_role == "system":
        return rng.randint(2, 40)
    roll = rng.random()
    if channel == "sms":
        return rng.randint(60, 1800)
    if roll < 0.03 and role == "agent":
        return rng.randint(900, 2400)  # a slow answer now and then (response-time rules)
    if roll < 0.15:
        return rng.randint(180, 600)
    return rng.randint(5, 150)


def _ts(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def chat_record(
    rng: random.Random, dialogue: Dialogue, start: datetime, channel: str
) -> dict[str, Any]:
    t = start + timedelta(seconds=rng.randint(0, 20))
    messages, prev = [], ""
    for i, (role, msg_type, text) in enumerate(dialogue.turns, start=1):
        if i > 1:
            t += timedelta(seconds=_gap(rng, prev, role, channel))
        messages.append({"id": f"m{i}", "role": role, "type": msg_type, "text": text, "ts": _ts(t)})
        prev = role
    return {"channel": channel, "started_at": _ts(start), "messages": messages}


def call_record(
    rng: random.Random, lines: list[tuple[str, str]], slots: dict[str, str], start: datetime
) -> dict[str, Any]:
    t, segments = 0.4, []
    for i, (role, text) in enumerate(lines):
        text = text.format_map(slots)
        end = t + max(0.8, len(text) * 0.23)
        segments.append({"role": role, "start": round(t, 2), "end": round(end, 2), "text": text})
        t = end + (-0.4 if i == 4 else rng.uniform(0.2, 1.2))  # one short overlap per call
    return {"channel": "call", "started_at": _ts(start), "call": {"segments": segments}}


def _start(rng: random.Random, day: int) -> datetime:
    hour = int(_weighted(rng, {str(h): w for h, w in HOUR_WEIGHTS.items()}))
    return WEEK_START + timedelta(
        days=day, hours=hour, minutes=rng.randint(0, 59), seconds=rng.randint(0, 59)
    )


def generate(seed: int = SEED) -> tuple[list[dict[str, Any]], list[Dialogue | None]]:
    """All records in chronological order, with the dialogue (ground truth) behind each chat."""
    rng = random.Random(seed)
    contacts = {e[0]: rl.make_contacts(rng, e[4]) for e in EMPLOYEES}
    deck = rl.Deck(rng)
    rows: list[tuple[dict[str, Any], Dialogue | None]] = []
    for cust in make_customers(rng):
        for day in sorted(rng.sample(range(7), cust["visits"])):
            line = cust["line"]
            emp_id = cust["owner"] if rng.random() < 0.9 else _team_mate(rng, cust["owner"])
            channel = _weighted(rng, CHANNEL_WEIGHTS[line])
            labels = plan_labels(rng, emp_id, line, channel)
            emp = _employee(emp_id)
            start = _start(rng, day)
            slots = make_slots(rng, emp["name"], cust["record"]["name"], start.hour)
            dialogue = build_dialogue(rng, line, channel, slots, labels, deck, contacts[emp_id])
            record = chat_record(rng, dialogue, start, channel)
            rows.append(
                (record | {"employee": emp, "customer": cust["record"], "labels": labels}, dialogue)
            )
    for _line, emp_id, labels, lines in ps.CALLS:
        # a call to a customer this agent already chats with (a repeat contact)
        chats = (r for r, _ in rows if r["employee"]["id"] == emp_id and r["channel"] != "sms")
        cust = next(chats)["customer"]
        emp = _employee(emp_id)
        start = _start(rng, rng.randint(0, 6))
        slots = make_slots(rng, emp["name"], cust["name"], start.hour)
        record = call_record(rng, lines, slots, start)
        rows.append((record | {"employee": emp, "customer": cust, "labels": labels}, None))
    rows.sort(key=lambda row: row[0]["started_at"])
    records = [_finish(i, r) for i, (r, _) in enumerate(rows, start=1)]
    return records, [d for _, d in rows]


def _team_mate(rng: random.Random, emp_id: str) -> str:
    team = _employee(emp_id)["team"]
    return rng.choice([e[0] for e in EMPLOYEES if e[2] == team and e[3]])


def _finish(i: int, r: dict[str, Any]) -> dict[str, Any]:
    """Put the fields in the documented order."""
    body = {k: r[k] for k in ("messages", "call") if k in r}
    head = {"id": f"demo-{i:04d}", "channel": r["channel"], "tenant": "default"}
    people = {"employee": r["employee"], "customer": r["customer"], "started_at": r["started_at"]}
    return head | people | body | {"demo_labels": sorted(set(r["labels"]))}


def dumps(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify the file and print its counts")
    args = parser.parse_args(argv)
    records, dialogues = generate()
    if args.check:
        return check(OUT, dumps(records), dialogues)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(dumps(records), encoding="utf-8")
    clean = sum(1 for r in records if not set(r["demo_labels"]) & set(rl.AGENT_LABELS))
    sys.stdout.write(f"wrote {len(records)} records ({clean} without agent red lines) to {OUT}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
