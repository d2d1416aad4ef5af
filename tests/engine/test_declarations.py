"""Start-up validation of the policy declarations (issue 2, item 5)."""
import dataclasses

import pytest

from service.policies.model import Fact, all_of, is_
from service.policies.registry import (
    DeclarationError,
    find_payer_id,
    load_policies,
    normalize_text,
    read_policy_text,
    validate_policy,
)

POLICIES = load_policies()


def test_five_payers_of_the_contract_are_declared():
    assert sorted(POLICIES) == ["aetna", "bcbsnc", "bcbst", "fepblue", "nanthealth"]


@pytest.mark.parametrize("payer_id", sorted(POLICIES))
def test_every_declaration_validates(payer_id):
    assert validate_policy(POLICIES[payer_id]) == []


def test_a_citation_not_in_the_policy_text_is_rejected():
    policy = POLICIES["aetna"]
    bad = dataclasses.replace(policy, initial=all_of("x", is_("diagnosis", "b-all", "words Aetna never wrote")))
    assert any("citation not found" in p for p in validate_policy(bad))


def test_an_unknown_concept_or_answer_code_is_rejected():
    policy = POLICIES["fepblue"]
    bad = dataclasses.replace(policy, initial=all_of(
        "x", Fact("no-such-concept", "true", True, "1 year of age or older"),
        is_("diagnosis", "leukaemia", "1 year of age or older")))
    problems = validate_policy(bad)
    assert any("unknown concept 'no-such-concept'" in p for p in problems)
    assert any("has no answer code(s) ['leukaemia']" in p for p in problems)


def test_a_test_that_cannot_score_its_concept_is_rejected():
    policy = POLICIES["fepblue"]
    bad = dataclasses.replace(policy, initial=Fact("tki-failed", "at-least", 3, "1 year of age or older"))
    assert any("cannot score boolean" in p for p in validate_policy(bad))


def test_load_policies_raises_naming_the_problem(monkeypatch):
    from service.policies import registry
    real = registry.validate_policy
    monkeypatch.setattr(registry, "validate_policy", lambda p: real(p) + [f"{p.payer_id}: boom"])
    with pytest.raises(DeclarationError, match="aetna: boom"):
        load_policies()


def test_normalize_rejoins_words_broken_across_lines():
    assert normalize_text("hepatic veno-\n\nocclusive **disease**") == "hepatic veno-occlusive disease"


def test_policy_texts_are_the_shared_originals():
    import pathlib
    shared = pathlib.Path(__file__).resolve().parents[3] / "shared" / "policies"
    if not shared.exists():
        pytest.skip("shared/ is not beside this checkout")
    for policy in POLICIES.values():
        assert read_policy_text(policy) == (shared / policy.source_file).read_text(encoding="utf-8")


@pytest.mark.parametrize("identifiers,name,expected", [
    ([{"system": "http://example.org/fhir/sid/payer-id", "value": "bcbst"}], None, "bcbst"),
    ([{"system": "urn:other", "value": "bcbst"}], "Aetna", "aetna"),
    ([], "FEP Blue (Federal Employee Program)", "fepblue"),
    ([{"system": "http://example.org/fhir/sid/payer-id", "value": "cigna"}], "Cigna", None),
    (None, None, None),
])
def test_find_payer_id(identifiers, name, expected):
    assert find_payer_id(identifiers, name) == expected


def test_an_unstated_period_must_be_declared_operational():
    """Issue 21: months the text does not state come from the payer's operations, declared as such."""
    from service.policies.model import OPERATIONS, Period
    policy = POLICIES["aetna"]
    assert {p.source for p in policy.periods.values()} == {OPERATIONS}
    implied = dataclasses.replace(policy, periods={**policy.periods, "initial": Period(None)})
    assert any("declare it operational_period()" in p for p in validate_policy(implied))
    passed_off = dataclasses.replace(policy, periods={**policy.periods, "initial": Period(6, "", OPERATIONS)})
    assert any("takes its months from DEFAULT_AUTH_MONTHS" in p for p in validate_policy(passed_off))
    assert all(p.stated_in_policy and p.cite for p in POLICIES["fepblue"].periods.values())
