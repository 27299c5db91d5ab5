"""Findings a reviewer acts on: violations with evidence, appeals, and conversation scores."""
