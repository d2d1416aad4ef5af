"""Policy declarations as data: a criteria tree over pa-criteria concepts, each node citing the policy."""
from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from service.policies.concepts import BOOLEAN, CODING, DECIMAL, INTEGER

# Leaf tests. Each compares one concept's answer with a constant.
IS, IN, AT_LEAST, BELOW, AT_MOST, TRUE, FALSE = (
    "is", "in", "at-least", "below", "at-most", "true", "false")


@dataclass(frozen=True)
class LeafTest:
    """One leaf test: how it compares an answer with the declared constant, which answer types it
    can score (start-up validation), how it reads in words (the desk: "<concept> is at least 1";
    a yes/no test: the answer itself), and whether the codes it names can gate other questions
    (the Questionnaire's enableWhen)."""

    compare: Callable[[object, object], bool]
    answer_types: frozenset[str]
    words: str
    codes: Callable[[object], tuple[str, ...]] | None = None


def _number(value: object) -> float:
    """A number the engine compares; answers were type-checked against the concept before scoring."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {type(value).__name__}")
    return value


# The leaf-test registry, read by the engine, the start-up validation and the Questionnaire
# builder: adding an operator is one row.
LEAF_TESTS: dict[str, LeafTest] = {
    IS: LeafTest(operator.eq, frozenset({CODING, INTEGER}), "is", lambda v: (v,) if isinstance(v, str) else ()),
    IN: LeafTest(lambda answer, allowed: isinstance(allowed, tuple) and answer in allowed, frozenset({CODING}),
                 "is one of", lambda v: tuple(v) if isinstance(v, tuple) else ()),
    AT_LEAST: LeafTest(lambda answer, n: _number(answer) >= _number(n), frozenset({INTEGER, DECIMAL}), "is at least"),
    BELOW: LeafTest(lambda answer, n: _number(answer) < _number(n), frozenset({INTEGER, DECIMAL}), "is below"),
    AT_MOST: LeafTest(lambda answer, n: _number(answer) <= _number(n), frozenset({INTEGER, DECIMAL}), "is at most"),
    TRUE: LeafTest(lambda answer, _: answer is True, frozenset({BOOLEAN}), "yes"),
    FALSE: LeafTest(lambda answer, _: answer is False, frozenset({BOOLEAN}), "no"),
}


@dataclass(frozen=True)
class Fact:
    """A leaf: one concept's answer compared with a constant, citing the policy's words."""

    concept: str
    test: str
    value: object
    cite: str


@dataclass(frozen=True)
class Review:
    """A leaf the policy leaves to clinical judgement: never met automatically, so it pends."""

    concept: str
    cite: str


@dataclass(frozen=True)
class AllOf:
    label: str
    children: tuple[Node, ...]
    cite: str = ""


@dataclass(frozen=True)
class AnyOf:
    label: str
    children: tuple[Node, ...]
    cite: str = ""


Node = Fact | Review | AllOf | AnyOf


@dataclass(frozen=True)
class Exclusion:
    """A use the policy names as excluded (experimental, investigational): met means deny."""

    when: Fact
    cite: str


# Where an authorization period comes from: the policy's own words, or the payer's operations
# where the policy states none (issue 21: an unstated period is declared as such, never implied).
STATED, OPERATIONS = "policy", "operations"


@dataclass(frozen=True)
class Period:
    """An authorization period the policy states (months, citing it), or one the payer's operations
    set where the policy states none (months None: the operator's DEFAULT_AUTH_MONTHS)."""

    months: int | None
    cite: str = ""
    source: str = STATED

    @property
    def stated_in_policy(self) -> bool:
        return self.source == STATED


def operational_period() -> Period:
    """The policy states no period: the payer's operations set it (DEFAULT_AUTH_MONTHS, by the operator)."""
    return Period(None, "", OPERATIONS)


@dataclass(frozen=True)
class BillingCode:
    system: str
    code: str
    display: str


ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"

INITIAL, CONTINUATION = "initial", "continuation"


@dataclass(frozen=True)
class Policy:
    """One payer's medical policy for Besponsa, declared once; everything else derives from it."""

    payer_id: str
    payer_name: str
    title: str
    version: str
    source_file: str
    effective: date | None
    initial: Node
    periods: dict[str, Period]
    renewal: Node | None = None
    exclusions: tuple[Exclusion, ...] = ()
    documentation: tuple[str, ...] = ()
    billing_codes: tuple[BillingCode, ...] = ()
    # Policies whose text asks the prescriber to agree to something get a signature item.
    requires_attestation_signature: bool = False
    notes: tuple[str, ...] = field(default=())

    def __hash__(self) -> int:  # a declaration is identified by its payer and version
        return hash((self.payer_id, self.version))

    @cached_property  # a frozen declaration: build the tree once, not on every request
    def criteria(self) -> Node:
        """The whole tree; renewals are judged on their own branch when the policy has one."""
        if self.renewal is None:
            return self.initial
        switch = self.periods[CONTINUATION].cite  # the policy's own words for its renewal terms
        return AnyOf("request", (
            AllOf("initial", (Fact("request-type", IS, INITIAL, switch), self.initial)),
            AllOf("continuation", (Fact("request-type", IS, CONTINUATION, switch), self.renewal)),
        ))

    @cached_property
    def concepts(self) -> tuple[str, ...]:
        """The concepts this policy depends on, in first-use order."""
        return collect_concepts(self)

    def period_for(self, request_type: object) -> Period:
        """The period declared for a request type, as the engine chooses it (initial otherwise)."""
        return self.periods.get(request_type if isinstance(request_type, str) else INITIAL) \
            or self.periods[INITIAL]

    def criteria_for(self, request_type: object) -> Node:
        """The branch a known request type is judged on; the whole tree while it is unknown."""
        if self.renewal is None:
            return self.initial
        if request_type == INITIAL:
            return self.initial
        if request_type == CONTINUATION:
            return self.renewal
        return self.criteria


def walk(node: Node) -> Iterator[Node]:
    """Yield every node of a tree, depth first, parents before children."""
    yield node
    for child in getattr(node, "children", ()):
        yield from walk(child)


def citations(policy: Policy, concept: str) -> list[str]:
    """The policy's words behind a concept, deduplicated in tree order (criteria, then exclusions)."""
    cites = [n.cite for n in walk(policy.criteria) if isinstance(n, (Fact, Review)) and n.concept == concept and n.cite]
    cites += [e.cite for e in policy.exclusions if e.when.concept == concept]
    return list(dict.fromkeys(cites))


def concepts_used(policy: Policy) -> list[str]:
    """The concepts a policy depends on, in first-use order (the Questionnaire's item order)."""
    return list(policy.concepts)


def collect_concepts(policy: Policy) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for node in walk(policy.criteria):
        if isinstance(node, (Fact, Review)):
            seen.setdefault(node.concept, None)
    for exclusion in policy.exclusions:
        seen.setdefault(exclusion.when.concept, None)
    return tuple(seen)


# Small constructors so declarations read like the policy text.
def is_(concept: str, code: object, cite: str) -> Fact:
    return Fact(concept, IS, code, cite)


def one_of(concept: str, codes: tuple[str, ...], cite: str) -> Fact:
    return Fact(concept, IN, tuple(codes), cite)


def at_least(concept: str, n: float, cite: str) -> Fact:
    return Fact(concept, AT_LEAST, n, cite)


def below(concept: str, n: float, cite: str) -> Fact:
    return Fact(concept, BELOW, n, cite)


def at_most(concept: str, n: float, cite: str) -> Fact:
    return Fact(concept, AT_MOST, n, cite)


def yes(concept: str, cite: str) -> Fact:
    return Fact(concept, TRUE, True, cite)


def no(concept: str, cite: str) -> Fact:
    return Fact(concept, FALSE, False, cite)


def all_of(label: str, *children: Node, cite: str = "") -> AllOf:
    return AllOf(label, tuple(children), cite)


def any_of(label: str, *children: Node, cite: str = "") -> AnyOf:
    return AnyOf(label, tuple(children), cite)
