"""NantHealth: Inotuzumab Ozogamicin (Besponsa) clinical guideline v1.0, effective 1/1/2025."""
from datetime import date

from service.policies.drug import BESPONSA
from service.policies.model import (
    ICD10,
    BillingCode,
    Period,
    Policy,
    Review,
    all_of,
    any_of,
    at_least,
    below,
    is_,
    no,
    one_of,
    yes,
)

RR = ("relapsed", "refractory")
MINI_HYPER_CVD = ("mini-hyper-cvd", "mini-hyper-cvd-blinatumomab")
FRONTLINE = ("newly-diagnosed", "mrd-positive-consolidation")

b_all = is_("diagnosis", "b-all", "B-cell precursor ALL")
oncologist = yes("prescriber-oncologist", "Prescribed by or in consultation with an oncologist")
ph_neg = is_("ph-status", "negative", "Philadelphia chromosome-negative B-ALL")
ph_pos = is_("ph-status", "positive", "Philadelphia chromosome-positive B-ALL")
at_least_15 = at_least("age-years", 15, "Therapy for patients at least 15 years of age")
# "AYA without substantial comorbidities and adults": AYA is 15 to 39 (policy definitions),
# so an AYA qualifies only without substantial comorbidities; adults of 40+ regardless.
aya_rule = any_of(
    "AYA without substantial comorbidities and adults",
    at_least("age-years", 40, "Individuals within the range of 15 to 39 years of age"),
    no("substantial-comorbidities", "AYA without substantial comorbidities and adults"),
)
mrd = is_("disease-status", "mrd-positive-consolidation",
          "persistent/rising minimal/measurable residual disease (MRD)")
rr = one_of("disease-status", RR, "Relapsed or refractory")

fda = all_of(
    "FDA: relapsed or refractory CD22-positive B-cell precursor ALL",
    b_all, rr,
    is_("cd22-status", "positive", "Relapsed or refractory CD22-positive B-cell precursor ALL"),
)

pediatric = all_of(
    "Pediatric ALL",
    below("age-years", 18, "Less than 18 years of age"),
    any_of(
        "FDA or NCCN",
        fda,
        all_of("NCCN: single agent, relapsed/refractory BCR-ABL1-negative",
               b_all, rr, is_("regimen", "single-agent", "Single agent for one of the following"),
               is_("ph-status", "negative",
                   "Relapsed/refractory break point cluster region (BCR)-Ableson (ABL)1-negative")),
        all_of("NCCN: single agent, relapsed/refractory BCR-ABL1-positive TKI intolerant/refractory",
               b_all, rr, is_("regimen", "single-agent", "Single agent for one of the following"),
               is_("ph-status", "positive", "Relapsed/refractory BCR-ABL1-positive TKI intolerant/refractory"),
               yes("tki-failed", "Relapsed/refractory BCR-ABL1-positive TKI intolerant/refractory")),
        all_of("NCCN: relapsed/refractory BCR-ABL1-negative with mini-hyper-CVD",
               b_all, rr,
               is_("ph-status", "negative", "Relapsed/refractory BCR-ABL1-negative B-ALL"),
               one_of("regimen", MINI_HYPER_CVD,
                      "in combination with mini-hyper-CVD (mini-hyperfractionated cyclophosphamide, "
                      "vincristine, dexamethasone, methotrexate, and cytarabine) regimen")),
    ),
)

induction_65 = all_of(
    "NCCN: induction at 65 or older (ALL-INITIAL-1 or ALLIANCE A041703)",
    b_all,
    at_least("age-years", 65, "Induction therapy for patients ≥ 65 years of age"),
    one_of("regimen", ("all-initial-1", "alliance-a041703"),
           "ALL-INITIAL-1 (inotuzumab ozogamicin, dexamethasone)"),
    yes("substantial-comorbidities", "The above regimens are used for patients with substantial comorbidities"),
    ph_neg,
    any_of("Frontline, refractory or late relapse",
           is_("disease-status", "newly-diagnosed", "Frontline therapy"),
           is_("disease-status", "refractory", "Refractory therapy"),
           all_of("Late relapse",
                  is_("disease-status", "relapsed", "Late relapse"),
                  Review("disease-status",
                         "Late relapse (>3 years from initial diagnosis) if regimen was used in frontline"))),
)

mini_hyper_cvd_15 = all_of(
    "NCCN: with mini-hyper-CVD at 15 or older",
    b_all, at_least_15,
    one_of("regimen", MINI_HYPER_CVD,
           "as a component of inotuzumab ozogamicin + mini-hyperCVD in induction/consolidation"),
    any_of("Frontline Ph-negative, relapsed/refractory Ph-negative, or Ph-positive refractory to TKIs",
           # "in induction/consolidation": frontline therapy includes frontline consolidation, as
           # for persistent/rising MRD (item 5a/b "during frontline consolidation therapy").
           all_of("Frontline (induction / consolidation) Ph-negative",
                  one_of("disease-status", FRONTLINE,
                         "Frontline therapy for adults with Philadelphia chromosome-negative B-ALL"),
                  ph_neg),
           all_of("Relapsed/refractory Ph-negative",
                  one_of("disease-status", RR,
                         "Relapsed/refractory therapy for Philadelphia chromosome-negative B-ALL"),
                  ph_neg),
           all_of("Ph-positive refractory to TKIs",
                  is_("ph-status", "positive",
                      "Consideration for Philadelphia chromosome-positive B-ALL if refractory to TKIs"),
                  yes("tki-failed", "if refractory to TKIs"))),
)

therapy_15 = all_of(
    "NCCN: MRD or relapsed/refractory therapy at 15 or older",
    b_all, at_least_15,
    any_of("Single agent or with a TKI",
           all_of("Single agent for persistent/rising MRD in frontline consolidation",
                  is_("regimen", "single-agent", "Single agent if persistent/rising minimal/measurable "
                      "residual disease (MRD) for B-ALL"), mrd, aya_rule),
           all_of("With a TKI for persistent/rising MRD, Ph-positive",
                  is_("regimen", "with-tki", "In combination with a TKI if persistent/rising MRD for "
                      "Philadelphia chromosome-positive B-ALL"), ph_pos, mrd, aya_rule),
           all_of("Single agent, relapsed/refractory",
                  is_("regimen", "single-agent",
                      "Single agent for B-ALL (preferred for Philadelphia chromosome-negative) during "
                      "relapsed/refractory (R/R) therapy"), rr),
           all_of("With a TKI, Ph-positive relapsed/refractory",
                  is_("regimen", "with-tki", "In combination with a TKI for Philadelphia "
                      "chromosome-positive B-ALL during R/R therapy"), ph_pos, rr)),
)

# The adult "Acute Lymphoblastic Leukemia (ALL)" section states no age of its own: its FDA
# path is the same relapsed/refractory CD22-positive B-ALL path at any age.

POLICY = Policy(
    payer_id="nanthealth",
    payer_name="NantHealth",
    title="Clinical Guidelines for Medical Necessity: Inotuzumab Ozogamicin (Besponsa)",
    version="1.0",
    source_file="000_c79c6680f45b7312.txt",
    effective=date(2025, 1, 1),
    initial=all_of(
        "Initial",
        oncologist,
        any_of("Pediatric or adult ALL", pediatric, fda, induction_65, mini_hyper_cvd_15, therapy_15),
    ),
    renewal=all_of(
        "Renewal",
        no("disease-progression", "No evidence of disease progression or unacceptable toxicity"),
        no("unacceptable-toxicity", "No evidence of disease progression or unacceptable toxicity"),
    ),
    periods={"initial": Period(12, "Initial Authorization Period: 12 months"),
             "continuation": Period(12, "Renewal Authorization Period: 12 months")},
    documentation=("Diagnosis, disease status and Philadelphia chromosome (BCR-ABL1) status",
                   "CD22 test result for the FDA-labelled indication",
                   "Regimen and prescriber specialty"),
    billing_codes=(BESPONSA.code,
                   BillingCode(ICD10, "C91.0", "Acute lymphoblastic leukemia")),
)
