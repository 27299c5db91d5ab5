"""The /segments pages: the list with member counts and last run, a segment's runs and members
with why, an admin's preview of a draft (counts, nothing stored; a located error), and the
customer page's 所在分组."""

from __future__ import annotations

from fastapi.testclient import TestClient

from qc_service.store import Store
from tests.factories import bearer
from tests.segments.test_api import DOC, _world


def test_list_page_detail_and_customer_page(client: TestClient, store: Store) -> None:
    _world(client, store)
    client.post("/v1/segments/seg.parents/run")
    page = client.get("/segments")
    assert (
        page.status_code == 200
        and "小学家长·在群" in page.text
        and 'data-segment="seg.parents"' in page.text
    )
    assert "+2 / −0" in page.text
    detail = client.get("/segments/seg.parents").text
    assert "在群，属性" in detail and 'href="/customers/u1"' in detail and "in_group" in detail
    customer = client.get("/customers/u1").text
    assert "所在分组" in customer and "小学家长·在群" in customer
    assert client.get("/segments/seg.nope").status_code == 404


def test_admin_previews_a_draft_and_sales_see_no_definition(
    client: TestClient, store: Store
) -> None:
    _world(client, store)
    draft = DOC.replace("value: [6, 12]", "value: [6, 20]")
    got = client.post("/segments/preview", data={"draft": draft})
    assert got.status_code == 200 and "<td>3</td><td>3</td><td>0</td>" in got.text.replace("\n", "")
    assert client.get("/v1/segments").json()[0]["members"] == 0  # nothing stored
    bad = client.post(
        "/segments/preview",
        data={"draft": DOC.replace("attr:", "keyword:")},
    )
    assert bad.status_code == 422 and "segments[0].when.all[1].keyword" in bad.text
    sales = bearer(store, "sales", employee_id="e1")
    text = client.get("/segments/seg.parents", headers=sales).text
    assert "in_group" not in text  # membership only: no definition
