"""Who may do what (issue 20): one Principal for every caller, one permission table, the UM rules.

Utilization-management practice as data (URAC/NCQA UM standards; CMS-0057-F): a nurse reviewer
approves when the documentation shows the criteria met; anything adverse, and any approval over a
criterion the engine found not met, is a physician reviewer's; a payer's system may approve, ask for
information or route, never deny. Provider systems decide nothing, and no client finalizes a request
its own organization submitted. This module is the only place that answers "may this caller ...".
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from service.auth.scopes import Scope, permits
from service.errors import forbidden

# Kinds of principal: two of API client, three of person (the desk's roles), and the local operator
# of a service with authorization switched off (AUTH_DISABLED: a developer's machine).
PROVIDER_CLIENT, PAYER_CLIENT = "provider-client", "payer-client"
NURSE, PHYSICIAN, OPERATOR = "nurse-reviewer", "physician-reviewer", "operator"
LOCAL = "local"
CLIENT_KINDS = {"provider": PROVIDER_CLIENT, "payer": PAYER_CLIENT}  # SMART_CLIENTS "kind" -> principal kind
PEOPLE = (NURSE, PHYSICIAN, OPERATOR)
KINDS = (PROVIDER_CLIENT, PAYER_CLIENT, *PEOPLE, LOCAL)

# Permissions: what a route or an action asks for.
REVIEW = "review pended requests"  # the queue and the case pages: every organization's requests
APPROVE = "approve a request whose criteria are met or still open"
OVERRIDE = "approve over a criterion the engine found not met"
REQUEST_INFO = "ask the provider for information"
ROUTE = "route a case to a physician reviewer"
DENY = "deny a request"
REPORT = "read the prior-authorization report"
AUDIT_ALL = "read every organization's access trail"
PEER_TO_PEER = "record a peer-to-peer review on a case"

# The table: permission -> the kinds that hold it. A payer may narrow it (UM_RULES); nothing may
# give a provider's system a payer's permission (checked at start-up, see check_rules).
RULES: Mapping[str, frozenset[str]] = MappingProxyType({
    REVIEW: frozenset({NURSE, PHYSICIAN, PAYER_CLIENT}),
    APPROVE: frozenset({NURSE, PHYSICIAN, PAYER_CLIENT}),
    OVERRIDE: frozenset({PHYSICIAN}),
    REQUEST_INFO: frozenset({NURSE, PHYSICIAN, PAYER_CLIENT}),
    ROUTE: frozenset({NURSE, PAYER_CLIENT}),
    DENY: frozenset({PHYSICIAN}),
    # Medical directors read the UM numbers too, and follow a count to its cases (issue 22).
    REPORT: frozenset({OPERATOR, PHYSICIAN, PAYER_CLIENT, LOCAL}),
    AUDIT_ALL: frozenset({OPERATOR, PAYER_CLIENT, LOCAL}),
    PEER_TO_PEER: frozenset({NURSE, PHYSICIAN}),  # the desk's people only (issue 22): no system, no operator
})
SHORT = {"review": REVIEW, "approve": APPROVE, "override": OVERRIDE, "request-info": REQUEST_INFO,
         "route": ROUTE, "deny": DENY, "report": REPORT, "audit": AUDIT_ALL,
         "peer-to-peer": PEER_TO_PEER}  # templates' names
# A payer client's scope that grants the reviewer API (contract: system/ClaimResponse.u).
REVIEW_SCOPE = ("ClaimResponse", "u")
HOME = {NURSE: "/review", PHYSICIAN: "/review", OPERATOR: "/reports/prior-authorization"}
WORDS = {PROVIDER_CLIENT: "provider system", PAYER_CLIENT: "payer system", NURSE: "nurse reviewer",
         PHYSICIAN: "physician reviewer", OPERATOR: "operator", LOCAL: "local user (authorization off)"}


@dataclass(frozen=True)
class Principal:
    """Who is calling: a client (by its registration) or a person (by their desk account).

    `owner` is the organization a client acts for, whose requests it sees; payer staff have none.
    `csrf` is the desk session's synchronizer token (people only).
    """

    kind: str
    id: str
    owner: str | None = None
    scopes: tuple[Scope, ...] = ()
    npi: str | None = None
    csrf: str | None = None
    # The payer's table (UM_RULES over RULES), carried so every check on this caller reads the same one.
    rules: Mapping[str, frozenset[str]] = field(default_factory=lambda: RULES, compare=False, repr=False)

    @property
    def is_person(self) -> bool:
        return self.kind in PEOPLE

    @property
    def client_id(self) -> str:
        return self.id

    @property
    def role(self) -> str:
        return self.kind

    @property
    def username(self) -> str:
        return self.id

    def can(self, name: str) -> bool:
        """For pages: may(self, SHORT[name]) — "review", "approve", "override", "deny", "report", "audit"."""
        return may(self, SHORT[name], self.rules)

    def describe(self) -> str:
        """'physician reviewer drlee', 'payer system um-engine': how the record names who decided."""
        return f"{WORDS.get(self.kind, self.kind)} {self.id}"


def may(principal: Principal, permission: str, rules: Mapping[str, frozenset[str]] | None = None) -> bool:
    """Whether the principal's kind holds the permission; a payer client also needs the scope."""
    table = principal.rules if rules is None else rules
    if principal.kind not in table.get(permission, frozenset()):
        return False
    if principal.kind == PAYER_CLIENT and permission in (REVIEW, APPROVE, OVERRIDE, REQUEST_INFO, ROUTE, DENY):
        return permits(list(principal.scopes), *REVIEW_SCOPE)
    return True


def require(principal: Principal, permission: str, rules: Mapping[str, frozenset[str]] | None = None) -> Principal:
    """403 naming the permission unless the principal holds it."""
    if not may(principal, permission, rules):
        why = " (it needs system/ClaimResponse.u)" if principal.kind == PAYER_CLIENT else ""
        raise forbidden(f"a {WORDS.get(principal.kind, principal.kind)} may not {permission}{why}")
    return principal


def decision_permission(decision: str, not_met: Iterable[str]) -> str:
    """The permission a decision needs given the engine's findings: approving over a not-met or
    excluded criterion is an override (a physician's); the others map one to one."""
    if decision == "approve":
        return OVERRIDE if tuple(not_met) else APPROVE
    return {"deny": DENY, "request-info": REQUEST_INFO, "route-to-physician": ROUTE}[decision]


def require_decision(principal: Principal, decision: str, not_met: Iterable[str], claim_owner: str | None,
                     rules: Mapping[str, frozenset[str]] | None = None) -> None:
    """403 unless the principal may take this decision on this request (UM rule table, own-org rule)."""
    findings = tuple(not_met)
    needed = decision_permission(decision, findings)
    if not may(principal, needed, rules):
        if needed == OVERRIDE and may(principal, APPROVE, rules):
            raise forbidden(f"the engine found criteria not met ({', '.join(findings)}): a "
                            f"{WORDS.get(principal.kind)} may not approve over them; route the case to a "
                            "physician reviewer")
        require(principal, needed, rules)
    if not principal.is_person and principal.owner is not None and principal.owner == claim_owner:
        raise forbidden("no client may finalize a request its own organization submitted")


def sees_every_owner(principal: Principal) -> bool:
    """Whether the principal reads every organization's records (payer staff, payer systems)."""
    return may(principal, AUDIT_ALL) or principal.kind in (NURSE, PHYSICIAN)


@lru_cache(maxsize=8)
def parse_rules(raw: str) -> Mapping[str, frozenset[str]]:
    """UM_RULES: a JSON object permission -> kinds replacing those rows; ValueError names a bad entry,
    and a provider's system can never be given a payer's permission."""
    if not raw.strip():
        return RULES
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("must be a JSON object of permission -> list of kinds")
    rules = dict(RULES)
    for permission, kinds in data.items():
        if permission not in RULES:
            raise ValueError(f"{permission!r} is not a permission (one of: {'; '.join(RULES)})")
        if not isinstance(kinds, list) or not all(k in KINDS for k in kinds):
            raise ValueError(f"[{permission!r}] must list kinds from: {', '.join(KINDS)}")
        if PROVIDER_CLIENT in kinds:
            raise ValueError(f"[{permission!r}]: a provider's system may not hold a payer's permission")
        rules[permission] = frozenset(kinds)
    return MappingProxyType(rules)


def with_rules(principal: Principal, raw_rules: str) -> Principal:
    """The principal carrying the payer's table (Settings.um_rules, validated at start-up)."""
    table = parse_rules(raw_rules)
    return principal if table is principal.rules else Principal(
        principal.kind, principal.id, principal.owner, principal.scopes, principal.npi, principal.csrf, table)
