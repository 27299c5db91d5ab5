"""The pages behind the door (UI.md "Every page"): logged out → 303 to /login?next=, a role that
may not see a page → the 403 page, an object outside the scope → the 404 page, PII masked in
the HTML, CSP on every page."""

from __future__ import annotations

from factories import bearer, chat
from fastapi.testclient import TestClient

from qc_service.pipeline.files import ingest_one
from qc_service.store import Store

HTML = {"accept": "text/html"}


def test_pages_redirect_refuse_hide_and_mask(client: TestClient, store: Store) -> None:
    ingest_one(
        store, chat("c-pii", "e1", "销售一组", "u1", "加我私人微信，电话13812345678"), final=True
    )
    vid = client.get("/v1/violations", params={"conversation": "c-pii"}).json()["items"][0]["id"]
    anon = TestClient(client.app)
    r = anon.get("/review?status=all", headers=HTML, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/login?next=/review%3Fstatus%3Dall")

    reviewer = {**bearer(store, "reviewer", username="qa1"), **HTML}
    r = client.get("/me", headers=reviewer)
    assert r.status_code == 403 and '<html lang="zh-CN">' in r.text

    other_agent = {**bearer(store, "agent", employee_id="e9", username="e9"), **HTML}
    r = client.get(f"/review/{vid}", headers=other_agent)
    assert r.status_code == 404 and '<html lang="zh-CN">' in r.text

    page = client.get(f"/review/{vid}", headers=reviewer)
    assert (
        page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    )
    assert "138****5678" in page.text and "13812345678" not in page.text
    conv = client.get("/conversations/c-pii", headers=reviewer)
    assert "138****5678" in conv.text and "13812345678" not in conv.text

    manager = {**bearer(store, "manager", teams=["销售一组"], username="m1"), **HTML}
    r = client.get(f"/review/{vid}", headers=manager)
    assert r.status_code == 200 and 'id="decision-form"' not in r.text  # read-only
    sales = {**bearer(store, "sales", employee_id="e1", username="s1"), **HTML}
    r = client.get("/conversations/c-pii", headers=sales)
    assert r.status_code == 200 and "/review/" not in r.text  # no violations for sales
