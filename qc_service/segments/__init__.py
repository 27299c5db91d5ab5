"""Segments (人群分组): customers grouped by what they said, did and were found in."""
