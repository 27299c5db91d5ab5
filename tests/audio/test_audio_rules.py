"""Audio rules end to end: a real-speech stereo call through ``qc analyze`` and the API — the
second as evidence (±0.3 s) with the transcript at that time, the relative check firing on a
quiet line where the absolute one does not, bad audio as an ``audio`` stage error while the
transcript is still analysed, and the reviewer's clip, chart and upload."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from audio_calls import SPEECH, build_call
from factories import bearer
from fastapi.testclient import TestClient

from qc_service.config import Settings
from qc_service.main import create_app
from qc_service.store import open_store

RATE = 8000
RULES = """
rules:
  - {id: loud.relative, name: 相对音量, when: {loudness: {over_baseline_db: 8, min_seconds: 1.0, role: agent}}}
  - {id: loud.absolute, name: 绝对音量, when: {loudness: {over_dbfs: -10, min_seconds: 1.0, role: agent}}}
  - {id: dead.air, name: 静音, when: {silence: {over_seconds: 3}}}
  - {id: talk.over, name: 抢话, when: {overtalk: {over_seconds: 1, by: agent}}}
  - {id: words.promise, name: 承诺, when: {keyword: {words: [保本], role: agent}}}
"""


def _segments() -> list[dict[str, Any]]:
    texts = {
        "agent": "您好这边是星辰理财的客服请问现在方便吗",
        "customer": "方便你说吧我听着呢有什么事情",
    }
    segs = [
        {"role": role, "start": a, "end": b, "text": texts[role]}
        for role, spans in SPEECH.items()
        for a, b in spans
    ]
    segs.sort(key=lambda s: s["start"])
    segs[0]["text"] = "您好，这个产品保本的"
    return segs


def _record(audio: str) -> dict[str, Any]:
    return {"id": "call-1", "channel": "call", "employee": {"id": "e1"}, "customer": {"id": "u1"},
            "started_at": "2026-11-20T09:00:00+08:00",
            "call": {"audio": audio, "channels": {"agent": 0, "customer": 1}, "segments": _segments()}}  # fmt: skip


def _analyze(tmp_path: Path, record: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    f = tmp_path / "calls.jsonl"
    f.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "qc_service.cli.main", "analyze", str(f), "--rules", str(rules),
                          "--format", "jsonl"], capture_output=True, text=True, timeout=120)  # fmt: skip
    return out.returncode, [json.loads(x) for x in out.stdout.splitlines()]


def _violations(lines: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {x["rule_id"]: x["evidence"] for x in lines if x["type"] == "violation"}


def _audio(evidence: list[dict[str, Any]]) -> list[tuple[float, float]]:
    return [(e["t_start"], e["t_end"]) for e in evidence if e["kind"] == "audio"]


def _near(found: list[tuple[float, float]], truth: tuple[float, float]) -> bool:
    return any(abs(a - truth[0]) <= 0.3 and abs(b - truth[1]) <= 0.3 for a, b in found)


def test_quiet_line_relative_fires_absolute_does_not_with_seconds_and_transcript(
    tmp_path: Path,
) -> None:
    sf.write(
        tmp_path / "call.wav", build_call(RATE, loud_db=12.0, gain_db=-30.0), RATE, subtype="PCM_16"
    )
    code, lines = _analyze(tmp_path, _record("call.wav"))  # relative to the records file
    assert code == 0, lines
    found = _violations(lines)
    assert "loud.absolute" not in found
    assert _near(_audio(found["loud.relative"]), (13.0, 15.0))
    loud = next(e for e in found["loud.relative"] if e["kind"] == "audio")
    assert loud["unit"] == "dB" and loud["value"] >= 8 and loud["role"] == "agent"
    assert any(
        e["kind"] == "message" and e["message_id"].startswith("seg-")
        for e in found["loud.relative"]
    )
    assert _near(_audio(found["dead.air"]), (3.0, 7.0))
    assert _near(_audio(found["talk.over"]), (9.0, 11.0))
    assert found["words.promise"][0]["text"] == "保本"


def test_a_normal_call_has_no_loudness_violation(tmp_path: Path) -> None:
    sf.write(tmp_path / "call.wav", build_call(RATE), RATE, subtype="PCM_16")
    _, lines = _analyze(tmp_path, _record("call.wav"))
    assert not {"loud.relative", "loud.absolute"} & set(_violations(lines))


@pytest.mark.parametrize(
    ("make", "expect"),
    [
        (None, "No such file"),
        (lambda p: p.write_bytes(b""), ""),
        (lambda p: p.write_text("这不是音频", encoding="utf-8"), ""),
        (lambda p: p.write_bytes(b"RIFF\x24\x08\x00\x00WAVEfmt "), ""),
    ],
    ids=["missing", "empty", "not-audio", "truncated"],
)
def test_bad_audio_is_an_audio_stage_error_and_the_transcript_is_still_analysed(
    tmp_path: Path, make: Any, expect: str
) -> None:
    if make is not None:
        make(tmp_path / "call.wav")
    code, lines = _analyze(tmp_path, _record("call.wav"))
    assert code == 1
    errors = [x for x in lines if x["type"] == "error"]
    assert errors and {e["stage"] for e in errors} == {"audio"}
    assert errors[0]["message"].startswith("call.wav: ")  # the path as the record names it
    assert _violations(lines)["words.promise"][0]["text"] == "保本"  # the transcript still counts
    score = next(x for x in lines if x["type"] == "score")
    assert score["complete"] is False


@pytest.fixture
def audio_client(tmp_path: Path) -> Any:
    data = tmp_path / "data"
    data.mkdir()
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'qc.db'}", data_dir=data, sweep_interval_seconds=3600,
                        audio_max_bytes=2_000_000)  # fmt: skip
    store = open_store(settings)
    with TestClient(create_app(settings, store=store)) as c:
        c.headers.update(bearer(store))
        yield c, data
    store.close()


def test_api_stage_error_clip_chart_and_upload(audio_client: Any) -> None:
    client, data = audio_client
    rules = RULES.replace("rules:\n", "rules:\n", 1)
    assert (
        client.post(
            "/v1/rules", content=rules, headers={"content-type": "application/yaml"}
        ).status_code
        == 200
    )
    record = _record("default/missing.wav")
    record["closed"] = True
    client.post("/v1/conversations", json={"records": [record]})
    client.app.state.runtime.lane.drain()
    conv = client.get("/v1/conversations/call-1").json()
    assert (
        conv["stage_errors"][0]["stage"] == "audio"
        and "missing.wav" in conv["stage_errors"][0]["message"]
    )
    assert "words.promise" in {v["rule_id"] for v in conv["violations"]}
    assert client.get("/v1/conversations/call-1/audio").json()["error"]["code"] == "AUDIO_INVALID"

    buf = io.BytesIO()
    sf.write(
        buf, build_call(RATE, loud_db=12.0, gain_db=-30.0), RATE, format="WAV", subtype="PCM_16"
    )
    r = client.post(
        "/v1/conversations/call-1/audio", files={"file": ("call.wav", buf.getvalue(), "audio/wav")}
    )
    assert r.status_code == 200, r.json()
    client.app.state.runtime.lane.drain()
    conv = client.get("/v1/conversations/call-1").json()
    assert conv["stage_errors"] == [] and "loud.relative" in {
        v["rule_id"] for v in conv["violations"]
    }
    clip = client.get("/v1/conversations/call-1/audio", params={"start": 13, "end": 15})
    assert clip.headers["content-type"] == "audio/wav"
    samples, rate = sf.read(io.BytesIO(clip.content))
    assert rate == RATE and samples.shape == (2 * RATE, 2)
    chart = client.get("/v1/conversations/call-1/loudness.svg")
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert (
        chart.text.count("<polyline") == 2 and "#f8c4c4" in chart.text
    )  # both channels, flagged stretch shaded

    too_big = client.post(
        "/v1/conversations/call-1/audio", files={"file": ("big.wav", b"0" * 2_100_000, "audio/wav")}
    )
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "AUDIO_TOO_LARGE"
    text = client.post(
        "/v1/conversations/call-1/audio",
        files={"file": ("notes.wav", "不是音频".encode(), "audio/wav")},
    )
    assert text.status_code == 422 and text.json()["error"]["code"] == "AUDIO_INVALID"
    assert sorted(p.name.split("-")[0] for p in (data / "default").iterdir()) == [
        "call"
    ]  # rejected uploads not kept
