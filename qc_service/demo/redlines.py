"""Red-line lines for the demo set: plain and evaded forms of the four built-in red lines.

Each template carries its form: ``plain`` or the name of the evasion it uses, so the generator
can report (and ``--check`` verify) how many evaded lines of each category the set holds.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

# Ground-truth labels (``demo_labels``); the first four are agent red lines.
CONTACT = "contact"
RED_PACKET = "red_packet"
GUARANTEE = "guaranteed_return"
ABUSE = "abuse"
CUSTOMER_ABUSE = "customer_abuse"  # the customer insults the agent; not an agent red line
AGENT_LABELS = (CONTACT, RED_PACKET, GUARANTEE, ABUSE)

PLAIN = "plain"
MESSAGE_FORMS = ("red_packet", "transfer")  # a red line by message type, not by words


@dataclass(frozen=True)
class Line:
    """One red-line message: its text, message type and the form it takes."""

    text: str
    type: str = "text"
    form: str = PLAIN

    @property
    def evaded(self) -> bool:
        return self.form != PLAIN and self.form not in MESSAGE_FORMS


@dataclass(frozen=True)
class Contacts:
    """An agent's private contact details (stable per agent, so repeat offenders reuse them)."""

    wx: str
    phone: str
    qq: str
    email: str


CONTACT_TEMPLATES: list[tuple[str, str, str]] = [
    (PLAIN, "加我私人微信吧，{wx}，有事直接找我", "*"),
    (PLAIN, "加我微信 wxid_{wx_suffix}", "*"),
    (PLAIN, "你加下我V信 {wx}，以后直接找我", "*"),
    (PLAIN, "+v：{wx}", "*"),
    (PLAIN, "我手机号 {phone}，直接打给我就行", "*"),
    (PLAIN, "QQ {qq}，资料我发你", "*"),
    (PLAIN, "资料比较大，我发您邮箱吧，或者您发到我邮箱 {email}", "*"),
    ("homophone", "加我薇信 {wx}，这里回复不及时", "*"),
    ("spaced-cue", "加我 v 信：{wx}", "*"),
    ("pinyin-cue", "wei信 {wx}，私聊", "*"),
    ("fullwidth-digits", "我电话{phone_fw}，有事打我", "*"),
    ("split-digits", "打我手机 {phone_space}", "*"),
    ("split-digits", "{phone_dash} 这是我私人号，方便联系", "*"),
    ("chinese-numerals", "我号码{phone_cn}，记一下", "*"),
    ("split-digits", "Q Q：{qq_space}", "*"),
]
RED_PACKET_TEMPLATES: list[tuple[str, str, str]] = [
    (PLAIN, "给您发个红包，别嫌弃哈", "*"),
    (PLAIN, "下单返现50，我私下转给您", "ecom broadband"),
    (PLAIN, "确认收货给个五星好评，返现10元，截图发我就行", "ecom"),
    (PLAIN, "给您发个红包补偿一下，实在不好意思", "ecom broadband"),
    (PLAIN, "今天报名的话我私人再返您200现金", "k12"),
    (PLAIN, "今天办理的话我私下返您100现金", "broadband"),
    (PLAIN, "今天买满5万我私下给您返现500", "wealth"),
    ("inserted-symbol", "给您发个红*包😁 别跟别人说哈", "*"),
    ("traditional", "紅包已經準備好了，今天定下來就發", "*"),
    ("spaced", "确认收货后返 现20，找我领", "ecom"),
    ("inserted-symbol", "五星好评返-现15元哦", "ecom"),
    ("spaced", "报名就返 现300，私下转您", "k12"),
    ("inserted-emoji", "报名成功给您发个红🧧包", "k12"),
    ("inserted-emoji", "装好了给您发个红🧧包", "broadband"),
    ("inserted-symbol", "买满3万返.现300，私下转您", "wealth"),
]
RED_PACKET_MESSAGES: list[tuple[str, str]] = [
    ("red_packet", "[红包]恭喜发财，大吉大利"),
    ("red_packet", "[红包]一点心意"),
    ("transfer", "[转账]¥50.00"),
    ("transfer", "[转账]¥200.00 补贴"),
]
GUARANTEE_TEMPLATES: list[tuple[str, str, str]] = [
    (PLAIN, "放心，这个稳赚不赔的", "*"),
    (PLAIN, "这款保本保息，到期本金利息一分不少", "*"),
    (PLAIN, "我保证收益，年化至少{rate}%", "*"),
    (PLAIN, "这个产品保本保息，比存银行强多了", "*"),
    ("inserted-symbol", "稳.赚.不.赔，放心买", "*"),
    ("spaced", "保 本 保 息的，您放一百个心", "*"),
    ("traditional", "這款穩賺不賠，我自己都買了", "*"),
    ("traditional", "保證收益{rate}%，白紙黑字", "*"),
    ("inserted-emoji", "稳赚😊不赔的，错过就没了", "*"),
    ("paraphrase", "绝对不会亏本的，放心买", "*"),
]
ABUSE_TEMPLATES: list[tuple[str, str, str]] = [
    (PLAIN, "你是不是傻，页面上写得清清楚楚", "*"),
    (PLAIN, "不会用就别用，滚", "ecom broadband"),
    (PLAIN, "神经病吧，都说了多少遍了", "*"),
    (PLAIN, "傻逼吧你", "*"),
    (PLAIN, "你脑子有病吧，重启都不会", "broadband"),
    (PLAIN, "不报拉倒，滚", "k12"),
    ("inserted-symbol", "傻@逼，自己不会看吗", "*"),
    ("latin-abbrev", "你是不是sb啊", "*"),
    ("latin-abbrev", "SB一个，爱退不退", "ecom"),
    ("inserted-symbol", "神-经-病，别烦我了", "*"),
    ("spaced", "脑 子 有 病吧你", "*"),
]
CUSTOMER_ABUSE_LINES = [
    "你们客服是不是都是傻逼？一个退款拖一个礼拜",
    "垃圾公司，一群骗子",
    "你脑子有病吧，听不懂人话？",
    "滚吧，什么破服务",
    "神经病啊，问三遍了还没弄好",
]
CUSTOMER_ABUSE_REPLIES = [
    "非常理解您的心情，给您带来困扰真的很抱歉🙏 我马上帮您加急",
    "抱歉让您生气了，这个问题我一定跟进到底",
    "您先消消气，我这边已经在处理了，今天一定给您答复",
]
# (optional customer lead-in, optional customer reaction) per agent red line.
SETUPS: dict[str, list[str]] = {
    CONTACT: [
        "这边回消息有点慢啊",
        "有啥资料能发我看看吗",
        "我考虑一下再说",
        "那有消息了怎么通知我",
    ],
    RED_PACKET: ["能再便宜点吗", "我再考虑考虑", "好吧", "东西收到了"],
    GUARANTEE: ["会亏吗", "能保本吗", "这个收益稳吗", "万一亏了怎么办", "靠谱吗"],
    ABUSE: [
        "我都问了三遍了，到底怎么弄？？",
        "你们这什么破服务",
        "听不懂，你再说一遍",
        "到底什么时候能好？！",
        "能不能快点",
    ],
}
REACTIONS: dict[str, list[str]] = {
    CONTACT: ["好的 我加一下", "为啥要加微信？", "行", "加了", "这边不能说吗"],
    RED_PACKET: ["这是干嘛", "谢谢啦", "真的假的", "不用了不用了", "😂"],
    GUARANTEE: ["那行", "真的假的", "好，那我买点", "你确定？"],
    ABUSE: ["你怎么说话呢？我要投诉你", "你什么态度！", "……", "我要投诉", "行，我记住你了"],
}

_FULLWIDTH = {ord(ch): ord(ch) + 0xFEE0 for ch in "0123456789"}
_CN_DIGITS = {str(i): ch for i, ch in enumerate("零一二三四五六七八九")}
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def make_contacts(rng: random.Random, pinyin: str) -> Contacts:
    """Invent an agent's private wx id, mobile, QQ and mailbox (synthetic, 1xx00xxxxxx numbers)."""
    wx = f"{pinyin}_{rng.choice(['edu', 'kf', 'vip', 'lc'])}{rng.randint(10, 9999)}"
    phone = f"1{rng.choice(['38', '39', '58', '86', '77'])}00{rng.randint(10, 99)}{rng.randint(0, 9999):04d}"
    qq = str(rng.randint(10_000_000, 999_999_999))
    email = f"{pinyin}{rng.randint(10, 99)}@{rng.choice(['qq.com', '163.com', 'foxmail.com'])}"
    return Contacts(wx=wx, phone=phone, qq=qq, email=email)


def _contact_slots(rng: random.Random, c: Contacts) -> dict[str, str]:
    p = c.phone
    return {
        "wx": c.wx,
        "wx_suffix": "".join(rng.choice(_LETTERS) for _ in range(2))
        + str(rng.randint(10000, 99999)),
        "phone": p,
        "phone_fw": p.translate(_FULLWIDTH),
        "phone_space": f"{p[:3]} {p[3:7]} {p[7:]}",
        "phone_dash": f"{p[:3]}-{p[3:7]}-{p[7:]}",
        "phone_cn": "".join(_CN_DIGITS[d] for d in p),
        "qq": c.qq,
        "qq_space": " ".join(c.qq),
        "email": c.email,
    }


class Deck:
    """Deals red-line templates so each category alternates plain and evaded lines and walks
    through its evasion forms in turn (random only among the least used), whatever the seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: Counter[tuple[str, str]] = Counter()  # (label, form) -> times dealt

    def pick(self, label: str, templates: list[tuple[str, str, str]], line: str) -> tuple[str, str]:
        pool = [(f, t) for f, t, lines in templates if lines in ("*", line)]
        plain = self.used[label, PLAIN]
        evaded = sum(n for (lab, f), n in self.used.items() if lab == label and f != PLAIN)
        want_evaded = evaded < plain or (evaded == plain and self.rng.random() < 0.5)
        forms = sorted({f for f, _ in pool if (f != PLAIN) == want_evaded})
        least = min(self.used[label, f] for f in forms)
        form = self.rng.choice([f for f in forms if self.used[label, f] == least])
        self.used[label, form] += 1
        return form, self.rng.choice([t for f, t in pool if f == form])

    def red_line(self, label: str, contacts: Contacts, channel: str, line: str) -> list[Line]:
        """The agent message(s) committing one red line."""
        rng = self.rng
        if label == CONTACT:
            form, tpl = self.pick(label, CONTACT_TEMPLATES, line)
            return [Line(tpl.format_map(_contact_slots(rng, contacts)), form=form)]
        if label == RED_PACKET:
            if channel in ("wecom", "wechat") and rng.random() < 0.5:
                msg_type, text = rng.choice(RED_PACKET_MESSAGES)
                say = "给您发个小红包，别嫌弃哈" if msg_type == "red_packet" else "一点心意，您收下"
                lead = [Line(say)] if rng.random() < 0.4 else []
                return [*lead, Line(text, type=msg_type, form=msg_type)]
            form, tpl = self.pick(label, RED_PACKET_TEMPLATES, line)
            return [Line(tpl, form=form)]
        if label == GUARANTEE:
            form, tpl = self.pick(label, GUARANTEE_TEMPLATES, line)
            return [Line(tpl.format(rate=rng.choice(["4", "4.5", "5", "6"])), form=form)]
        if label == ABUSE:
            form, tpl = self.pick(label, ABUSE_TEMPLATES, line)
            return [Line(tpl, form=form)]
        raise ValueError(f"unknown red line {label!r}")
