"""Load errors that name the file, the rule id and the key path.

Why collect instead of raising at the first problem: an admin fixing a rule file wants every
mistake at once, each pointing at the exact key (``rules[3].when.any[0].keyword.min_count``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RuleError:
    """One problem in a rule file."""

    file: str
    rule_id: str | None
    path: str
    message: str

    def __str__(self) -> str:
        what = "segment" if self.path.startswith("segments") else "rule"
        rule = f" {what} {self.rule_id}:" if self.rule_id else ""
        return f"{self.file}:{rule} {self.path}: {self.message}"


class RuleValidationError(Exception):
    """A rule file cannot be used; ``errors`` lists every problem found."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))

    @property
    def first(self) -> RuleError:
        """The first problem (for single-error APIs)."""
        return self.errors[0]
