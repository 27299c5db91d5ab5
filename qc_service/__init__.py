"""qc-service."""
