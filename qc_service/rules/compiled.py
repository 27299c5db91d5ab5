"""A loaded rule set, ready to evaluate: condition trees, compiled operators, one automaton.

Why compile: the rule file is validated once, every keyword/allow phrase of every rule goes
into one automaton, and every regex is compiled once, so evaluating a conversation is a single
scan plus cheap per-rule dispatch. A ``RuleSet`` is immutable once built; lanes swap whole
rule sets, never half-loaded ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qc_service.rules.matcher import Hit, Matcher
from qc_service.rules.model import Action, Conversation
from qc_service.rules.normalize import NormalizedBatch, normalize_batch
from qc_service.rules.registry import MessageHits, OperatorSpec


@dataclass(eq=False, slots=True)
class Leaf:
    """One operator use inside a rule."""

    op: str
    spec: OperatorSpec
    params: dict[str, Any]
    role: str
    path: str
    index: int = -1
    children: dict[str, Node] = field(default_factory=dict)
    compiled: dict[str, Any] = field(default_factory=dict)

    @property
    def level(self) -> str:
        """``message`` or ``conversation``."""
        return self.spec.level


@dataclass(eq=False, slots=True)
class AllOf:
    """Every child holds (same message, for message-level children)."""

    children: list[Node]
    path: str

    @property
    def level(self) -> str:
        """Conversation-level as soon as one child is."""
        return _combined_level(self.children)


@dataclass(eq=False, slots=True)
class AnyOf:
    """Some child holds."""

    children: list[Node]
    path: str

    @property
    def level(self) -> str:
        """Conversation-level as soon as one child is."""
        return _combined_level(self.children)


@dataclass(eq=False, slots=True)
class NotOf:
    """The child does not hold."""

    child: Node
    path: str

    @property
    def level(self) -> str:
        """The child's level."""
        return self.child.level


Node = Leaf | AllOf | AnyOf | NotOf


def _combined_level(children: list[Node]) -> str:
    return "conversation" if any(c.level == "conversation" for c in children) else "message"


_GATED_OPERATORS = frozenset({"keyword", "near"})


def required_leaves(node: Node | None) -> frozenset[int] | None:
    """The gate of a condition: leaves one of which must have hits for it to hold, or None."""
    if node is None:
        return None
    if isinstance(node, Leaf):
        if (
            node.op in _GATED_OPERATORS
            and "error" not in node.compiled
            and not node.params.get("pinyin")
        ):
            return frozenset({node.index})
        return None
    if isinstance(node, NotOf):
        return None
    gates = [required_leaves(child) for child in node.children]
    if isinstance(node, AnyOf):
        if any(g is None for g in gates):
            return None
        return frozenset().union(*[g for g in gates if g is not None])
    known = [g for g in gates if g is not None]
    return min(known, key=len) if known else None


def _is_lexical_message_level(node: Node) -> bool:
    return node.level == "message" and all(leaf.spec.lexical for leaf in iter_leaves(node))


def hot_projection(node: Node | None) -> Node | None:
    """The part of a condition the hot lane can decide on its own (see ``CompiledRule.hot_when``)."""
    if node is None:
        return None
    if _is_lexical_message_level(node):
        return node
    if isinstance(node, AnyOf):
        lexical = [c for c in node.children if _is_lexical_message_level(c)]
        if lexical:
            return AnyOf(lexical, node.path)
    return None


def iter_leaves(node: Node | None) -> list[Leaf]:
    """Every leaf of a condition tree, nested condition parameters included."""
    if node is None:
        return []
    if isinstance(node, Leaf):
        out = [node]
        for child in node.children.values():
            out.extend(iter_leaves(child))
        return out
    if isinstance(node, NotOf):
        return iter_leaves(node.child)
    out = []
    for child in node.children:
        out.extend(iter_leaves(child))
    return out


@dataclass(eq=False, slots=True)
class CompiledRule:
    """One rule version, validated and compiled."""

    id: str
    name: str
    kind: str
    severity: str
    deduct: int
    fatal: bool
    when: Node | None
    actions: list[Action]
    enabled: bool = True
    channels: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    tag: str | None = None
    version: int = 1
    definition: dict[str, Any] = field(default_factory=dict)
    lexicons: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    hot_when: Node | None = None
    """What the hot lane evaluates: the whole condition when the rule is hot, else the lexical
    branches of a top-level ``any`` (None: the rule waits for the deep lane)."""
    gate: frozenset[int] | None = None
    """Leaf indexes of which at least one must have automaton hits for the rule to fire
    (None: the rule must always be evaluated). Lets a conversation skip most rules at once."""

    def applies_to(self, conversation: Conversation) -> bool:
        """Scope check: channel and team."""
        if self.channels and conversation.channel not in self.channels:
            return False
        return not (self.teams and conversation.team not in self.teams)

    @property
    def leaves(self) -> list[Leaf]:
        """All operator uses of this rule."""
        return iter_leaves(self.when)

    @property
    def hot(self) -> bool:
        """Whether the hot lane can evaluate this rule: message-level and lexical throughout."""
        return self.when is not None and _is_lexical_message_level(self.when)


@dataclass(slots=True)
class LexicalIndex:
    """Every folded pattern of the rule set in one automaton, and who owns each pattern.

    ``owners[p]`` lists ``(leaf index, role)`` for pattern ``p``; role is ``"word"``,
    ``"allow"``, ``"a"`` or ``"b"``.
    """

    matcher: Matcher
    owners: list[list[tuple[int, str]]]
    raw_matcher: Matcher
    raw_owners: list[list[tuple[int, str]]]


@dataclass(slots=True)
class EvalContext:
    """Everything the operators of one conversation share: the batch, hits, eligibility."""

    conversation: Conversation
    batch: NormalizedBatch
    hits: dict[int, dict[str, list[Hit]]]
    """Leaf index → pattern role → hits (already boundary-checked)."""
    features: dict[str, Any] = field(default_factory=dict)
    budget_seconds: float = 0.5
    """Per-rule evaluation budget on one conversation; a rule over it reports an error."""
    errors: list[str] = field(default_factory=list)
    """Branches of an ``any`` that could not be evaluated while another branch held."""
    evaluate_messages: Callable[[Node, EvalContext], MessageHits] | None = None
    """The evaluator's message-level evaluation, for operators that take conditions (set by
    ``evaluator.evaluate_rule``: operators cannot import the evaluator without a cycle)."""
    cache: dict[str, Any] = field(default_factory=dict)
    """Per-conversation memo of operators (turns, the pinyin view)."""

    def eligible(self, role: str) -> list[int]:
        """Indexes of messages a leaf with this role looks at (system messages never count)."""
        key = f"eligible:{role}"
        found: list[int] | None = self.cache.get(key)
        if found is None:
            msgs = self.conversation.messages
            if role == "any":
                found = [i for i, m in enumerate(msgs) if m.role != "system"]
            else:
                found = [i for i, m in enumerate(msgs) if m.role == role]
            self.cache[key] = found
        return found


def build_context(
    conversation: Conversation, index: LexicalIndex, features: dict[str, Any] | None = None
) -> EvalContext:
    """Normalize the conversation once and dispatch every automaton hit to its leaf."""
    texts = [m.text for m in conversation.messages]
    batch = normalize_batch(texts)
    hits: dict[int, dict[str, list[Hit]]] = {}
    for hit in index.matcher.find(batch):
        for leaf_index, role in index.owners[hit.pattern]:
            hits.setdefault(leaf_index, {}).setdefault(role, []).append(hit)
    if index.raw_matcher.patterns:
        raw = NormalizedBatch.identity(texts)
        for hit in index.raw_matcher.find(raw):
            for leaf_index, role in index.raw_owners[hit.pattern]:
                hits.setdefault(leaf_index, {}).setdefault(role, []).append(hit)
    return EvalContext(conversation, batch, hits, features or {})


@dataclass(slots=True)
class RuleSet:
    """A whole, immutable rule set: rules, scorecard settings and the lexical index."""

    rules: list[CompiledRule]
    pass_mark: int
    index: LexicalIndex
    source: str = ""
    budget_seconds: float = 0.5
    """Per-rule evaluation budget on one conversation (see ``EvalContext.budget_seconds``)."""
    _by_id: dict[str, CompiledRule] = field(default_factory=dict, repr=False)
    segments: list[Any] = field(default_factory=list)
    """The document's segments (``rules.segment_lang.SegmentDef``), published with the rules."""

    def get(self, rule_id: str) -> CompiledRule:
        """The rule with that id."""
        if len(self._by_id) != len(self.rules):
            self._by_id = {rule.id: rule for rule in self.rules}
        return self._by_id[rule_id]

    def exclusive_groups(self) -> dict[str, set[str]]:
        """Exclusive group name → the tags of its rules (a ``qa`` rule: every tag of its map)."""
        groups: dict[str, set[str]] = {}
        for rule in self.rules:
            group = rule.extra.get("exclusive_group")
            if not group:
                continue
            tags = {rule.tag} if rule.tag else set()
            qa = rule.extra.get("qa")
            if isinstance(qa, dict):
                tags |= {str(item["tag"]) for item in qa.get("map", []) if isinstance(item, dict)}
            groups.setdefault(str(group), set()).update(tags)
        return groups

    def context(
        self, conversation: Conversation, features: dict[str, Any] | None = None
    ) -> EvalContext:
        """Prepare a conversation for evaluation."""
        ctx = build_context(conversation, self.index, features)
        ctx.budget_seconds = self.budget_seconds
        return ctx


def index_leaves(leaves: list[Leaf]) -> LexicalIndex:
    """Number the leaves and put every folded pattern of theirs in one automaton (rules and
    segments' ``said`` conditions each get their own)."""
    folded_ids: dict[str, int] = {}
    raw_ids: dict[str, int] = {}
    owners: list[list[tuple[int, str]]] = []
    raw_owners: list[list[tuple[int, str]]] = []
    for counter, leaf in enumerate(leaves):
        leaf.index = counter
        for role, word, raw in leaf.compiled.get("patterns", []):
            ids, own = (raw_ids, raw_owners) if raw else (folded_ids, owners)
            pid = ids.setdefault(word, len(ids))
            if pid == len(own):
                own.append([])
            if (leaf.index, role) not in own[pid]:
                own[pid].append((leaf.index, role))
    return LexicalIndex(Matcher(list(folded_ids)), owners, Matcher(list(raw_ids)), raw_owners)
