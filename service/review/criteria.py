"""The policy's criteria as the engine judged these answers (Kleene: met / not met / unknown), each with its
citation, and the policy text with every cited passage marked (<mark>, the rest escaped)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape

from markupsafe import Markup

from service.engine.evaluate import check_leaf, evaluate_tree
from service.policies.concepts import CONCEPTS
from service.policies.model import FALSE, LEAF_TESTS, TRUE, AllOf, Fact, Node, Policy, Review, walk
from service.policies.registry import normalize_text
from service.review.case import show_value

STATUS = {True: "met", False: "not met", None: "unknown"}


@dataclass
class CriterionView:
    kind: str  # all | any | fact | review | exclusion
    label: str
    status: str
    cite: str = ""
    passage: str = ""  # the id of the <mark> that quotes the cite
    answer: str = ""
    children: list[CriterionView] = field(default_factory=list)
    off_path: bool = False  # a branch of an "any" another met branch already decides: shown folded


def describe_fact(fact: Fact) -> str:
    """A leaf test in words: 'CD22 status is Positive', 'Patient age in years is at least 1'."""
    concept = CONCEPTS[fact.concept]
    words = LEAF_TESTS[fact.test].words  # the leaf-test registry's row says how the test reads
    if fact.test in (TRUE, FALSE):
        return f"{concept.display}: {words}"
    values = fact.value if isinstance(fact.value, tuple) else (fact.value,)
    shown = " or ".join(show_value(fact.concept, v) for v in values)
    return f"{concept.display} {words} {shown}"


def judge(policy: Policy, answers: Mapping[str, object], anchors: Mapping[str, str]) -> CriterionView:
    """The branch the request is judged on (evaluate_tree), as nested views."""
    tree = policy.criteria_for(answers.get("request-type"))
    values = evaluate_tree(tree, answers)

    def view(node: Node) -> CriterionView:
        status = STATUS[values[id(node)]]
        if isinstance(node, Fact):
            return CriterionView("fact", describe_fact(node), status, node.cite, anchors.get(node.cite, ""),
                                 show_value(node.concept, answers.get(node.concept)))
        if isinstance(node, Review):  # left to clinical judgement: never met automatically
            return CriterionView("review", f"{CONCEPTS[node.concept].display}: a clinician's judgement", status,
                                 node.cite, anchors.get(node.cite, ""), show_value(node.concept, answers.get(node.concept)))
        kind = "all" if isinstance(node, AllOf) else "any"
        children = [view(c) for c in node.children]
        if kind == "any" and any(c.status == STATUS[True] for c in children):
            for child in children:  # off the deciding path: the reviewer unfolds it if they want
                child.off_path = child.status != STATUS[True]
        return CriterionView(kind, node.label, status, node.cite, anchors.get(node.cite, ""), "", children)

    return view(tree)


def judge_exclusions(policy: Policy, answers: Mapping[str, object], anchors: Mapping[str, str]) -> list[CriterionView]:
    """Each use the policy excludes: 'excluded' when these answers show it."""
    words = {True: "excluded", False: "not excluded", None: "unknown"}
    return [CriterionView("exclusion", describe_fact(e.when), words[check_leaf(e.when, answers)], e.cite,
                          anchors.get(e.cite, ""), show_value(e.when.concept, answers.get(e.when.concept)))
            for e in policy.exclusions]


def policy_cites(policy: Policy) -> list[str]:
    """Every passage the declaration cites: criteria, exclusions, stated authorization periods."""
    cites = [n.cite for n in walk(policy.criteria) if getattr(n, "cite", "")]
    cites += [e.cite for e in policy.exclusions] + [p.cite for p in policy.periods.values() if p.months is not None]
    return list(dict.fromkeys(c for c in cites if c))


def substitute(pattern: str, repl: str, text: str, origin: list[int]) -> tuple[str, list[int]]:
    """re.sub that also carries, for each output character, the raw offset it came from."""
    out, where, last = [], [], 0
    for found in re.finditer(pattern, text):
        out.append(text[last:found.start()])
        where += origin[last:found.start()]
        out.append(repl)
        where += [origin[found.start()]] * len(repl)
        last = found.end()
    out.append(text[last:])
    where += origin[last:]
    return "".join(out), where


def normalize_mapped(raw: str) -> tuple[str, list[int]]:
    """registry.normalize_text step by step, keeping each character's offset in the raw text."""
    chars, origin, i = [], [], 0
    while i < len(raw):
        if raw.startswith("**", i):
            i += 2
            continue
        chars.append(" " if raw[i] == "\u00a0" else raw[i])
        origin.append(i)
        i += 1
    text, origin = substitute(r"(?<=\w)-\s*\n\s*", "-", "".join(chars), origin)
    return substitute(r"\s+", " ", text, origin)


def find_passages(raw: str, cites: list[str]) -> tuple[list[tuple[int, int]], dict[str, int]]:
    """Raw spans quoting the cites (overlaps merged), and for each cite the span of its first quote."""
    norm, origin = normalize_mapped(raw)
    spans: list[tuple[int, int, str]] = []
    first: dict[str, int] = {}
    for cite in cites:
        needle, at = normalize_text(cite).strip(), 0
        while needle and (at := norm.find(needle, at)) >= 0:
            spans.append((origin[at], origin[at + len(needle) - 1] + 1, cite))
            at += len(needle)
    merged: list[list[int]] = []
    for start, end, _ in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, _, cite in sorted(spans):
        first.setdefault(cite, next(k for k, (s, e) in enumerate(merged) if s <= start < e))
    return [(s, e) for s, e in merged], first


def highlight(raw: str, cites: list[str]) -> tuple[Markup, dict[str, str]]:
    """The policy text as escaped HTML with <mark id="passage-N"> around each cited passage."""
    spans, first = find_passages(raw, cites)
    html, last = [], 0
    for n, (start, end) in enumerate(spans, 1):
        html.append(escape(raw[last:start]))
        html.append(f'<mark id="passage-{n}">{escape(raw[start:end])}</mark>')
        last = end
    html.append(escape(raw[last:]))
    return Markup("".join(html)), {cite: f"passage-{k + 1}" for cite, k in first.items()}
