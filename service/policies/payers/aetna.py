"""Aetna: Inotuzumab Ozogamicin (Besponsa) clinical policy bulletin (no effective date in the text)."""
from service.policies.drug import BESPONSA
from service.policies.model import (
    CPT,
    ICD10,
    BillingCode,
    Exclusion,
    Policy,
    all_of,
    any_of,
    at_least,
    is_,
    one_of,
    operational_period,
    yes,
)

POLICY = Policy(
    payer_id="aetna",
    payer_name="Aetna",
    title="Inotuzumab Ozogamicin (Besponsa)",
    version="undated",
    source_file="004_bc192fd0cffe20df.txt",
    effective=None,
    initial=all_of(
        "Relapsed or refractory CD22-positive B-ALL in adults",
        at_least("age-years", 18, "adults (18 years of age or older)"),
        is_("diagnosis", "b-all", "B-cell precursor acute lymphoblastic leukemia (B-ALL)"),
        one_of("disease-status", ("relapsed", "refractory"),
               "relapsed or refractory CD22 positive (i.e., greater than or equal to 5% blasts "
               "CD22-positive) B-cell precursor acute lymphoblastic leukemia (B-ALL)"),
        is_("cd22-status", "positive", "CD22 positive"),
        at_least("cd22-percent", 5, "greater than or equal to 5% blasts CD22-positive"),
        any_of("Ph-positive after TKI and chemotherapy, or Ph-negative",
               all_of("Ph-positive",
                      is_("ph-status", "positive", "Member has Philadelphia chromosome-positive (Ph+) disease"),
                      yes("tki-failed", "is intolerant or refractory to tyrosine kinase inhibitors"),
                      yes("chemo-failed", "and standard chemotherapy")),
               is_("ph-status", "negative", "Member has Philadelphia chromosome-negative (Ph-) disease.")),
    ),
    exclusions=(
        Exclusion(one_of("diagnosis", ("lbl", "nhl-other"), ""),
                  "Aetna considers inotuzumab ozogamicin experimental and investigational for "
                  "non-Hodgkin lymphoma (including Burkitt lymphoma, diffuse large B-cell lymphoma, "
                  "follicular lymphoma, indolent lymphoma, and mantle cell lymphoma)"),
        Exclusion(one_of("diagnosis", ("other-cancer", "non-cancer"), ""),
                  "and all other indications"),
    ),
    # The text states no authorization period: the payer's operations set it (DEFAULT_AUTH_MONTHS).
    periods={"initial": operational_period(), "continuation": operational_period()},
    documentation=("Relapsed or refractory status, CD22 percentage of blasts, Philadelphia "
                   "chromosome status and, if positive, TKI and chemotherapy history",),
    billing_codes=(
        BESPONSA.code,
        BillingCode(ICD10, "C91.00", "Acute lymphoblastic leukemia not having achieved remission"),
        BillingCode(ICD10, "C91.02", "Acute lymphoblastic leukemia, in relapse"),
        BillingCode(CPT, "96365", "Intravenous infusion, initial, up to 1 hour"),
        BillingCode(CPT, "96366", "Intravenous infusion, each additional hour"),
    ),
)
