"""Alembic environment and revisions for the schema; run them via ``qc_service.db.migrate``."""
