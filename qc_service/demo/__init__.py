"""Synthetic demo conversations (generator and the data set it writes)."""
