"""The manager dashboard against a store with known figures (``dashboard_seed``): the tiles show
exactly the seeded counts, ``/v1/dashboard/kpis`` gives the same numbers for the same filter,
rule health flags 60 % over 20 decisions and not 100 % over 3, every number leads to exactly
the hits behind it, and a manager sees only their own teams."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest
from dashboard_seed import ADMIN, MANAGER, seed_dashboard
from factories import bearer
from fastapi.testclient import TestClient

from qc_service.main import create_app
from qc_service.store import Store
from qc_service.web.messages import percent


@pytest.fixture
def seeded(store: Store) -> Iterator[tuple[TestClient, Store]]:
    seed_dashboard(store)
    with TestClient(create_app(store.settings, store=store)) as client:
        yield client, store


def _tiles(html: str) -> dict[str, str]:
    """Each KPI tile's number: ``role="group" aria-label=NAME`` holding ``tile-value``."""
    out = {}
    for name, body in re.findall(
        r'role="group" aria-label="([^"]+)" class="tile">(.*?)</div>', html, re.S
    ):
        out[name] = unescape(re.search(r'class="tile-value"[^>]*>([^<]*)<', body).group(1)).strip()
    return out


def _api_as_tiles(k: dict[str, Any]) -> dict[str, str]:
    return {"质检会话数": str(k["conversations"]), "违规数": str(k["violations"]),
            "违规率": percent(k["violation_rate"]), "申诉数": str(k["appeals"]),
            "撤销率": percent(k["overturn_rate"]), "超时申诉": str(k["overdue_appeals"])}  # fmt: skip


@pytest.mark.parametrize(("role", "expected"), [("admin", ADMIN), ("manager", MANAGER)])
def test_tiles_show_the_seeded_counts_and_equal_the_api_for_the_same_filter(
    seeded: tuple[TestClient, Store], role: str, expected: dict[str, str]
) -> None:
    client, store = seeded
    auth = bearer(store, role, teams=["销售一组"] if role == "manager" else None)
    page = client.get("/dashboard", headers=auth)
    assert page.status_code == 200
    assert _tiles(page.text) == expected
    api = client.get("/v1/dashboard/kpis", headers=auth).json()
    assert _api_as_tiles(api) == expected
    for params in ({"rule": "dash.a"}, {"team": "销售一组", "channel": "wecom"}, {"agent": "d2"},
                   {"channel": "sms"}):  # fmt: skip
        tiles = _tiles(client.get("/dashboard", params=params, headers=auth).text)
        assert tiles == _api_as_tiles(
            client.get("/v1/dashboard/kpis", params=params, headers=auth).json()
        ), params
    assert (
        _tiles(client.get("/dashboard", params={"rule": "dash.a"}, headers=auth).text)["撤销率"]
        == "60.0%"
    )


def test_rule_health_flags_a_rule_overturned_60_percent_over_20_decisions_not_one_with_3(
    seeded: tuple[TestClient, Store],
) -> None:
    client, store = seeded
    auth = bearer(store, "manager", teams=["销售一组"])
    rows = {r["rule_id"]: r for r in client.get("/v1/dashboard/rule-health", headers=auth).json()}
    assert (
        rows["dash.a"]["overturn_rate"],
        rows["dash.a"]["decided"],
        rows["dash.a"]["doubtful"],
    ) == (0.6, 20, True)
    assert (
        rows["dash.b"]["overturn_rate"],
        rows["dash.b"]["decided"],
        rows["dash.b"]["doubtful"],
    ) == (1.0, 3, False)
    assert rows["dash.a"]["reasons"] == {"rule_too_strict": 12}
    html = client.get("/dashboard", headers=auth).text
    health = re.search(r'<table id="rule-health">.*?</table>', html, re.S).group(0)
    row_a = re.search(r'<tr data-rule="dash.a">.*?</tr>', health, re.S).group(0)
    row_b = re.search(r'<tr data-rule="dash.b">.*?</tr>', health, re.S).group(0)
    assert (
        "可能不合理" in row_a and "60.0%" in row_a and "(n=20)" in row_a and "规则过严 12" in row_a
    )
    assert "可能不合理" not in row_b and "(n=3)" in row_b


def _rows(client: TestClient, href: str, auth: dict[str, str]) -> list[str]:
    html = client.get(unescape(href), headers=auth).text
    return re.findall(r'<tr data-id="\d+">\s*<td><a href="/review/\d+">([^<]+)</a>', html)


def test_every_number_opens_exactly_the_hits_behind_it(seeded: tuple[TestClient, Store]) -> None:
    client, store = seeded
    auth = bearer(store, "manager", teams=["销售一组"])
    html = client.get("/dashboard", headers=auth).text
    trend = re.search(r'<table id="trend-table">.*?</table>', html, re.S).group(0)
    cells = re.findall(r'<td><a href="([^"]+)">(\d+)</a></td>', trend)
    assert cells, "the trend table links its numbers"
    for href, n in cells:
        shown = _rows(client, href, auth)
        assert len(shown) == int(n), href
        rule = re.search(r"rule=([\w.]+)", href)
        if rule:
            assert set(shown) == {rule.group(1)}

    def tile(name: str) -> str:
        return re.search(rf'aria-label="{name}" class="tile">.*?href="([^"]+)"', html, re.S).group(
            1
        )

    assert len(_rows(client, tile("违规数"), auth)) == 12
    assert len(_rows(client, tile("申诉数"), auth)) == 2
    assert len(_rows(client, tile("超时申诉"), auth)) == 1
    assert len(_rows(client, tile("撤销率"), auth)) == 23


def test_csv_exports_carry_the_tables(seeded: tuple[TestClient, Store]) -> None:
    client, store = seeded
    auth = bearer(store, "admin")
    r = client.get("/dashboard/rules.csv", headers=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = {row["rule"]: row for row in csv.DictReader(io.StringIO(r.text.lstrip("\ufeff")))}
    assert (rows["dash.a"]["hits"], rows["dash.a"]["overturned"], rows["dash.a"]["doubtful"]) == (
        "21",
        "12",
        "True",
    )
    agents = list(
        csv.DictReader(
            io.StringIO(client.get("/dashboard/agents.csv", headers=auth).text.lstrip("\ufeff"))
        )
    )
    assert {a["agent"]: a["conversations"] for a in agents} == {"d1": "27", "d2": "7", "d5": "1"}
    reviewers = list(
        csv.DictReader(
            io.StringIO(client.get("/dashboard/reviewers.csv", headers=auth).text.lstrip("\ufeff"))
        )
    )
    assert [(r["reviewer"], r["decisions"], r["overturned"]) for r in reviewers] == [
        ("demo-reviewer", "23", "15")
    ]
    trend = list(
        csv.reader(
            io.StringIO(client.get("/dashboard/trend.csv", headers=auth).text.lstrip("\ufeff"))
        )
    )
    assert trend[0][-1] == "total" and len(trend) == 8  # header + 7 days
    assert sum(int(row[-1]) for row in trend[1:]) == 13


def test_agents_and_sales_may_not_see_the_dashboard_and_bad_dates_are_named(
    seeded: tuple[TestClient, Store],
) -> None:
    client, store = seeded
    for role in ("agent", "sales"):
        assert (
            client.get(
                "/v1/dashboard/kpis", headers=bearer(store, role, employee_id="d1")
            ).status_code
            == 403
        )
    auth = bearer(store, "admin")
    r = client.get("/v1/dashboard/kpis", params={"since": "2026-13-01"}, headers=auth)
    assert r.status_code == 400 and r.json()["error"]["field"] == "since"
    r = client.get(
        "/v1/dashboard/kpis", params={"since": "2026-12-05", "until": "2026-12-01"}, headers=auth
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "until"
