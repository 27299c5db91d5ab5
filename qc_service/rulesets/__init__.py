"""Stored rules and their immutable published versions (definition + lexicon snapshot)."""
