"""Canonical identities derived from a declaration: Questionnaire and Library URLs, names, versions."""
from __future__ import annotations

from service.policies.model import Policy

# Canonicals are identifiers, not locations: stable across deployments (DTR 2.1 Questionnaire
# canonical; PUBLIC_BASE_URL only shapes where they are served).
CANONICAL_BASE = "http://example.org/fhir"
ARTIFACT_VERSION = "1.0.0"


def questionnaire_id(policy: Policy) -> str:
    return f"besponsa-{policy.payer_id}"


def questionnaire_url(policy: Policy) -> str:
    return f"{CANONICAL_BASE}/Questionnaire/{questionnaire_id(policy)}"


def questionnaire_canonical(policy: Policy) -> str:
    """Versioned canonical, as CRD's coverage-information `questionnaire` carries it."""
    return f"{questionnaire_url(policy)}|{ARTIFACT_VERSION}"


def library_name(policy: Policy) -> str:
    """CQL library name == Library.name (DTR 2.0.1 test kit checks the two agree)."""
    return "BesponsaPrefill" + "".join(part.capitalize() for part in policy.payer_id.split("-"))


def library_id(policy: Policy) -> str:
    return f"besponsa-prefill-{policy.payer_id}"


def library_url(policy: Policy) -> str:
    return f"{CANONICAL_BASE}/Library/{library_id(policy)}"


def policy_for_questionnaire(canonical: str, policies: dict[str, Policy]) -> Policy | None:
    """The policy whose Questionnaire a canonical names (version, if given, must match)."""
    url, _, version = canonical.partition("|")
    for policy in policies.values():
        if url == questionnaire_url(policy) and version in ("", ARTIFACT_VERSION):
            return policy
    return None
