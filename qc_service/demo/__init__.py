"""Synthetic demo conversations (generator and the data set it writes)."""

from pathlib import Path

DEMO_FILE = Path(__file__).parent / "data" / "demo.jsonl"
"""The demo set `make demo` ingests."""
DEMO_CALLS_FILE = Path(__file__).parent / "data" / "demo_calls.jsonl"
"""Call records with recordings (audio paths relative to this file)."""
