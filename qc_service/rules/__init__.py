"""The rule language as a pure library: rule files in, compiled rule sets out; conversations in,
findings out. No database, web framework or CRM here (see ARCHITECTURE.md)."""
