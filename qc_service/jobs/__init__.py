"""Periodic work: a job registry (``@job``) and one leased scheduler loop (ARCHITECTURE.md).

A low floor (config, db, errors only): each domain's ``jobs.py`` registers its own jobs; the
kernel imports those modules and runs the loop inside ``qc serve`` / ``qc worker`` or alone as
``qc scheduler``.
"""
