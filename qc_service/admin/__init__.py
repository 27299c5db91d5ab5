"""Admin-only reads of the installation's trail: the audit log (and later users, tokens)."""
