"""Ingest: validate records, store them (idempotent merge by id), hand them to the lanes."""
