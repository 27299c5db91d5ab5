"""Synthetic demo conversations (generator and the data set it writes)."""

from pathlib import Path

DEMO_FILE = Path(__file__).parent / "data" / "demo.jsonl"
"""The demo set `make demo` ingests."""
DEMO_CALLS_FILE = Path(__file__).parent / "data" / "demo_calls.jsonl"
"""Call records with recordings (audio paths relative to this file)."""
DEMO_RULES_FILE = Path(__file__).parent / "data" / "demo_rules.yaml"
"""The demo tenant's own rules (published by ``qc demo`` beside the default pack)."""
