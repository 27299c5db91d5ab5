"""Tenants, employees and customers as records name them (idempotent upserts by external id)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from qc_service.ingest.records import CustomerIn, EmployeeIn
from qc_service.tenancy.models import Customer, Employee, Tenant


def get_or_create_tenant(*, db_session: Session, tenant_id: str) -> Tenant:
    """The tenant row, created on first sight."""
    tenant = db_session.get(Tenant, tenant_id)
    if tenant is None:
        tenant = Tenant(id=tenant_id, name=tenant_id)
        db_session.add(tenant)
        db_session.flush()
    return tenant


def _extra(model: EmployeeIn | CustomerIn) -> dict[str, object]:
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
        emp.extra = {**(emp.extra or {}), **_extra(data)}
    db_session.flush()
    return emp


def upsert_customer(
    *, db_session: Session, tenant_id: str, data: CustomerIn, owner: str | None
) -> Customer:
    """Create or refresh a customer; the first employee seen becomes the owner if none is known."""
    cust = db_session.scalars(
        select(Customer).where(Customer.tenant_id == tenant_id, Customer.external_id == data.id)
    ).one_or_none()
    if cust is None:
        cust = Customer(tenant_id=tenant_id, external_id=data.id, extra={}, violation_summary={})
        db_session.add(cust)
    for attr in ("name", "phone", "unionid", "crm_id"):
        value = getattr(data, attr)
        if value is not None:
            setattr(cust, attr, value)
    if cust.owner_external_id is None:
        cust.owner_external_id = owner
    if data.model_extra:
        cust.extra = {**(cust.extra or {}), **_extra(data)}
    db_session.flush()
    return cust


def get_customer(*, db_session: Session, tenant_id: str, external_id: str) -> Customer | None:
    """A customer by the tenant's id."""
    return db_session.scalars(
        select(Customer).where(Customer.tenant_id == tenant_id, Customer.external_id == external_id)
    ).one_or_none()
