"""Periodic work of rule sets: scheduled versions become current when their time comes."""

from __future__ import annotations

from typing import Any

from qc_service.jobs.registry import JobContext, job
from qc_service.rulesets.authoring import promote_due


@job("rulesets.promote_due")
def promote(ctx: JobContext) -> dict[str, Any]:
    """Make due scheduled versions current (audited as ``version.activated``)."""
    return {"promoted": promote_due(db_session=ctx.db_session, now=ctx.now)}
