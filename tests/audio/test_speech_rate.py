"""speech_rates: characters a minute per turn, from transcript times only."""

from __future__ import annotations

import pytest

from qc_service.audio import Segment, Stretch, speech_rates


def test_turns_merge_consecutive_segments_of_one_role() -> None:
    segments = [
        Segment(
            "agent", 0.0, 3.0, "您好，这里是客服中心。"
        ),  # 9 characters (punctuation not counted)
        Segment("agent", 4.0, 6.0, "请问有什么可以帮您？"),  # 9
        Segment("customer", 6.5, 9.5, "我想问一下退款什么时候到账"),  # 13
        Segment("agent", 10.0, 11.0, "好的"),  # a turn under 10 characters
        Segment("system", 11.0, 12.0, "通话录音提示音已播放完毕谢谢"),
    ]
    rates = speech_rates(segments)
    assert rates == [
        Stretch(0.0, 6.0, pytest.approx(18 / 5 * 60), "agent"),
        Stretch(6.5, 9.5, pytest.approx(13 / 3 * 60), "customer"),
    ]


def test_fast_and_slow_speakers() -> None:
    fast = Segment("agent", 0.0, 2.0, "这款理财产品保本保息稳赚不赔机会难得")  # 18 chars in 2 s
    slow = Segment("customer", 3.0, 13.0, "那我再考虑考虑吧")  # 8 chars
    (agent,) = speech_rates([slow, fast])
    assert agent.by == "agent" and agent.value == pytest.approx(540.0)
    (customer,) = speech_rates([fast, slow], min_chars=5)[1:]
    assert customer.value == pytest.approx(48.0)


def test_latin_words_digits_and_empty_input() -> None:
    seg = Segment("agent", 0.0, 6.0, "VIP 会员 99 元 OK")
    (rate,) = speech_rates([seg])
    assert rate.value == pytest.approx(10 / 6 * 60)
    assert speech_rates([]) == []
    assert speech_rates([Segment("agent", 5.0, 5.0, "零时长的分段不能算语速啊")]) == []
