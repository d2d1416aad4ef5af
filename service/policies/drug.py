"""The drug, declared once (CONTRACT: The drug): how orders, claims and answers name Besponsa.

Detection (CRD, the SMART app), CRD `billingCode`, the Questionnaires' `code`, PAS item checks
and the app's PAS request all read this declaration; payers list `BESPONSA.code` among their
billing codes.
"""
from __future__ import annotations

from dataclasses import dataclass

from service.policies.model import BillingCode

HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"


@dataclass(frozen=True)
class Drug:
    code: BillingCode  # what we bill and answer with
    legacy_codes: frozenset[str]  # earlier HCPCS codes still accepted on orders and claims
    hcpcs_systems: frozenset[str]  # system URIs EHRs use for HCPCS
    ndc_system: str
    ndc_codes: frozenset[str]
    names: tuple[str, ...]  # lower case; matched inside a text or display
    unit: str

    @property
    def hcpcs_codes(self) -> frozenset[str]:
        return frozenset({self.code.code}) | self.legacy_codes

    def as_coding(self) -> dict[str, str]:
        return {"system": self.code.system, "code": self.code.code, "display": self.code.display}


BESPONSA = Drug(
    code=BillingCode(HCPCS, "J9229", "Injection, inotuzumab ozogamicin, 0.1 mg"),
    legacy_codes=frozenset({"C9028"}),
    hcpcs_systems=frozenset({HCPCS, "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                             "https://bluebutton.cms.gov/resources/codesystem/hcpcs"}),
    ndc_system="http://hl7.org/fhir/sid/ndc",
    ndc_codes=frozenset({"0008-0100-01", "00008-0100-01"}),
    names=("inotuzumab", "besponsa"),
    unit="0.1 mg",
)


def drug_billing_codes(billing_codes: tuple[BillingCode, ...]) -> tuple[BillingCode, ...]:
    """The codes among a policy's billing codes that bill the drug itself (CRD billingCode)."""
    return tuple(c for c in billing_codes if c.system in BESPONSA.hcpcs_systems and c.code in BESPONSA.hcpcs_codes)
