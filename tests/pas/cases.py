"""Clinical cases, one row per case: payer, answers, expected decision, X12 code, months, reason."""
from __future__ import annotations

BASE = {"age-years": 40, "diagnosis": "b-all", "disease-status": "relapsed",
        "cd22-status": "positive", "cd22-percent": 50.0, "ph-status": "negative",
        "tki-failed": False, "chemo-failed": True, "regimen": "single-agent", "cycles": 3,
        "prescriber-oncologist": True, "substantial-comorbidities": False,
        "request-type": "initial", "attest-liver-tests": True, "attest-vod-monitoring": True,
        "attest-no-alkylating-conditioning": True}
RENEWAL = {**BASE, "request-type": "continuation", "disease-progression": False,
           "unacceptable-toxicity": False}
NON_CANCER = {**BASE, "diagnosis": "non-cancer"}
CD22_NEGATIVE = {**BASE, "cd22-status": "negative"}
MISSING_CD22 = {k: v for k, v in BASE.items() if k not in ("cd22-status", "disease-status")}
PH_POS_NO_TKI = {**BASE, "ph-status": "positive", "tki-failed": False}

# (id, payer, answers, decision, X12 306 code, months granted, a reason code that must be named)
# Months: FEP 3 initial / 6 renewal; BCBST and NantHealth 12; Aetna and BCBSNC state none ->
# DEFAULT_AUTH_MONTHS (6).
CASES = [
    ("aetna-approve", "aetna", BASE, "approve", "A1", 6, None),
    ("aetna-deny-excluded", "aetna", NON_CANCER, "deny", "A3", None, "diagnosis"),
    ("aetna-deny-cd22", "aetna", CD22_NEGATIVE, "deny", "A3", None, "cd22-status"),
    ("aetna-deny-ph-pos-no-tki", "aetna", PH_POS_NO_TKI, "deny", "A3", None, "tki-failed"),
    ("aetna-pend-missing", "aetna", MISSING_CD22, "pend", "A4", None, "cd22-status"),
    ("bcbsnc-approve", "bcbsnc", BASE, "approve", "A1", 6, None),
    ("bcbsnc-deny-excluded", "bcbsnc", NON_CANCER, "deny", "A3", None, "diagnosis"),
    ("bcbsnc-pend-missing", "bcbsnc", MISSING_CD22, "pend", "A4", None, "disease-status"),
    ("bcbst-approve", "bcbst", BASE, "approve", "A1", 12, None),
    ("bcbst-renewal", "bcbst", RENEWAL, "approve", "A1", 12, None),
    ("bcbst-deny-excluded", "bcbst", NON_CANCER, "deny", "A3", None, "diagnosis"),
    ("bcbst-deny-cd22", "bcbst", CD22_NEGATIVE, "deny", "A3", None, "cd22-status"),
    ("bcbst-pend-missing", "bcbst", MISSING_CD22, "pend", "A4", None, "cd22-status"),
    ("fepblue-approve", "fepblue", BASE, "approve", "A1", 3, None),
    ("fepblue-renewal", "fepblue", RENEWAL, "approve", "A1", 6, None),
    ("fepblue-deny-excluded", "fepblue", NON_CANCER, "deny", "A3", None, "diagnosis"),
    ("fepblue-deny-cd22", "fepblue", CD22_NEGATIVE, "deny", "A3", None, "cd22-status"),
    ("fepblue-pend-missing", "fepblue", MISSING_CD22, "pend", "A4", None, "cd22-status"),
    ("nanthealth-approve", "nanthealth", BASE, "approve", "A1", 12, None),
    ("nanthealth-renewal", "nanthealth", RENEWAL, "approve", "A1", 12, None),
    ("nanthealth-deny-non-cancer", "nanthealth", NON_CANCER, "deny", "A3", None, "diagnosis"),
    ("nanthealth-pend-missing", "nanthealth", MISSING_CD22, "pend", "A4", None, "cd22-status"),
]
