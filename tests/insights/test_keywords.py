"""``GET /v1/insights/keywords``: each team's top words are what its customers talk about."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from factories import bearer
from fastapi.testclient import TestClient

from qc_service.insights.router import router
from qc_service.main import create_app
from qc_service.nlp.keywords import hot_words
from qc_service.nlp.tokenizer import get_tokenizer
from qc_service.pipeline.files import ingest_one
from qc_service.store import Store

A = ["我要退款，什么时候退款到账？", "退款申请提交了吗", "课程不好，退款", "退款太慢了"]
B = ["试听课什么时候上", "试听课可以约周六吗", "孩子上完试听课挺喜欢", "课程不好"]


def _record(rid: str, employee: str, team: str, texts: list[str]) -> dict[str, Any]:
    msgs = [{"id": "m0", "role": "agent", "text": "您好，退款和试听课都可以帮您看看"}]
    msgs += [{"id": f"m{i + 1}", "role": "customer", "text": t} for i, t in enumerate(texts)]
    return {"id": rid, "channel": "wecom", "employee": {"id": employee, "team": team},
            "customer": {"id": f"u-{rid}"}, "messages": msgs}  # fmt: skip


@pytest.fixture
def api(store: Store) -> Iterator[TestClient]:
    app = create_app(store.settings, store=store)
    app.include_router(router)
    with TestClient(app) as c:
        c.headers.update(bearer(store))
        for rid, employee, team, texts in (
            ("a1", "ea", "退款组", A[:2]), ("a2", "ea", "退款组", A[2:]),
            ("b1", "eb", "试听组", B[:2]), ("b2", "eb", "试听组", B[2:]),
        ):  # fmt: skip
            answer = ingest_one(store, _record(rid, employee, team, texts), final=True)
            assert answer.status == "accepted", answer.error
        yield c


def test_hot_words_rank_the_group_specific_word_first() -> None:
    ranked = hot_words({"a": A, "b": B, "empty": []}, get_tokenizer(["试听课"]), top_k=3)
    assert ranked["a"][0][0] == "退款"
    assert ranked["b"][0][0] == "试听课"
    assert ranked["empty"] == []
    assert len(ranked["a"]) == 3 and ranked["a"][0][1] >= ranked["a"][1][1]


def test_keywords_per_team(api: TestClient) -> None:
    body = api.get("/v1/insights/keywords", params={"top": 5}).json()
    by_team = {i["team"]: [k["word"] for k in i["keywords"]] for i in body["items"]}
    assert body["total"] == 2 and body["next"] is None
    assert by_team["退款组"][0] == "退款"
    assert "听课" in by_team["试听组"][0]  # 试听课, or jieba's 听课 without a lexicon entry
    assert "退款" not in by_team["试听组"]  # the agent's greeting is not a customer message


def test_keywords_filters(api: TestClient) -> None:
    one = api.get("/v1/insights/keywords", params={"team": "试听组"}).json()
    assert [i["team"] for i in one["items"]] == ["试听组"]
    agent = api.get("/v1/insights/keywords", params={"role": "agent"}).json()
    words = {k["word"] for i in agent["items"] for k in i["keywords"]}
    assert "退款" in words
    future = api.get("/v1/insights/keywords", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert future["items"] == [] and future["total"] == 0
