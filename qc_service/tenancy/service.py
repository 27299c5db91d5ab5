"""Tenants, employees and customers as records name them (idempotent upserts by external id)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from qc_service.records import CustomerIn, EmployeeIn
from qc_service.tenancy.models import Employee, Tenant


def get_or_create_tenant(*, db_session: Session, tenant_id: str) -> Tenant:
    """The tenant row, created on first sight."""
    tenant = db_session.get(Tenant, tenant_id)
    if tenant is None:
        tenant = Tenant(id=tenant_id, name=tenant_id)
        db_session.add(tenant)
        db_session.flush()
    return tenant


def extra_fields(model: EmployeeIn | CustomerIn) -> dict[str, object]:
    return dict(model.model_extra or {})


def upsert_employee(*, db_session: Session, tenant_id: str, data: EmployeeIn) -> Employee:
    """Create or refresh an employee; fields a record leaves out are kept."""
    emp = db_session.scalars(
        select(Employee).where(Employee.tenant_id == tenant_id, Employee.external_id == data.id)
    ).one_or_none()
    if emp is None:
        emp = Employee(tenant_id=tenant_id, external_id=data.id, extra={})
        db_session.add(emp)
    if data.name is not None:
        emp.name = data.name
    if data.team is not None:
        emp.team = data.team
    if data.supervisor_id is not None:
        emp.supervisor_external_id = data.supervisor_id
    if data.model_extra:
        emp.extra = {**(emp.extra or {}), **extra_fields(data)}
    db_session.flush()
    return emp
