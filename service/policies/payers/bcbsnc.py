"""Blue Cross and Blue Shield of North Carolina: Corporate Medical Policy, Inotuzumab (Besponsa)."""
from datetime import date

from service.policies.drug import BESPONSA, HCPCS
from service.policies.model import (
    BillingCode,
    Exclusion,
    Policy,
    Review,
    all_of,
    any_of,
    is_,
    one_of,
    operational_period,
)

CANCERS = ("b-all", "lbl", "nhl-other", "other-cancer")

POLICY = Policy(
    payer_id="bcbsnc",
    payer_name="Blue Cross and Blue Shield of North Carolina",
    title="Corporate Medical Policy: Inotuzumab (Besponsa) (inotuzumab_besponsa)",
    version="Last Review 11/2020 (updated 1/12/21)",
    source_file="002_b3d96085c639f9d2.txt",
    # The text gives origination 9/2017 and its last implemented update, 1/12/21.
    effective=date(2021, 1, 12),
    initial=any_of(
        "When Inotuzumab (Besponsa) is covered",
        all_of("Relapsed or refractory B-cell precursor ALL",
               is_("diagnosis", "b-all", "B-cell precursor acute lymphoblastic leukemia (ALL)"),
               one_of("disease-status", ("relapsed", "refractory"),
                      "Inotuzumab (Besponsa) is considered medically necessary for the treatment of "
                      "patients with relapsed or refractory B-cell precursor acute lymphoblastic "
                      "leukemia (ALL).")),
        # FDA label or strong compendia support is a judgement the form cannot make: pend it.
        all_of("Other cancer: FDA label or strong compendia support",
               one_of("diagnosis", CANCERS, "when the drug is prescribed for the treatment of cancer"),
               Review("diagnosis",
                      "In accordance with specific strong endorsement or support by nationally "
                      "recognized compendia, when such recommendation is based on strong/high levels "
                      "of evidence, and/or uniform consensus of clinical appropriateness has been "
                      "reached.")),
    ),
    exclusions=(Exclusion(is_("diagnosis", "non-cancer", ""),
                          "Inotuzumab (Besponsa) is considered investigational when used for: "
                          "1. Non-cancer indications"),),
    # The text states no authorization period: the payer's operations set it (DEFAULT_AUTH_MONTHS).
    periods={"initial": operational_period(), "continuation": operational_period()},
    documentation=("BCBSNC may request medical records for determination of medical necessity.",),
    billing_codes=(BESPONSA.code, *(BillingCode(HCPCS, code, display) for code, display in (
        ("J3490", "Unclassified drugs"), ("J3590", "Unclassified biologics"),
        ("J9999", "Not otherwise classified, antineoplastic drugs"),
        ("S0353", "Treatment planning and care coordination management for cancer initial treatment"),
        ("S0354", "Treatment planning and care coordination management for cancer established "
                  "patient with a change of regimen")))),
)
