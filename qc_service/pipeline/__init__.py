"""The lanes: analysis of stored conversations and the persistence of its findings."""
