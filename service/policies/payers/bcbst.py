"""BlueCross BlueShield of Tennessee: Inotuzumab Ozogamicin (Besponsa), effective 4/2/2026."""
from datetime import date

from service.policies.drug import BESPONSA
from service.policies.model import (
    Exclusion,
    Period,
    Policy,
    all_of,
    any_of,
    at_most,
    is_,
    no,
    one_of,
)

LYMPHOBLASTIC = ("b-all", "lbl")
MINI_HYPER_CVD = ("mini-hyper-cvd", "mini-hyper-cvd-blinatumomab")
MINI_HYPER_CVD_CITE = ("The requested medication will be used in combination with mini-hyper-CVD "
                       "(mini-hyperfractionated cyclophosphamide, vincristine, dexamethasone, "
                       "methotrexate and cytarabine) with or without blinatumomab")

diagnosis = one_of("diagnosis", LYMPHOBLASTIC, "Member has B-cell precursor ALL/ lymphoblastic lymphoma")
cd22 = is_("cd22-status", "positive",
           "The tumor is CD22-positive as confirmed by testing or analysis to identify the CD22 "
           "protein on the surface of the B-cell")
six_cycles = at_most("cycles", 6,
                     "Member will not receive more than 6 treatment cycles of the requested medication")

frontline = all_of(
    "Frontline (induction / consolidation) therapy",
    diagnosis,
    one_of("disease-status", ("newly-diagnosed", "mrd-positive-consolidation"),
           "as frontline (induction / consolidation) therapy"),
    cd22,
    is_("ph-status", "negative", "Member has Philadelphia chromosome-negative disease"),
    one_of("regimen", MINI_HYPER_CVD, MINI_HYPER_CVD_CITE),
    six_cycles,
)

relapsed_refractory = all_of(
    "Relapsed or refractory ALL / lymphoblastic lymphoma",
    diagnosis,
    one_of("disease-status", ("relapsed", "refractory"),
           "treatment of relapsed or refractory ALL / lymphoblastic lymphoma"),
    cd22,
    # Either Ph status qualifies, but the policy asks which one it is: "unknown" pends.
    one_of("ph-status", ("positive", "negative"),
           "Member has Philadelphia chromosome-positive disease"),
    any_of("Regimen",
           is_("regimen", "single-agent", "The requested medication will be used as a single agent"),
           all_of("With a TKI, Ph-positive",
                  is_("regimen", "with-tki", "The requested medication will be used in combination "
                      "with a tyrosine kinase inhibitor for Philadelphia chromosome-positive disease"),
                  is_("ph-status", "positive", "for Philadelphia chromosome-positive disease")),
           one_of("regimen", MINI_HYPER_CVD, MINI_HYPER_CVD_CITE.replace("methotrexate and",
                                                                         "methotrexate, and"))),
    six_cycles,
)

POLICY = Policy(
    payer_id="bcbst",
    payer_name="BlueCross BlueShield of Tennessee",
    title="Medical Policy Manual: Inotuzumab Ozogamicin (Besponsa)",
    version="ID_CHS_2025 (Approved Rev, effective 4/2/2026)",
    source_file="001_771298f49d7f2582.txt",
    effective=date(2026, 4, 2),
    initial=any_of("Acute Lymphoblastic Leukemia (ALL) / Lymphoblastic Lymphoma",
                   frontline, relapsed_refractory),
    renewal=all_of(
        "Continuation of therapy",
        one_of("diagnosis", LYMPHOBLASTIC,
               "for an indication listed in the coverage criteria section"),
        no("unacceptable-toxicity", "when there is no evidence of unacceptable toxicity or "
           "disease progression while on the current regimen"),
        no("disease-progression", "when there is no evidence of unacceptable toxicity or "
           "disease progression while on the current regimen"),
        at_most("cycles", 6, "Authorization of 12 months (up to 6 cycles total)"),
    ),
    exclusions=(Exclusion(
        one_of("diagnosis", ("nhl-other", "other-cancer", "non-cancer"), ""),
        "All other indications are considered experimental/investigational and not medically "
        "necessary."),),
    periods={"initial": Period(12, "Authorization of 12 months may be granted"),
             "continuation": Period(12, "Authorization of 12 months (up to 6 cycles total) may be "
                                        "granted for continued treatment")},
    documentation=("Submission of testing or analysis confirming CD22 protein on the surface of the "
                   "B-cell is necessary to initiate the prior authorization review",),
    billing_codes=(BESPONSA.code,),
)
