"""Dialogue builders: one per business line and one for SMS, plus near-miss and red-line blocks.

A builder returns blocks (lists of turns); ``build_dialogue`` inserts the extra blocks (near
misses, red lines, customer abuse) between the opening and the closing block and keeps every
dialogue within 4-20 messages.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from qc_service.demo import phrases as p
from qc_service.demo import phrases_service as ps
from qc_service.demo import redlines as rl

Turn = tuple[str, str, str]  # (role, message type, text)
Block = list[Turn]
Script = tuple[list[Block], int]  # blocks, and the first index where extra blocks may go

MIN_MESSAGES, MAX_MESSAGES = 4, 20


@dataclass
class Dialogue:
    """Turns of one conversation and its ground truth."""

    turns: list[Turn]
    labels: list[str]
    forms: list[tuple[str, str, str]] = field(default_factory=list)  # (label, form, text)
    near_misses: list[str] = field(default_factory=list)  # clean agent lines a naive filter flags


class Talk:
    """Picks phrases with one seeded RNG and fills their placeholders from the slots."""

    def __init__(self, rng: random.Random, slots: dict[str, str]) -> None:
        self.rng = rng
        self.slots = slots

    def say(self, table: Sequence[str]) -> str:
        return self.rng.choice(table).format_map(self.slots)

    def agent(self, table: Sequence[str]) -> Turn:
        return ("agent", "text", self.say(table))

    def cust(self, table: Sequence[str]) -> Turn:
        return ("customer", "text", self.say(table))

    def maybe(self, prob: float) -> bool:
        return self.rng.random() < prob


def make_slots(rng: random.Random, agent_name: str, cust_name: str, hour: int) -> dict[str, str]:
    """Everything a phrase may mention, drawn once per conversation so it stays consistent."""
    age = rng.choice([5, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 12, 13, 14, 15])
    stage = "preschool" if age < 7 else ("primary" if age < 13 else "junior")
    subject, course = rng.choice(p.COURSES[stage])
    grade_i = max(age - 7, 0)
    lessons = rng.choice([12, 16, 24, 32, 48])
    per = rng.choice([80, 99, 120, 150, 180, 200])
    disc = rng.choice([100, 200, 300, 500])
    product = rng.choice(p.WEALTH_PRODUCTS)
    courier, prefix = rng.choice(ps.COURIERS)
    bb_price = rng.choice([499, 599, 699])
    return {
        "cust": cust_name,
        "daypart": "上午好" if hour < 12 else ("下午好" if hour < 18 else "晚上好"),
        "agent": agent_name,
        "teacher": f"{agent_name[0]}老师",
        "adviser": f"小{agent_name[0]}",
        "kf": f"小{agent_name[-1]}",
        "age": str(age),
        "age_cn": p.CN_NUM[age],
        "grade": p.GRADES[grade_i],
        "next_grade": p.GRADES[grade_i + 1],
        "subject": subject,
        "course": course,
        "class_day": "周" + rng.choice(p.CLASS_DAYS),
        "lessons": str(lessons),
        "size": str(rng.choice([4, 6, 8])),
        "years": str(rng.choice([3, 5, 8])),
        "per": str(per),
        "price": str(lessons * per),
        "price0": str(lessons * per + disc),
        "disc": str(disc),
        "gift": rng.choice(p.GIFTS),
        "deadline": rng.choice(["周日", "月底", "本周五"]),
        "n": str(rng.choice([3, 6, 12])),
        "weekday": rng.choice(p.WEEKDAYS),
        "time": rng.choice(p.TIMES),
        "product": product[0],
        "risk": product[1],
        "rate": product[2],
        "term": product[3],
        "amount": str(rng.choice([5, 10, 20, 30, 50])),
        "order": f"2026111{rng.randint(0, 999_999_999):09d}",
        "courier": courier,
        "tracking": f"{prefix}{rng.randint(10**11, 10**12 - 1)}",
        "days": str(rng.choice([1, 2, 3])),
        "city": rng.choice(ps.CITIES),
        "address": rng.choice(ps.BB_ADDRESSES),
        "account": f"0571{rng.randint(10**7, 10**8 - 1)}",
        "bb_price": str(bb_price),
        "bb_month": str(bb_price // 12 + 1),
        "price2": str(rng.choice([999, 1199, 1288])),
    }


def _close(t: Talk, agent_table: Sequence[str]) -> Block:
    block = [t.agent(agent_table)]
    if t.maybe(0.7):
        block.append(t.cust(p.CUST_CLOSE))
    return block


def k12(t: Talk) -> Script:
    if t.maybe(0.6):
        opener = [t.agent(p.K12_GREET)] + ([t.cust(p.CUST_HELLO)] if t.maybe(0.8) else [])
    else:
        opener = [t.cust(p.K12_CUST_OPEN), t.agent(p.K12_AGENT_REPLY_OPEN)]
    blocks = [opener]
    if t.maybe(0.85):
        if int(t.slots["age"]) < 7:
            blocks.append([t.agent(p.ASK_AGE), t.cust(p.PRESCHOOL_ANSWER + p.AGE_ANSWER)])
        elif t.maybe(0.5):
            blocks.append([t.agent(p.ASK_AGE), t.cust(p.AGE_ANSWER)])
        else:
            blocks.append([t.agent(p.ASK_GRADE), t.cust(p.GRADE_ANSWER)])
    if t.maybe(0.5):
        blocks.append([t.agent(p.NEED_ASK), t.cust(p.NEED_ANSWER)])
    if t.maybe(0.75):
        blocks.append([t.agent(p.RECOMMEND)])
    if t.maybe(0.6):
        price = [t.cust(p.K12_PRICE_Q), t.agent(p.K12_PRICE_A)]
        if t.maybe(0.5):
            price += [t.cust(p.K12_PRICE_REACT), t.agent(p.K12_PRICE_FOLLOW)]
        blocks.append(price)
    if t.maybe(0.55):
        blocks.append([t.agent(p.TRIAL_INVITE), t.cust(p.TRIAL_REPLY), t.agent(p.TRIAL_CONFIRM)])
    return [*blocks, _close(t, p.K12_CLOSE)], 1


def wealth(t: Talk) -> Script:
    if t.maybe(0.55):
        opener = [t.agent(p.WEALTH_GREET)] + ([t.cust(p.CUST_HELLO)] if t.maybe(0.8) else [])
    else:
        opener = [t.cust(p.WEALTH_CUST_OPEN), t.agent(p.WEALTH_AGENT_REPLY_OPEN)]
    blocks = [opener]
    if t.maybe(0.6):
        blocks.append([t.agent(p.WEALTH_NEED_ASK), t.cust(p.WEALTH_NEED_ANSWER)])
    blocks.append(
        [t.agent(p.WEALTH_PRODUCT)]
        + ([t.cust(["嗯", "哦", "收益多少来着"])] if t.maybe(0.3) else [])
    )
    pitched = len(blocks)  # red lines come after the product is introduced
    if t.maybe(0.5):
        blocks.append([t.cust(p.WEALTH_RISK_Q), t.agent(p.WEALTH_RISK_A)])
    for question, answer in t.rng.sample(p.WEALTH_DETAILS, t.rng.choice([0, 1, 1, 2])):
        blocks.append([t.cust([question]), t.agent([answer])])
    if t.maybe(0.5):
        blocks.append([t.agent(p.WEALTH_ASSESS), t.cust(p.WEALTH_ASSESS_REPLY)])
    return [*blocks, _close(t, p.WEALTH_CLOSE)], pitched


def ecom(t: Talk) -> Script:
    issue = ps.ECOM_ISSUES[t.rng.choice(sorted(ps.ECOM_ISSUES))]
    t.slots["item"] = t.rng.choice(issue["items"])
    opener = [t.cust(issue["open"])]
    if t.maybe(0.25):
        opener.append(("customer", "image", "[图片]"))
    blocks = [opener, [t.agent(ps.ECOM_APOLOGY), t.cust(ps.ECOM_ORDER)]]
    fix = [t.agent(ps.ECOM_CHECK)] if t.maybe(0.5) else []
    blocks.append([*fix, t.agent(issue["fix"])])
    if t.maybe(0.3):
        blocks.append([t.cust(ps.ECOM_REACT_ANGRY), t.agent(ps.ECOM_SOOTHE)])
    elif t.maybe(0.6):
        blocks.append([t.cust(ps.ECOM_REACT_OK)])
    if t.maybe(0.5):
        close = [t.agent(ps.ECOM_CLOSE_Q), t.cust(ps.ECOM_CLOSE_A), t.agent(ps.ECOM_CLOSE)]
        return [*blocks, close], 2
    return [*blocks, _close(t, ps.ECOM_CLOSE)], 2


def broadband(t: Talk) -> Script:
    if t.maybe(0.6):
        blocks = [[t.cust(ps.BB_FAULT_OPEN)], [t.agent(ps.BB_ASK_ACCOUNT), t.cust(ps.BB_ACCOUNT)]]
        react = t.cust(ps.BB_FAULT_REACT)
        blocks.append([t.agent(ps.BB_CHECK), react])
        if "好了" not in react[2]:
            blocks.append([t.agent(ps.BB_DISPATCH)])
    else:
        hello = "您好，这里是星辰宽带{agent}，很高兴为您服务".format_map(t.slots)
        blocks = [[t.cust(ps.BB_SALE_OPEN), ("agent", "text", hello)], [t.agent(ps.BB_PLANS)]]
        for question, answer in t.rng.sample(ps.BB_SALE_DETAILS, t.rng.choice([1, 1, 2])):
            blocks.append([t.cust([question]), t.agent([answer])])
    return [*blocks, _close(t, ps.BB_CLOSE)], 2


def sms(t: Talk, line: str) -> Script:
    first, replies, follow = t.rng.choice(ps.SMS[line])
    return [[t.agent([first]), t.cust(replies)], [t.agent([follow]), t.cust(ps.SMS_CLOSE_CUST)]], 1


BUILDERS: dict[str, Callable[[Talk], Script]] = {
    "k12": k12,
    "wealth": wealth,
    "ecom": ecom,
    "broadband": broadband,
}


def red_line_block(
    t: Talk,
    label: str,
    deck: rl.Deck,
    contacts: rl.Contacts,
    channel: str,
    line: str,
    forms: list[tuple[str, str, str]],
    lead: bool = True,
) -> Block:
    """Customer lead-in (often), the agent's red-line message(s), customer reaction (often)."""
    lead_prob = {rl.GUARANTEE: 0.9, rl.ABUSE: 0.85}.get(label, 0.5) if lead else 0.0
    block: Block = [t.cust(rl.SETUPS[label])] if t.maybe(lead_prob) else []
    for msg in deck.red_line(label, contacts, channel, line):
        block.append(("agent", msg.type, msg.text))
        forms.append((label, msg.form, msg.text))
    if label == rl.CONTACT and channel == "wecom" and t.maybe(0.15):
        block.append(("agent", "recall", "[撤回了一条消息]"))
    if t.maybe(0.6):
        block.append(t.cust(rl.REACTIONS[label]))
    return block


def _size(blocks: list[tuple[Block, bool]]) -> int:
    return sum(len(b) for b, _ in blocks)


def build_dialogue(
    rng: random.Random,
    line: str,
    channel: str,
    slots: dict[str, str],
    labels: list[str],
    deck: rl.Deck,
    contacts: rl.Contacts,
) -> Dialogue:
    """One dialogue of a business line with the given ground-truth labels."""
    t = Talk(rng, slots)
    while True:
        base, anchor = sms(t, line) if channel == "sms" else BUILDERS[line](t)
        if len(base) >= 2 and sum(len(b) for b in base) >= MIN_MESSAGES:
            break
    forms: list[tuple[str, str, str]] = []
    extras: list[Block] = []
    if rl.CUSTOMER_ABUSE in labels:
        insult = t.cust(rl.CUSTOMER_ABUSE_LINES)
        if rl.ABUSE in labels:  # the agent answers in kind
            extras.append(
                [
                    insult,
                    *red_line_block(t, rl.ABUSE, deck, contacts, channel, line, forms, lead=False),
                ]
            )
        else:
            extras.append([insult, t.agent(rl.CUSTOMER_ABUSE_REPLIES)])
    for label in labels:
        if label in rl.AGENT_LABELS and not (label == rl.ABUSE and rl.CUSTOMER_ABUSE in labels):
            extras.append(red_line_block(t, label, deck, contacts, channel, line, forms))
    near_misses: list[str] = []
    if channel != "sms" and t.maybe(0.3 if not labels else 0.1):
        prompt, reply = t.rng.choice(ps.NEAR_MISSES[line])
        extras.append([("customer", "text", prompt), ("agent", "text", reply)])
        near_misses.append(reply)
    blocks: list[tuple[Block, bool]] = [(b, False) for b in base]
    for extra in extras:
        blocks.insert(t.rng.randint(anchor, len(blocks) - 1), (extra, True))
    while _size(blocks) > MAX_MESSAGES:
        droppable = [i for i, (_, kept) in enumerate(blocks[1:-1], start=1) if not kept]
        blocks.pop(t.rng.choice(droppable))
    turns = [turn for block, _ in blocks for turn in block]
    if channel == "wecom" and len(turns) < MAX_MESSAGES and t.maybe(0.25):
        turns.insert(0, ("system", "text", t.say(p.WECOM_SYSTEM)))
    return Dialogue(turns=turns, labels=labels, forms=forms, near_misses=near_misses)
