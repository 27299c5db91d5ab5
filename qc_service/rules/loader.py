"""Load a rule file (YAML or JSON) into a validated, compiled ``RuleSet``.

Lexicon names and word files resolve through ``rules.word_sources`` (files on disk for a rule
file, a snapshot for a stored version).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from qc_service.rules import operators  # noqa: F401  (registers every operator)
from qc_service.rules.compiled import (
    CompiledRule,
    LexicalIndex,
    Node,
    RuleSet,
    hot_projection,
    index_leaves,
    iter_leaves,
    required_leaves,
)
from qc_service.rules.conditions import ConditionParser
from qc_service.rules.errors import RuleError, RuleValidationError
from qc_service.rules.model import SEVERITIES
from qc_service.rules.normalize import fold_word
from qc_service.rules.rule_parts import (
    check_aggregate,
    check_group,
    check_id,
    check_qa,
    parse_actions,
    parse_scope,
)
from qc_service.rules.segment_lang import SegmentParser
from qc_service.rules.segment_model import SegmentDef
from qc_service.rules.word_sources import FileWordSource, SnapshotWordSource, WordSource

TOP_KEYS = {"version", "scorecard", "lexicons", "rules", "segments"}
RULE_KEYS = {
    "id", "name", "description", "kind", "severity", "deduct", "fatal", "scope", "when",
    "actions", "enabled", "tag", "aggregate", "qa", "group", "exclusive_group",
}  # fmt: skip
TAG_ONLY_KEYS = ("tag", "aggregate", "qa", "group", "exclusive_group")
DEFAULT_PASS_MARK = 60


class _Loader:
    def __init__(self, source_name: str, base_dir: Path) -> None:
        self.source_name = source_name
        self.base_dir = base_dir
        self.errors: list[RuleError] = []
        self.rule_id: str | None = None
        self.used: dict[str, list[str]] = {}
        self.words_source: WordSource = FileWordSource(base_dir, {})

    def report(self, path: str, message: str) -> None:
        self.errors.append(RuleError(self.source_name, self.rule_id, path, message))

    # -- words -------------------------------------------------------------------------
    def resolve_words(self, value: Any, path: str) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            value = {"words": value}
        if not isinstance(value, dict):
            self.report(path, "words must be a list, or a mapping of words, lexicon and file")
            return []
        unknown = set(value) - {"words", "lexicon", "file"}
        if unknown:
            self.report(
                path, f"unknown key(s) {', '.join(sorted(unknown))} (known: words, lexicon, file)"
            )
            return []
        words: list[str] = []
        raw_words = value.get("words", [])
        if not isinstance(raw_words, list) or not all(isinstance(w, str) for w in raw_words):
            self.report(f"{path}.words", "words must be a list of strings")
            return []
        words.extend(raw_words)
        names = value.get("lexicon", [])
        for name in [names] if isinstance(names, str) else names:
            found = self.words_source.lexicon(name)
            if found is None:
                self.report(f"{path}.lexicon", f"unknown lexicon {name!r}")
                return []
            self.used[f"lexicon:{name}"] = found
            words.extend(found)
        if "file" in value:
            fname = value["file"]
            try:
                found = self.words_source.file(fname)
            except OSError as exc:
                self.report(f"{path}.file", f"cannot read word file {fname!r}: {exc}")
                return []
            self.used[f"file:{fname}"] = found
            words.extend(found)
        cleaned = list(dict.fromkeys(w.strip() for w in words if w.strip()))
        for w in cleaned:
            if not fold_word(w):
                self.report(path, f"word {w!r} has no letters or digits to match")
                return []
        if not cleaned:
            self.report(path, "no words given")
        return cleaned

    # -- document ------------------------------------------------------------------------
    def load(
        self, doc: Any, snapshot: dict[str, dict[str, list[str]]] | None,
        known_rules: set[str] | None = None, known_segments: set[str] | None = None,
        segment_snapshot: dict[str, dict[str, list[str]]] | None = None,
    ) -> RuleSet:  # fmt: skip
        if not isinstance(doc, dict):
            self.report("(top)", "a rule file is a mapping with version and rules")
            raise RuleValidationError(self.errors)
        for key in doc:
            if key not in TOP_KEYS:
                self.report(key, f"unknown key (known: {', '.join(sorted(TOP_KEYS))})")
        if doc.get("version", 1) != 1:
            self.report("version", "only version 1 of the rule language exists")
        pass_mark = self._pass_mark(doc.get("scorecard"))
        lexicons = self._lexicons(doc.get("lexicons") or {})
        rules_data = doc.get("rules")
        if not isinstance(rules_data, list):
            self.report("rules", "rules must be a list")
            raise RuleValidationError(self.errors)
        rules: list[CompiledRule] = []
        seen: set[str] = set()
        for i, data in enumerate(rules_data):
            self.rule_id = data.get("id") if isinstance(data, dict) else None
            if snapshot is not None and isinstance(self.rule_id, str):
                self.words_source = SnapshotWordSource(snapshot.get(self.rule_id, {}))
            else:
                self.words_source = FileWordSource(self.base_dir, lexicons)
            rule = self._rule(data, f"rules[{i}]", seen)
            if rule is not None:
                rules.append(rule)
        self.rule_id = None
        rule_ids = None if snapshot is not None else {r.id for r in rules} | (known_rules or set())
        segments = self._segments(doc.get("segments"), rule_ids, known_segments, lexicons,
                                  segment_snapshot)  # fmt: skip
        if self.errors:
            raise RuleValidationError(self.errors)
        ruleset = RuleSet(rules, pass_mark, self._index(rules), source=self.source_name)
        ruleset.segments = segments
        return ruleset

    def _segments(
        self, data: Any, rule_ids: set[str] | None, known_segments: set[str] | None,
        lexicons: dict[str, list[str]], snapshot: dict[str, dict[str, list[str]]] | None,
    ) -> list[SegmentDef]:  # fmt: skip
        """``segments:``: validated with the same report (the segment id names the error);
        ``hit`` checks rule ids against this document's rules and the tenant's stored ones
        (``rule_ids`` None: a stored version, checked when it was published)."""
        used: dict[str, dict[str, list[str]]] = {}
        current: list[str | None] = [None]

        def set_segment(sid: str | None) -> None:
            if current[0] is not None:
                used[current[0]] = dict(self.used)
            self.used, current[0], self.rule_id = {}, sid, sid
            self.words_source = (
                SnapshotWordSource(snapshot.get(sid or "", {})) if snapshot is not None
                else FileWordSource(self.base_dir, lexicons)
            )  # fmt: skip

        segments = SegmentParser(self.report, self.resolve_words, set_segment, rule_ids,
                                 known_segments).parse_all(data)  # fmt: skip
        for seg in segments:
            seg.lexicons = used.get(seg.id, {})
            conds = [leaf.cond for leaf in seg.leaves() if leaf.cond is not None]
            for cond in conds:
                self._compile(cond)
            seg.index = index_leaves([leaf for c in conds for leaf in iter_leaves(c)])
        return segments

    def _pass_mark(self, data: Any) -> int:
        if data is None:
            return DEFAULT_PASS_MARK
        if not isinstance(data, dict) or set(data) - {"pass_mark"}:
            self.report("scorecard", "scorecard takes only pass_mark")
            return DEFAULT_PASS_MARK
        mark = data.get("pass_mark", DEFAULT_PASS_MARK)
        if not isinstance(mark, int) or isinstance(mark, bool) or not 0 <= mark <= 100:
            self.report("scorecard.pass_mark", "pass_mark must be an integer 0..100")
            return DEFAULT_PASS_MARK
        return mark

    def _lexicons(self, data: Any) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        if not isinstance(data, dict):
            self.report("lexicons", "lexicons is a mapping of name → {words, file}")
            return out
        self.words_source = FileWordSource(self.base_dir, {})
        for name, body in data.items():
            if not isinstance(body, dict | list):
                self.report(f"lexicons.{name}", "a lexicon is {words: [...], file: path}")
                continue
            if isinstance(body, dict) and "lexicon" in body:
                self.report(f"lexicons.{name}.lexicon", "a lexicon cannot include another lexicon")
                continue
            words = self.resolve_words(body, f"lexicons.{name}")
            out[str(name)] = words
        self.used = {}
        return out

    def _rule(self, data: Any, path: str, seen: set[str]) -> CompiledRule | None:
        self.used = {}
        if not isinstance(data, dict):
            self.report(path, "a rule is a mapping")
            return None
        before = len(self.errors)
        rid = data.get("id")
        check_id(rid, f"{path}.id", seen, "rule", self.report)
        for key in data:
            if key not in RULE_KEYS:
                self.report(f"{path}.{key}", f"unknown key (known: {', '.join(sorted(RULE_KEYS))})")
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            self.report(f"{path}.name", "name is required")
        kind = data.get("kind", "violation")
        if kind not in ("violation", "tag"):
            self.report(f"{path}.kind", "kind must be violation or tag")
        if kind != "tag":
            for key in TAG_ONLY_KEYS:
                if key in data:
                    self.report(f"{path}.{key}", f"{key} belongs to tag rules (kind: tag)")
        elif not any(k in data for k in ("tag", "qa", "group")):
            self.report(f"{path}.tag", "a tag rule names its tag (tag:, or qa/group mappings)")
        severity = data.get("severity", "medium")
        if severity not in SEVERITIES:
            self.report(f"{path}.severity", f"severity must be one of {', '.join(SEVERITIES)}")
        deduct = data.get("deduct", 0)
        if not isinstance(deduct, int) or isinstance(deduct, bool) or not 0 <= deduct <= 100:
            self.report(f"{path}.deduct", "deduct must be an integer 0..100")
        for flag in ("fatal", "enabled"):
            if flag in data and not isinstance(data[flag], bool):
                self.report(f"{path}.{flag}", f"{flag} must be true or false")
        channels, teams = parse_scope(data.get("scope"), f"{path}.scope", self.report)
        actions = parse_actions(data.get("actions", []), f"{path}.actions", self.report)
        when = None
        if "when" in data:
            parser = ConditionParser(self.report, self.resolve_words)
            when = parser.parse(data["when"], f"{path}.when")
        elif not (kind == "tag" and any(k in data for k in ("qa", "group"))):
            self.report(f"{path}.when", "when is required (only qa/group tag rules may omit it)")
        if "group" in data:
            check_group(data["group"], f"{path}.group", data.get("tag"), self.report)
        if "aggregate" in data:
            check_aggregate(data["aggregate"], f"{path}.aggregate", self.report)
        question = None
        if "qa" in data and kind == "tag":
            parser = ConditionParser(self.report, self.resolve_words)
            question = check_qa(
                data["qa"],
                f"{path}.qa",
                self.report,
                lambda d, p: parser.parse(d, p, message_level=True),
            )
            for key in ("tag", "aggregate", "group"):
                if key in data:
                    self.report(
                        f"{path}.{key}", f"{key} does not combine with qa (its tags are in qa.map)"
                    )
        tag = data.get("tag")
        if tag is not None and (not isinstance(tag, str) or not tag.strip()):
            self.report(f"{path}.tag", "tag must be a non-empty string")
        if when is not None:
            self._compile(when)
        if question is not None:
            self._compile(question)
        if len(self.errors) > before:
            return None
        rule = CompiledRule(
            id=str(rid), name=str(name), kind=kind, severity=severity, deduct=deduct,
            fatal=bool(data.get("fatal", False)), when=when, actions=actions,
            enabled=bool(data.get("enabled", True)), channels=channels, teams=teams,
            tag=tag, definition=dict(data), lexicons=dict(self.used),
            extra={k: data[k] for k in ("aggregate", "qa", "group", "exclusive_group") if k in data},
        )  # fmt: skip
        if question is not None:
            rule.extra["qa_question"] = question  # compiled; its leaves join the lexical index
        return rule

    def _compile(self, when: Node) -> None:
        for leaf in iter_leaves(when):
            if leaf.spec.compiler is not None:
                leaf.compiled["patterns"] = leaf.spec.compiler(leaf, self.report)

    def _index(self, rules: list[CompiledRule]) -> LexicalIndex:
        index = index_leaves(
            [
                leaf
                for rule in rules
                for leaf in rule.leaves + iter_leaves(rule.extra.get("qa_question"))
            ]
        )
        for rule in rules:
            rule.gate = required_leaves(rule.when)
            if rule.when is None and "qa_question" in rule.extra:
                rule.gate = required_leaves(rule.extra["qa_question"])
            rule.hot_when = hot_projection(rule.when)
        return index


def load_rules_data(
    doc: Any,
    *,
    source_name: str = "<rules>",
    base_dir: Path | None = None,
    snapshot: dict[str, dict[str, list[str]]] | None = None,
    known_rules: set[str] | None = None,
    known_segments: set[str] | None = None,
    segment_snapshot: dict[str, dict[str, list[str]]] | None = None,
) -> RuleSet:
    """Validate and compile a parsed rule document.

    ``snapshot`` (rule id → lexicon snapshot) rebuilds stored versions without reading files;
    ``known_rules`` / ``known_segments`` are the tenant's stored ids a segment may refer to;
    ``segment_snapshot`` (segment id → lexicon snapshot) rebuilds stored segment versions.
    """
    return _Loader(source_name, base_dir or Path.cwd()).load(
        doc, snapshot, known_rules, known_segments, segment_snapshot
    )


def parse_rules_text(text: str, source_name: str) -> Any:
    """YAML (a superset of JSON) → data, with a located error on syntax problems."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(top)"
        raise RuleValidationError(
            [RuleError(source_name, None, where, f"not valid YAML: {exc}")]
        ) from None


def load_rules_text(
    text: str, *, source_name: str = "<rules>", base_dir: Path | None = None
) -> RuleSet:
    """Load rules from YAML/JSON text."""
    return load_rules_data(
        parse_rules_text(text, source_name), source_name=source_name, base_dir=base_dir
    )


def load_rules_file(path: str | Path) -> RuleSet:
    """Load a rule file; lexicon files resolve relative to it."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleValidationError(
            [RuleError(str(p), None, "(file)", f"cannot read: {exc}")]
        ) from None
    return load_rules_text(text, source_name=str(p), base_dir=p.parent)


PACK_DIR = Path(__file__).parent / "packs"


def builtin_pack_path() -> Path:
    """The built-in rule pack, active in a fresh store and the default of ``qc analyze``."""
    return PACK_DIR / "default.yaml"


def load_builtin_pack() -> RuleSet:
    """Load the built-in rule pack."""
    return load_rules_file(builtin_pack_path())
