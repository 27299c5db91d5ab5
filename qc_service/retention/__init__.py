"""Retention (ACCESS.md, PIPL minimum necessary): conversations past ``QC_RETENTION_DAYS`` go."""
