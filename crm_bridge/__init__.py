"""Delivers findings to CRMs through an outbox, so a CRM outage never loses or blocks analysis."""
