"""Synthetic demo conversations (generator and the data set it writes)."""

from pathlib import Path

DEMO_FILE = Path(__file__).parent / "data" / "demo.jsonl"
"""The demo set `make demo` ingests."""
