"""Conversations (chats and calls) and their messages, as ingested and awaiting analysis."""
