"""Where a rule document's words come from: lexicon names and word files.

Why pluggable: a rule file on disk reads its lexicon files relative to itself, while a stored
rule (or segment) version must be rebuilt from its own lexicon snapshot so an edited file never
changes a published version. Both go through ``WordSource``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class WordSource(Protocol):
    """Where lexicon names and word files are looked up."""

    def lexicon(self, name: str) -> list[str] | None:
        """Words of a named lexicon, or None if unknown."""

    def file(self, path: str) -> list[str]:
        """Words of a file (raises OSError if it cannot be read)."""


def read_word_file(path: Path) -> list[str]:
    """One word a line; blank lines and ``#`` comments ignored."""
    words = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        word = line.strip()
        if word and not word.startswith("#"):
            words.append(word)
    return words


class FileWordSource:
    """Lexicons declared in the document; files relative to the rule file's folder."""

    def __init__(self, base_dir: Path, lexicons: dict[str, list[str]]) -> None:
        self.base_dir = base_dir
        self.lexicons = lexicons

    def lexicon(self, name: str) -> list[str] | None:
        return self.lexicons.get(name)

    def file(self, path: str) -> list[str]:
        return read_word_file(self.base_dir / path)


class SnapshotWordSource:
    """A stored rule version's snapshot: ``{"lexicon:NAME": [...], "file:PATH": [...]}``."""

    def __init__(self, snapshot: dict[str, list[str]]) -> None:
        self.snapshot = snapshot

    def lexicon(self, name: str) -> list[str] | None:
        return self.snapshot.get(f"lexicon:{name}")

    def file(self, path: str) -> list[str]:
        try:
            return self.snapshot[f"file:{path}"]
        except KeyError:
            raise OSError(f"{path} is not in the rule version's snapshot") from None
