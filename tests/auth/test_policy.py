"""The permission table and the UM rules (issue 20): who may approve, override, route, deny, read all."""
from __future__ import annotations

import pytest

from service.auth import policy
from service.auth.policy import (
    LOCAL,
    NURSE,
    OPERATOR,
    PAYER_CLIENT,
    PHYSICIAN,
    PROVIDER_CLIENT,
    Principal,
    parse_rules,
    require_decision,
)
from service.auth.scopes import parse_scopes
from service.errors import ApiError

REVIEW_SCOPES = tuple(parse_scopes("system/ClaimResponse.rus"))
WILDCARD = tuple(parse_scopes("system/*.cruds"))


def person(kind: str) -> Principal:
    return Principal(kind, f"{kind}-1", npi="1922334457" if kind == PHYSICIAN else None, csrf="x")


# decision, engine found not met?, kind -> allowed. Derived from UM practice: nurses approve when the
# documentation shows the criteria met; anything adverse or over a not-met finding is a physician's.
TABLE = [
    ("approve", False, NURSE, True), ("approve", True, NURSE, False),
    ("approve", False, PHYSICIAN, True), ("approve", True, PHYSICIAN, True),
    ("approve", False, PAYER_CLIENT, True), ("approve", True, PAYER_CLIENT, False),
    ("deny", True, NURSE, False), ("deny", True, PHYSICIAN, True), ("deny", True, PAYER_CLIENT, False),
    ("request-info", False, NURSE, True), ("request-info", False, PAYER_CLIENT, True),
    ("route-to-physician", True, NURSE, True), ("route-to-physician", True, PAYER_CLIENT, True),
    ("route-to-physician", True, PHYSICIAN, False),
    ("approve", False, OPERATOR, False), ("request-info", False, OPERATOR, False),
    ("approve", False, PROVIDER_CLIENT, False), ("request-info", False, PROVIDER_CLIENT, False),
    ("approve", False, LOCAL, False),
]


@pytest.mark.parametrize(("decision", "not_met", "kind", "allowed"), TABLE)
def test_the_um_rule_table(decision, not_met, kind, allowed):
    who = Principal(kind, "c", "org:payer|1", WILDCARD) if kind.endswith("client") else person(kind)
    findings = ("cd22-positive",) if not_met else ()
    if allowed:
        require_decision(who, decision, findings, "org:clinic|9")
    else:
        with pytest.raises(ApiError) as refused:
            require_decision(who, decision, findings, "org:clinic|9")
        assert refused.value.status == 403


def test_a_nurse_refused_over_a_not_met_finding_is_told_to_route_it():
    with pytest.raises(ApiError) as refused:
        require_decision(person(NURSE), "approve", ("cd22-positive",), None)
    assert "route the case to a physician" in refused.value.message and "cd22-positive" in refused.value.message


def test_no_client_finalizes_its_own_organizations_request():
    mine = Principal(PAYER_CLIENT, "payer-bot", "org:clinic|9", REVIEW_SCOPES)
    with pytest.raises(ApiError) as refused:
        require_decision(mine, "approve", (), "org:clinic|9")
    assert "its own organization" in refused.value.message
    require_decision(mine, "approve", (), "org:other|1")


def test_a_payer_client_needs_the_review_scope_and_a_provider_never_reviews():
    assert not policy.may(Principal(PAYER_CLIENT, "p", None, tuple(parse_scopes("system/Claim.c"))), policy.REVIEW)
    assert policy.may(Principal(PAYER_CLIENT, "p", None, REVIEW_SCOPES), policy.REVIEW)
    assert not policy.may(Principal(PROVIDER_CLIENT, "e", "org:x|1", WILDCARD), policy.REVIEW)
    assert not policy.may(Principal(PROVIDER_CLIENT, "e", "org:x|1", WILDCARD), policy.AUDIT_ALL)


def test_a_payer_may_narrow_the_table_but_never_give_a_provider_a_payers_permission():
    narrowed = parse_rules(f'{{"{policy.APPROVE}": ["physician-reviewer"]}}')
    assert not policy.may(person(NURSE), policy.APPROVE, narrowed)
    with pytest.raises(ValueError, match="provider"):
        parse_rules(f'{{"{policy.APPROVE}": ["provider-client"]}}')
    with pytest.raises(ValueError, match="not a permission"):
        parse_rules('{"approve everything": ["operator"]}')


def test_um_rules_reach_the_desk_and_the_api(tmp_path):
    """A payer that lets only physicians approve says so once (UM_RULES); a bad table stops start-up."""
    from service.config import Settings
    settings = Settings(data_dir=tmp_path, um_rules=f'{{"{policy.APPROVE}": ["physician-reviewer"]}}')
    nurse = policy.with_rules(person(NURSE), settings.um_rules)
    assert not nurse.can("approve") and policy.with_rules(person(PHYSICIAN), settings.um_rules).can("approve")
    with pytest.raises(ApiError):
        require_decision(nurse, "approve", (), None)
    with pytest.raises(ValueError, match="UM_RULES"):
        Settings(data_dir=tmp_path, um_rules=f'{{"{policy.DENY}": ["provider-client"]}}')
