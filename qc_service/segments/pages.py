"""``/segments`` (list, member counts, last run, a draft's preview) and ``/segments/{id}``
(definition, member count over the runs, members with why) — the same view functions as the API.

Why the preview posts a whole rule document: the draft may name rules and other segments; the
counts are what ``POST /v1/segments/{id}/preview`` returns.
"""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from qc_service.identity.policy import Op, Scope, allowed
from qc_service.rules.errors import RuleValidationError
from qc_service.segments import views
from qc_service.segments.service import preview
from qc_service.web import messages as msg
from qc_service.web.deps import CurrentUser, DbSession, StoreDep, require
from qc_service.web.masking import MaskingRoute
from qc_service.web.templating import render

router = APIRouter(include_in_schema=False, route_class=MaskingRoute)
ReadSegments = Annotated[Scope, require(Op.SEGMENTS_READ)]
WriteSegments = Annotated[Scope, require(Op.SEGMENTS_WRITE)]
DRAFT = """segments:
  - id: seg.quote-intent
    name: 问价高意向·48小时未回
    when: {all: [{said: {cond: {keyword: {words: [多少钱, 报价]}}, window: 7d, min: 2}},
                 {silent: {side: agent, over_hours: 48}}]}
    on_enter: [{tag_customer: 高意向待跟进}]
rules: []
"""


def _list(request: Request, db: DbSession, store: Any, scope: Scope, user: Any, *, draft: str,
          previews: list[dict[str, Any]] | None = None, error: str | None = None, status: int = 200) -> Response:  # fmt: skip
    return render(request, "segments/list.html", {
        "rows": views.list_segments(db, scope), "draft": draft, "previews": previews, "error": error,
        "may_write": allowed(user.role, Op.SEGMENTS_WRITE) is not None, "tz": store.settings.timezone,
    }, status=status)  # fmt: skip


@router.get("/segments")
def segments_list(request: Request, db: DbSession, store: StoreDep, scope: ReadSegments,
                  user: CurrentUser) -> Response:  # fmt: skip
    """Every segment with members, version and its last run; admins preview a draft here."""
    return _list(request, db, store, scope, user, draft=DRAFT)


@router.post("/segments/preview")
def segments_preview(request: Request, db: DbSession, store: StoreDep, scope: WriteSegments, user: CurrentUser,
                     draft: Annotated[str, Form(max_length=200_000)]) -> Response:  # fmt: skip
    """链销云's live count: what a run of the draft would apply now (nothing stored)."""
    try:
        out = preview(db, scope.tenant_id, yaml.safe_load(draft))
    except yaml.YAMLError as exc:
        return _list(request, db, store, scope, user, draft=draft, error=str(exc), status=422)
    except RuleValidationError as exc:
        return _list(request, db, store, scope, user, draft=draft, error=str(exc.first), status=422)
    if not out:
        return _list(
            request,
            db,
            store,
            scope,
            user,
            draft=draft,
            error=msg.UI["cao_gao_mei_you_fen_zu"],
            status=422,
        )
    return _list(request, db, store, scope, user, draft=draft, previews=out)


@router.get("/segments/{segment_id}")
def segment_page(request: Request, segment_id: str, db: DbSession, store: StoreDep, scope: ReadSegments,
                 cursor: int | None = None) -> Response:  # fmt: skip
    """Definition (not for sales), member count over the runs, members with why."""
    seg = views.get_segment(db, scope, segment_id)
    members, nxt = views.list_members(db, scope, segment_id, limit=50, after=cursor)
    definition = (
        yaml.safe_dump(seg["definition"], allow_unicode=True, sort_keys=False)
        if seg["definition"]
        else None
    )
    return render(request, "segments/page.html", {
        "s": seg, "definition": definition, "members": members, "next_cursor": nxt,
        "tz": store.settings.timezone,
    })  # fmt: skip
