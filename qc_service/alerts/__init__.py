"""Real-time alerts: written in the ingest transaction, published after commit to the SSE stream."""
