"""Properties of the engine over every policy (issue 2): unknown never approves, determinism, monotonicity."""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from service.engine.evaluate import APPROVE, DENY, decide, evaluate_tree, open_concepts, score_response, verdict
from service.policies.concepts import BOOLEAN, CODING, CONCEPTS, DECIMAL, INTEGER
from service.policies.model import concepts_used
from service.policies.registry import load_policies

POLICIES = load_policies()


def answer_values(code: str):
    concept = CONCEPTS[code]
    return {
        INTEGER: st.integers(min_value=0, max_value=90),
        DECIMAL: st.floats(min_value=0, max_value=100, allow_nan=False),
        BOOLEAN: st.booleans(),
        CODING: st.sampled_from([c for c, _ in concept.options]),
    }[concept.answer_type]


@st.composite
def cases(draw):
    payer = draw(st.sampled_from(sorted(POLICIES)))
    policy = POLICIES[payer]
    answers = {}
    for code in concepts_used(policy):
        if draw(st.booleans()):
            answers[code] = draw(answer_values(code))
    return policy, answers


def score(policy, answers):
    return score_response(policy, answers, default_period_months=6)


@settings(max_examples=300, deadline=None)
@given(cases(), st.data())
def test_an_approval_survives_any_answer_to_an_unknown(case, data):
    """Kleene: an approve never rests on an unknown; filling a gap cannot undo it."""
    policy, answers = case
    det = score(policy, answers)
    if det.decision != APPROVE:
        return
    assert all(m.concept in answers for m in det.met)
    missing = [c for c in concepts_used(policy) if c not in answers]
    if missing:
        code = data.draw(st.sampled_from(missing))
        filled = {**answers, code: data.draw(answer_values(code))}
        if code not in {e.when.concept for e in policy.exclusions}:
            assert score(policy, filled).decision == APPROVE


@settings(max_examples=200, deadline=None)
@given(cases(), st.randoms(use_true_random=False))
def test_decisions_are_deterministic(case, rnd: random.Random):
    policy, answers = case
    shuffled = list(answers.items())
    rnd.shuffle(shuffled)
    assert score(policy, answers) == score(policy, dict(shuffled)) == score(policy, answers)


@settings(max_examples=300, deadline=None)
@given(cases(), st.data())
def test_removing_a_fact_never_makes_an_approval(case, data):
    policy, answers = case
    if not answers:
        return
    before = score(policy, answers).decision
    code = data.draw(st.sampled_from(sorted(answers)))
    after = score(policy, {k: v for k, v in answers.items() if k != code}).decision
    if before != APPROVE:
        assert after != APPROVE
    if before == DENY:
        assert after in (DENY, "pend")


@settings(max_examples=200, deadline=None)
@given(cases())
def test_open_concepts_are_unanswered_and_empty_once_decided(case):
    policy, answers = case
    det = score(policy, answers)
    open_ = open_concepts(policy, answers)
    known = {c for c, v in answers.items() if v not in CONCEPTS[c].unknown_codes}
    assert not set(open_) & known  # "not-tested" / "unknown" stay open: a result can still come
    if det.decision == APPROVE:
        assert open_ == []


@settings(max_examples=200, deadline=None)
@given(cases())
def test_every_non_approval_is_explained_with_citations(case):
    policy, answers = case
    det = score(policy, answers)
    if det.decision != APPROVE:
        assert det.reasons and all(r.cite for r in det.reasons)


@settings(max_examples=400, deadline=None)
@given(cases())
def test_decide_is_score_response_without_the_trace(case):
    """CRD's decide() gives score_response's decision, and a denial's very reasons."""
    policy, answers = case
    det = score(policy, answers)
    decision, reasons = decide(policy, answers)
    assert decision == det.decision
    assert reasons == (det.reasons if det.decision == DENY else ())


@settings(max_examples=400, deadline=None)
@given(cases())
def test_the_short_circuit_verdict_is_the_full_evaluation_of_the_root(case):
    policy, answers = case
    for tree in (policy.criteria, policy.criteria_for("initial"), policy.criteria_for("continuation")):
        assert verdict(tree, answers) is evaluate_tree(tree, answers)[id(tree)]
