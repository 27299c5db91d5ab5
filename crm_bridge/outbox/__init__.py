"""Transactional outbox: rows written with the finding that caused them, delivered after commit."""
