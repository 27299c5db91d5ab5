"""Tenants and the people a tenant's conversations are between: employees and customers."""
