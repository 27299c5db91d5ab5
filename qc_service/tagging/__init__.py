"""Customer tags derived from conversations (rules, Q&A, groups) or set by hand."""
