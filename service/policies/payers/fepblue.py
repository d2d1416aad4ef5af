"""FEP Blue (Federal Employee Program): Besponsa prior approval policy, effective April 1, 2025."""
from datetime import date

from service.policies.drug import BESPONSA
from service.policies.model import (
    Exclusion,
    Period,
    Policy,
    all_of,
    any_of,
    at_least,
    below,
    is_,
    no,
    one_of,
    yes,
)

age = at_least("age-years", 1, "1 year of age or older")
diagnosis = all_of(
    "Relapsed or refractory CD22-positive B-cell precursor ALL",
    is_("diagnosis", "b-all", "B-cell precursor acute lymphoblastic leukemia (ALL)"),
    one_of("disease-status", ("relapsed", "refractory"),
           "Relapsed or refractory CD22-positive B-cell precursor acute lymphoblastic leukemia (ALL)"),
    is_("cd22-status", "positive",
        "Relapsed or refractory CD22-positive B-cell precursor acute lymphoblastic leukemia (ALL)"),
)
attestations = (
    yes("attest-liver-tests", "Prescriber agrees to obtain ALT, AST, total bilirubin, and alkaline "
        "phosphatase prior to and following each dose of Besponsa"),
    yes("attest-vod-monitoring", "Prescriber agrees to monitor for signs and symptoms of hepatic "
        "veno-occlusive disease during treatment of Besponsa"),
    yes("attest-no-alkylating-conditioning",
        "Prescriber agrees NOT to add HSCT conditioning regimens containing alkylating agents"),
)
PH_CITE = ("Age 18+ only: if Philadelphia chromosome-positive (Ph+), patient must have failed "
           "treatment with at least ONE tyrosine kinase inhibitor and standard chemotherapy")

POLICY = Policy(
    payer_id="fepblue",
    payer_name="FEP Blue (Federal Employee Program)",
    title="Besponsa (inotuzumab ozogamicin)",
    version="March 2025 (FEP Pharmacy and Medical Policy Committee, March 7, 2025)",
    source_file="003_4ff17cfc3ccfabb8.txt",
    effective=date(2025, 4, 1),
    initial=all_of(
        "Prior-Approval Requirements",
        age, diagnosis,
        any_of("Age 18+ only: Ph-positive must have failed a TKI and standard chemotherapy",
               below("age-years", 18, PH_CITE),
               is_("ph-status", "negative", PH_CITE),
               all_of("Ph-positive after TKI and chemotherapy",
                      is_("ph-status", "positive", PH_CITE),
                      yes("tki-failed", PH_CITE),
                      yes("chemo-failed", PH_CITE))),
        *attestations,
    ),
    renewal=all_of(
        "Prior-Approval Renewal Requirements",
        age, diagnosis,
        no("disease-progression", "NO disease progression or unacceptable toxicities"),
        no("unacceptable-toxicity", "NO disease progression or unacceptable toxicities"),
        *attestations,
    ),
    exclusions=(Exclusion(one_of("diagnosis", ("lbl", "nhl-other", "other-cancer", "non-cancer"), ""),
                          "Besponsa may be considered investigational for all other indications."),),
    periods={"initial": Period(3, "Prior - Approval Limits Duration 3 months"),
             "continuation": Period(6, "Prior – Approval Renewal Limits Duration 6 months")},
    documentation=("Prescriber attestations: liver tests before and after each dose, VOD monitoring, "
                   "no alkylating HSCT conditioning",),
    billing_codes=(BESPONSA.code,),
    requires_attestation_signature=True,
)
