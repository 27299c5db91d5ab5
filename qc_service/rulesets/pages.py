"""The QC admin's rule pages (UI.md): ``/rules`` (managers read-only), ``/rules/new`` and
``/rules/{rule_id}/edit`` with 校验, 试运行, 回测 and 发布 gated on a finished backtest.

Why thin: validation is ``positions.draft_errors``, the trial ``trial.run_trial``, backtests
``backtest_runs``, publishing ``backtest_runs.publish_checked`` → ``authoring.publish_text`` (the
same function ``POST /v1/rules`` uses); this module turns form fields into those calls.
"""

from __future__ import annotations

import difflib
from datetime import UTC, datetime
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from qc_service.db.session import write_transaction
from qc_service.errors import BacktestRequired, QCError, RuleInvalid
from qc_service.identity.policy import Op, Scope, allowed
from qc_service.rulesets import authoring, backtest_runs, overview
from qc_service.rulesets.positions import draft_errors
from qc_service.rulesets.trial import run_trial
from qc_service.web import messages as msg
from qc_service.web.deps import CurrentUser, DbSession, StoreDep, require
from qc_service.web.marks import pieces
from qc_service.web.masking import MaskingRoute
from qc_service.web.templating import render

router = APIRouter(include_in_schema=False, route_class=MaskingRoute)
ReadRules = Annotated[Scope, require(Op.RULES_READ)]
WriteRules = Annotated[Scope, require(Op.RULES_WRITE)]
RuleId = Annotated[str, Path(min_length=1, max_length=128)]
Yaml = Annotated[str, Form(max_length=200_000)]
NEW_RULE = """rules:
  - id: redline.example
    name: 示例红线
    kind: violation
    severity: high
    when:
      keyword:
        words: [保证收益, 稳赚不赔]
        role: agent
"""


@router.get("/rules")
def rules_list(request: Request, db: DbSession, store: StoreDep, scope: ReadRules,
               user: CurrentUser, q: str | None = None) -> Response:  # fmt: skip
    """Every rule with its status, version, 7-day hits and overturn rate; admins get the switch."""
    rows = overview.rule_rows(db, tenant_id=scope.tenant_id, now=datetime.now(UTC), q=q)
    return render(request, "rules/list.html", {
        "rows": rows, "q": q or "", "may_write": allowed(user.role, Op.RULES_WRITE) is not None,
        "tz": store.settings.timezone,
    })  # fmt: skip


@router.post("/rules/{rule_id}/toggle")
def toggle(rule_id: RuleId, store: StoreDep, scope: WriteRules, user: CurrentUser,
           enabled: Annotated[str, Form()]) -> Response:  # fmt: skip
    """The list's on/off switch (audited as ``enabled`` / ``disabled``)."""
    with write_transaction(store.session_factory) as db:
        authoring.set_enabled(db_session=db, tenant_id=scope.tenant_id, rule_id=rule_id,
                              enabled=enabled == "1", actor=user.username)  # fmt: skip
    return RedirectResponse("/rules", status_code=303)


def _editor(request: Request, db: DbSession, store: Any, scope: Scope, text: str, *,
            rule_id: str | None, error: str | None = None, status: int = 200,
            notice: str | None = None) -> Response:  # fmt: skip
    tenant = scope.tenant_id
    rule = versions = None
    events: list[Any] = []
    if rule_id is not None:
        rule = authoring.get_rule_or_raise(db_session=db, tenant_id=tenant, rule_id=rule_id)
        versions = authoring.versions(db_session=db, rule=rule)
        events = overview.timeline(db, tenant_id=tenant, rule_id=rule_id)
    run = backtest_runs.finished_for(db, tenant_id=tenant, text=text)
    return render(request, "rules/edit.html", {
        "text": text, "rule": rule, "versions": versions or [], "events": events,
        "errors": [msg.yaml_error(e.line, e.column, e.message) for e in draft_errors(text)],
        "run": run, "diff": _diff(db, tenant, text) if run else None, "error": error, "notice": notice,
        "tz": store.settings.timezone,
    }, status=status)  # fmt: skip


@router.get("/rules/new")
def new_rule(request: Request, db: DbSession, store: StoreDep, scope: WriteRules,
             draft: str | None = None) -> Response:  # fmt: skip
    """An empty editor (or a backtested draft's text with ``?draft=<run id>``)."""
    text = NEW_RULE
    if draft:
        text = backtest_runs.get(db, tenant_id=scope.tenant_id, run_id=draft).draft
    return _editor(request, db, store, scope, text, rule_id=None)


@router.get("/rules/{rule_id}/edit")
def edit_rule(request: Request, rule_id: RuleId, db: DbSession, store: StoreDep,
              scope: WriteRules, published: str | None = None) -> Response:  # fmt: skip
    """The live version's YAML (lexicons inlined), its versions and its timeline."""
    authoring.get_rule_or_raise(db_session=db, tenant_id=scope.tenant_id, rule_id=rule_id)
    text = authoring.export_yaml(db_session=db, tenant_id=scope.tenant_id, rule_ids={rule_id})
    return _editor(
        request,
        db,
        store,
        scope,
        text,
        rule_id=rule_id,
        notice=msg.UI["yi_fa_bu"] if published else None,
    )


@router.post("/rules/validate")
def validate(request: Request, _scope: WriteRules, yaml_text: Annotated[str, Form(alias="yaml", max_length=200_000)]) -> Response:  # fmt: skip
    """The error list fragment (debounced on change, and on 校验)."""
    errors = [msg.yaml_error(e.line, e.column, e.message) for e in draft_errors(yaml_text)]
    return render(request, "rules/_errors.html", {"errors": errors, "checked": True})


@router.post("/rules/try")
def try_draft(request: Request, _scope: WriteRules, yaml_text: Annotated[str, Form(alias="yaml", max_length=200_000)],
              dialogue: Annotated[str, Form(max_length=20_000)] = "") -> Response:  # fmt: skip
    """试运行: the dialogue with the hits marked; nothing is stored."""
    try:
        trial = run_trial(authoring.load_draft(yaml_text), dialogue)
    except QCError as exc:
        return render(request, "rules/_trial.html", {"trial": None, "error": exc.message})
    return render(request, "rules/_trial.html", {"trial": trial, "error": None, "marks": pieces})


def _diff(db: DbSession, tenant: str, text: str) -> str:
    """The draft against the live versions of the same rules (normalised YAML, unified diff)."""
    try:
        draft = authoring.load_draft(text)
    except RuleInvalid:
        return ""
    ids = {r.id for r in draft.rules}
    live = authoring.export_yaml(db_session=db, tenant_id=tenant, rule_ids=ids)
    live_rules = (yaml.safe_load(live) or {}).get("rules", [])
    new_rules = (yaml.safe_load(text) or {}).get("rules", [])
    dump = lambda rules: yaml.safe_dump(rules, allow_unicode=True, sort_keys=True).splitlines()  # noqa: E731
    return "\n".join(difflib.unified_diff(dump(live_rules) if live_rules else [], dump(new_rules),
                                          "live", "draft", lineterm=""))  # fmt: skip


def _run_fragment(request: Request, db: DbSession, scope: Scope, run_id: str) -> Response:
    run = backtest_runs.get(db, tenant_id=scope.tenant_id, run_id=run_id)
    return render(request, "rules/_backtest.html", {
        "run": run, "diff": _diff(db, scope.tenant_id, run.draft) if run.status == "finished" else None,
    })  # fmt: skip


@router.post("/rules/backtests")
def start_backtest(request: Request, store: StoreDep, scope: WriteRules, user: CurrentUser,
                   yaml_text: Annotated[str, Form(alias="yaml", max_length=200_000)]) -> Response:  # fmt: skip
    """回测 in the background; the fragment polls its progress."""
    try:
        run = backtest_runs.start(store.session_factory, tenant_id=scope.tenant_id, text=yaml_text,
                                  actor=user.username)  # fmt: skip
    except QCError as exc:
        return render(request, "rules/_backtest.html", {"run": None, "error": exc.message})
    with store.session_factory() as db:
        return _run_fragment(request, db, scope, run.id)


@router.get("/rules/backtests/{run_id}")
def backtest_status(request: Request, run_id: Annotated[str, Path(max_length=32)], db: DbSession,
                    scope: WriteRules) -> Response:  # fmt: skip
    """Progress while running; when finished the report, the diff and an enabled 发布."""
    return _run_fragment(request, db, scope, run_id)


@router.post("/rules/backtests/{run_id}/cancel")
def cancel_backtest(request: Request, run_id: Annotated[str, Path(max_length=32)], store: StoreDep,
                    scope: WriteRules) -> Response:  # fmt: skip
    """Stop a running backtest at its next progress beat."""
    backtest_runs.cancel(store.session_factory, tenant_id=scope.tenant_id, run_id=run_id)
    with store.session_factory() as db:
        return _run_fragment(request, db, scope, run_id)


@router.post("/rules/publish")
def publish(request: Request, store: StoreDep, scope: WriteRules, user: CurrentUser,
            yaml_text: Annotated[str, Form(alias="yaml", max_length=200_000)]) -> Response:  # fmt: skip
    """发布: refused (409, the editor again with the reason) without a matching finished backtest."""
    try:
        with write_transaction(store.session_factory) as db:
            out = backtest_runs.publish_checked(db, tenant_id=scope.tenant_id, text=yaml_text,
                                                actor=user.username)  # fmt: skip
    except (BacktestRequired, RuleInvalid) as exc:
        with store.session_factory() as db:
            return _editor(request, db, store, scope, yaml_text, rule_id=None,
                           error=msg.UI["fa_bu_xu_hui_ce"] if isinstance(exc, BacktestRequired) else exc.message,
                           status=exc.status)  # fmt: skip
    return RedirectResponse(f"/rules/{out[0][0]}/edit?published=1", status_code=303)


@router.post("/rules/{rule_id}/rollback")
def rollback(rule_id: RuleId, store: StoreDep, scope: WriteRules, user: CurrentUser,
             version: Annotated[int, Form(ge=1)]) -> Response:  # fmt: skip
    """Make an earlier version current again (audited ``rolled_back``)."""
    with write_transaction(store.session_factory) as db:
        authoring.rollback(db_session=db, tenant_id=scope.tenant_id, rule_id=rule_id,
                           version=version, actor=user.username)  # fmt: skip
    return RedirectResponse(f"/rules/{rule_id}/edit", status_code=303)
