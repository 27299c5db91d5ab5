"""Calls without a transcript: the packaged whisper-base transcribes real Mandarin speech (the
clips of tests/data/audio, CREDITS.md) placed on an agent and a customer channel of an 8 kHz
telephone call, and every text rule then works on it — with the speaker's role and the seconds
of the words — through ``qc analyze`` and through the API's deep lane.

Why these clips: no public dual-channel Mandarin call recording exists; the agent says
欢迎大家来体验达摩院推出的语音识别模型 at 1 s, the customer 甚至出现交易几乎停滞的情况 at 9 s.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from datetime import datetime
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import scipy.signal
import soundfile as sf
from factories import bearer
from fastapi.testclient import TestClient
from rich.console import Console

from qc_service.audio.asr import Decoded, Word, kept, simplified, speech_regions, transcribe_call
from qc_service.audio.asr_model import PACKAGED_SHA256, ModelError, assemble
from qc_service.audio.errors import AudioError
from qc_service.cli import rules_cmds
from qc_service.config import Settings
from qc_service.main import create_app
from qc_service.store import open_store

DATA = Path(__file__).resolve().parents[1] / "data" / "audio"
RATE = 8000
AGENT_AT, CUSTOMER_AT = 1.0, 9.0
RULES = """
rules:
  - {id: asr.welcome, name: 欢迎语, when: {keyword: {words: [欢迎大家], role: agent}}}
  - {id: asr.trade.agent, name: 坐席谈交易, when: {keyword: {words: [交易], role: agent}}}
  - {id: asr.trade.customer, name: 客户谈交易, when: {keyword: {words: [交易], role: customer}}}
"""


def _clip(name: str) -> npt.NDArray[np.float64]:
    x, native = sf.read(DATA / name, dtype="float64")
    g = gcd(RATE, native)
    return scipy.signal.resample_poly(x, RATE // g, native // g)


def _call(path: Path, *, customer: bool = True) -> Path:
    """20 s, 8 kHz, agent on channel 0, customer on 1, line noise at −66 dBFS on both."""
    x = np.random.default_rng(7).normal(0, 0.0005, (20 * RATE, 2))
    agent = _clip("funasr_asr_example_zh.wav")
    x[int(AGENT_AT * RATE) : int(AGENT_AT * RATE) + agent.size, 0] += agent
    if customer:
        said = _clip("aishell1_BAC009S0764W0121.wav")
        x[int(CUSTOMER_AT * RATE) : int(CUSTOMER_AT * RATE) + said.size, 1] += said * 2
    sf.write(path, x.astype(np.float32), RATE, subtype="PCM_16")
    return path


def _record(rid: str, audio: str, **call: Any) -> dict[str, Any]:
    return {"id": rid, "channel": "call", "employee": {"id": "e1", "team": "销售一组"},
            "customer": {"id": f"u-{rid}"}, "started_at": "2026-11-20T09:00:00+08:00", "closed": True,
            "call": {"audio": audio, "channels": {"agent": 0, "customer": 1}, **call}}  # fmt: skip


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged model, joined and checked once for the whole run."""
    return assemble(tmp_path_factory.mktemp("asr-model"))


# --- the pure core, with a stand-in model -------------------------------------------------


class Scripted:
    """A transcriber that answers every region with the same segment and counts its calls."""

    name = "scripted"

    def __init__(self, text: str, **quality: float) -> None:
        self.text, self.quality, self.calls = text, quality, 0

    def decode(self, audio: npt.NDArray[np.float32]) -> list[Decoded]:
        self.calls += 1
        words = tuple(Word(0.1 + i * 0.2, 0.3 + i * 0.2, ch) for i, ch in enumerate(self.text))
        q = {"avg_logprob": -0.3, "no_speech_prob": 0.05, "compression_ratio": 1.0, **self.quality}
        return [Decoded(0.1, 0.3 + len(self.text) * 0.2, self.text, words=words, **q)]


def test_traditional_characters_come_out_simplified() -> None:
    x = np.zeros((4 * RATE, 2), dtype=np.float32)
    x[RATE : 2 * RATE, 0] = 0.3 * np.sin(np.arange(RATE) * 2 * np.pi * 220 / RATE)
    got = transcribe_call(x, RATE, {"agent": 0, "customer": 1}, Scripted("這個產品保證收益"))
    assert [u.text for u in got] == ["这个产品保证收益"]
    assert simplified("稳賺不賠") == "稳赚不赔"


def test_a_silent_channel_is_never_sent_to_the_model() -> None:
    model = Scripted("您好")
    x = np.random.default_rng(1).normal(0, 0.0005, (6 * RATE, 2)).astype(np.float32)
    x[RATE : 3 * RATE, 0] += 0.3 * np.sin(np.arange(2 * RATE) * 2 * np.pi * 300 / RATE)
    got = transcribe_call(x, RATE, {"agent": 0, "customer": 1}, model)
    assert {u.role for u in got} == {"agent"} and model.calls == 1


def test_segments_the_model_does_not_vouch_for_are_dropped() -> None:
    assert kept(Decoded(0, 1, "你好", -0.3, 0.05, 1.0, ()))
    assert not kept(Decoded(0, 1, "你好", -0.3, 0.9, 1.0, ()))
    assert not kept(Decoded(0, 1, "你好", -1.5, 0.05, 1.0, ()))
    assert not kept(Decoded(0, 1, "小" * 200, -0.1, 0.05, 31.0, ()))


def test_speech_regions_join_breaths_pad_and_cut_long_turns() -> None:
    voiced = np.zeros(int(80 / 0.05), dtype=bool)
    voiced[20:40] = voiced[45:60] = True  # 1-2 s and 2.25-3 s: one turn across a breath
    voiced[200:1000] = True  # 10-50 s: one 40 s monologue
    regions = speech_regions(voiced)
    assert regions[0] == pytest.approx((0.8, 3.2))
    assert len(regions) == 3 and all(e - s <= 28.5 for s, e in regions)
    assert regions[1][0] == pytest.approx(9.8) and regions[-1][1] == pytest.approx(50.2)


def test_a_call_without_a_channel_map_is_refused_by_name() -> None:
    with pytest.raises(AudioError, match="channel map"):
        transcribe_call(np.zeros((RATE, 1), dtype=np.float32), RATE, None, Scripted("x"))


def test_a_model_whose_checksum_does_not_match_is_refused(tmp_path: Path) -> None:
    parts = (tmp_path / "a.part1", tmp_path / "b.part2")
    parts[0].write_bytes(b"WhisperSpec" + b"\0" * 100)
    parts[1].write_bytes(b"\1" * 100)
    with pytest.raises(ModelError, match=f"expected {PACKAGED_SHA256}") as err:
        assemble(tmp_path / "data", parts=parts)
    joined = hashlib.sha256(parts[0].read_bytes() + parts[1].read_bytes()).hexdigest()
    assert joined in str(err.value)
    assert not (tmp_path / "data" / "models" / "asr" / "whisper-base" / "model.bin").exists()


def test_the_packaged_model_is_joined_once_and_matches_its_checksum(model_dir: Path) -> None:
    assert hashlib.sha256((model_dir / "model.bin").read_bytes()).hexdigest() == PACKAGED_SHA256
    before = (model_dir / "model.bin").stat().st_mtime_ns
    assert assemble(model_dir.parents[2]) == model_dir
    assert (model_dir / "model.bin").stat().st_mtime_ns == before


# --- the real model ---------------------------------------------------------------------------


def test_qc_analyze_finds_the_agents_words_with_role_and_seconds(
    tmp_path: Path, model_dir: Path
) -> None:
    _call(tmp_path / "call.wav")
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    records = tmp_path / "calls.jsonl"
    records.write_text(
        json.dumps(_record("bare-1", "call.wav"), ensure_ascii=False) + "\n", encoding="utf-8"
    )
    out = subprocess.run(
        [sys.executable, "-m", "qc_service.cli.main", "analyze", str(records), "--rules",
         str(tmp_path / "rules.yaml"), "--format", "jsonl"],
        capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "QC_ASR_MODEL": str(model_dir), "QC_DATA_DIR": str(tmp_path)},
    )  # fmt: skip
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    hits = {x["rule_id"]: x["evidence"][0] for x in lines if x["type"] == "violation"}
    assert set(hits) == {"asr.welcome", "asr.trade.customer"}, out.stderr[-2000:]
    welcome, trade = hits["asr.welcome"], hits["asr.trade.customer"]
    assert welcome["role"] == "agent" and welcome["text"] == "欢迎大家"
    assert (
        AGENT_AT + 0.3 <= welcome["t_start"] <= AGENT_AT + 1.2 < welcome["t_end"] <= AGENT_AT + 2.5
    )
    assert (
        trade["role"] == "customer" and CUSTOMER_AT + 0.8 <= trade["t_start"] <= CUSTOMER_AT + 2.2
    )
    assert next(x for x in lines if x["type"] == "score")["complete"] is True


@pytest.fixture
def asr_client(tmp_path: Path, model_dir: Path) -> Any:
    data = tmp_path / "data"
    (data / "default").mkdir(parents=True)  # a tenant's recordings lie in its own folder
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'qc.db'}", data_dir=data,
                        sweep_interval_seconds=3600, asr_model=str(model_dir))  # fmt: skip
    store = open_store(settings)
    with TestClient(create_app(settings, store=store)) as c:
        c.headers.update(bearer(store))
        r = c.post("/v1/rules", content=RULES, headers={"content-type": "application/yaml"})
        assert r.status_code == 200, r.text
        c.app.state.store = store
        yield c, data / "default"
    store.close()


def _ingest(client: TestClient, *records: dict[str, Any]) -> None:
    r = client.post("/v1/conversations", json={"records": list(records)})
    assert r.status_code == 200, r.text
    client.app.state.runtime.lane.drain()  # type: ignore[attr-defined]


def test_the_deep_lane_transcribes_a_bare_call_into_timed_messages(asr_client: Any) -> None:
    client, data = asr_client
    _call(data / "bare.wav")
    _call(data / "quiet.wav", customer=False)
    _ingest(client, _record("bare-1", "default/bare.wav"), _record("quiet-1", "default/quiet.wav"))

    conv = client.get("/v1/conversations/bare-1").json()
    assert conv["stage_errors"] == []
    msgs = conv["messages"]
    assert [(m["id"], m["role"]) for m in msgs] == [("seg-0", "agent"), ("seg-1", "customer")]
    assert "欢迎大家" in msgs[0]["text"] and "交易" in msgs[1]["text"]
    assert all(m["source"] == "asr" and 0 < m["confidence"] <= 1 for m in msgs)
    said_at = datetime.fromisoformat(msgs[1]["ts"]) - datetime.fromisoformat(
        "2026-11-20T09:00:00+08:00"
    )
    assert CUSTOMER_AT - 0.5 <= said_at.total_seconds() <= CUSTOMER_AT + 1.5 <= msgs[1]["end"]
    found = {v["rule_id"]: v for v in conv["violations"]}
    assert set(found) == {"asr.welcome", "asr.trade.customer"}
    ev = found["asr.trade.customer"]["evidence"][0]
    assert ev["message_id"] == "seg-1" and CUSTOMER_AT + 0.8 <= ev["t_start"] <= CUSTOMER_AT + 2.2

    quiet = client.get("/v1/conversations/quiet-1").json()
    assert [m["role"] for m in quiet["messages"]] == ["agent"]  # the silent line said nothing


def test_a_call_with_a_transcript_is_not_transcribed_again(asr_client: Any) -> None:
    client, data = asr_client
    _call(data / "said.wav")
    given = [{"role": "agent", "start": 1.0, "end": 6.0, "text": "人工转写的欢迎大家"}]
    _ingest(client, _record("given-1", "default/said.wav", segments=given))
    conv = client.get("/v1/conversations/given-1").json()
    assert [m["text"] for m in conv["messages"]] == ["人工转写的欢迎大家"]
    assert conv["messages"][0]["source"] is None and conv["stage_errors"] == []


def test_with_transcription_off_a_bare_call_says_why_it_has_no_text(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "default").mkdir(parents=True)
    _call(data / "default" / "bare.wav")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'qc.db'}", data_dir=data,
                        sweep_interval_seconds=3600, asr="off")  # fmt: skip
    store = open_store(settings)
    with TestClient(create_app(settings, store=store)) as client:
        client.headers.update(bearer(store))
        _ingest(client, _record("bare-1", "default/bare.wav"))
        conv = client.get("/v1/conversations/bare-1").json()
    store.close()
    assert conv["messages"] == []
    assert [e["stage"] for e in conv["stage_errors"]] == ["asr"]
    assert "QC_ASR=off" in conv["stage_errors"][0]["message"]


def test_reanalyze_asr_replaces_the_machine_transcript_once(asr_client: Any) -> None:
    client, data = asr_client
    _call(data / "bare.wav")
    _ingest(client, _record("bare-1", "default/bare.wav"))
    before = client.get("/v1/conversations/bare-1").json()
    store = client.app.state.store
    out = rules_cmds.reanalyze(store, None, Console(file=io.StringIO()), asr=True)
    after = client.get("/v1/conversations/bare-1").json()
    assert out == {"conversations": 1, "failed": 0}
    assert [(m["id"], m["text"]) for m in after["messages"]] == [
        (m["id"], m["text"]) for m in before["messages"]
    ]
    assert sorted(v["rule_id"] for v in after["violations"]) == sorted(
        v["rule_id"] for v in before["violations"]
    )
