"""Append-only audit trail of state changes (who changed what, before and after)."""
