"""Imports every models module so ``metadata`` describes the whole schema.

Why a separate module: Alembic's env.py and the tests need the complete metadata, while models only
import ``qc_service.db.base``; importing them all from base would make every domain import every
other. Add new models modules here.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from crm_bridge.outbox import models as outbox_models
from qc_service.alerts import models as alerts_models
from qc_service.audit import models as audit_models
from qc_service.conversations import models as conversations_models
from qc_service.customers import models as customers_models
from qc_service.db.base import Base
from qc_service.identity import models as identity_models
from qc_service.jobs import models as jobs_models
from qc_service.review import models as review_models
from qc_service.rulesets import models as rulesets_models
from qc_service.segments import models as segments_models
from qc_service.tagging import models as tagging_models
from qc_service.tenancy import models as tenancy_models

MODEL_MODULES = (
    tenancy_models,
    customers_models,
    identity_models,
    conversations_models,
    rulesets_models,
    review_models,
    tagging_models,
    audit_models,
    outbox_models,
    alerts_models,
    jobs_models,
    segments_models,
)
"""Every module that defines tables, in dependency order."""

metadata: MetaData = Base.metadata
"""The complete schema (all models imported)."""
