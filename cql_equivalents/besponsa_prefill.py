"""Python equivalents of the BesponsaPrefill CQL defines: one function per define, same semantics.

Each takes a FHIR R4 Bundle of one patient's chart. Missing data gives None: prefill never
asserts a fact the chart does not show (CONTRACT: where prefill finds these facts).
"""
from __future__ import annotations

import re
from datetime import date

from service.policies.concepts import SYSTEM

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NUCC = "http://nucc.org/provider-taxonomy"

CD22_PERCENT_LOINC = "14017-8"
PH_LOINC = {"21821-4", "21822-2", "21823-0", "21795-0", "46434-7"}
POSITIVE = {(SNOMED, "10828004"), (LOINC, "LA6576-8")}
NEGATIVE = {(SNOMED, "260385009"), (LOINC, "LA6577-6")}
TKI_NAMES = ("imatinib", "dasatinib", "nilotinib", "bosutinib", "ponatinib")
TKI_RXNORM = {"282388", "475342", "662281", "1307619", "1364347"}
ONCOLOGY_NUCC = {"207RH0003X", "207RX0202X", "2080P0207X"}
CD22_POSITIVE_PERCENT = 5  # Aetna: "CD22 positive (i.e., greater than or equal to 5% blasts ...)"
VOID = {"entered-in-error", "cancelled"}


def index_bundle(bundle: dict) -> dict[str, list[dict]]:
    """Resources by type, leaving out those recorded in error (read once, not once per define)."""
    index: dict[str, list[dict]] = {}
    for entry in bundle.get("entry") or ():
        r = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(r, dict) and r.get("status") not in VOID:
            index.setdefault(r.get("resourceType"), []).append(r)
    return index


def resources(bundle: dict, kind: str) -> list[dict]:
    """Resources of one type in the bundle, leaving out those recorded in error."""
    index = bundle.get("_index")  # set by cql_equivalents.prefill for one evaluation
    return (index if index is not None else index_bundle(bundle)).get(kind, [])


def codings(concept: dict | None) -> list[tuple[str, str]]:
    return [(c.get("system"), c.get("code")) for c in (concept or {}).get("coding") or ()]


def texts(concept: dict | None) -> str:
    parts = [(concept or {}).get("text") or ""]
    parts += [c.get("display") or "" for c in (concept or {}).get("coding") or ()]
    return " ".join(parts).lower()


def icd10(code: str | None) -> str:
    """ICD-10-CM code without its dot, upper case: C91.02 and C9102 are the same code."""
    return (code or "").replace(".", "").upper()


def effective(resource: dict) -> str:
    """The time an observation applies to; ISO strings order chronologically (latest wins)."""
    return resource.get("effectiveDateTime") or resource.get("issued") or ""


def latest(observations: list[dict]) -> dict | None:
    """The last by time; among equal times the last in the chart (as CQL's stable sort + Last)."""
    return sorted(observations, key=effective)[-1] if observations else None


def age_in_years(bundle: dict, today: date) -> int | None:
    """AgeInYears: whole years from Patient.birthDate to today."""
    patient = next(iter(resources(bundle, "Patient")), None)
    born = (patient or {}).get("birthDate")
    if not born or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", born):
        return None
    b = date.fromisoformat(born)
    return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


def _conditions(bundle: dict) -> list[dict]:
    refuted = {"refuted", "entered-in-error"}
    return [c for c in resources(bundle, "Condition")
            if not refuted & {code for _, code in codings(c.get("verificationStatus"))}]


def diagnosis_code(system: str | None, code: str | None) -> str | None:
    """pa-criteria diagnosis for one Condition coding (CONTRACT mapping)."""
    if system == SNOMED and code == "277571004":
        return "b-all"
    if system != ICD10:
        return None
    c = icd10(code)
    if c.startswith("C910"):
        return "b-all"
    if c.startswith("C835"):
        return "lbl"
    if c.startswith(("C82", "C85")) or (c.startswith("C83") and c[3:4] in set("013789")):
        return "nhl-other"
    return None


def diagnosis(bundle: dict) -> str | None:
    """Diagnosis: b-all before lbl before nhl-other when the chart holds several."""
    found = {diagnosis_code(s, c) for cond in _conditions(bundle) for s, c in codings(cond.get("code"))}
    return next((d for d in ("b-all", "lbl", "nhl-other") if d in found), None)


def disease_status(bundle: dict) -> str | None:
    """DiseaseStatus: ICD-10-CM C91.02 (in relapse) -> relapsed."""
    relapse = any(s == ICD10 and icd10(c) == "C9102" for cond in _conditions(bundle)
                  for s, c in codings(cond.get("code")))
    return "relapsed" if relapse else None


def _cd22_observations(bundle: dict) -> list[dict]:
    return [o for o in resources(bundle, "Observation")
            if (LOINC, CD22_PERCENT_LOINC) in codings(o.get("code")) or "cd22" in texts(o.get("code"))]


def _percent(observation: dict) -> float | None:
    value = (observation.get("valueQuantity") or {}).get("value")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def cd22_percent(bundle: dict) -> float | None:
    """CD22Percent: the latest LOINC 14017-8 result with a quantity."""
    found = [o for o in _cd22_observations(bundle) if _percent(o) is not None
             and (LOINC, CD22_PERCENT_LOINC) in codings(o.get("code"))]
    newest = latest(found)
    return _percent(newest) if newest else None


def _coded_result(observation: dict) -> str | None:
    values = set(codings(observation.get("valueCodeableConcept")))
    if values & POSITIVE:
        return "positive"
    if values & NEGATIVE:
        return "negative"
    return None


def cd22_status(bundle: dict) -> str | None:
    """CD22Status: the latest CD22 result, coded, or from its percent (>= 5 % positive)."""
    def result(o: dict) -> str | None:
        if (coded := _coded_result(o)) is not None:
            return coded
        pct = _percent(o)
        return None if pct is None else ("positive" if pct >= CD22_POSITIVE_PERCENT else "negative")
    newest = latest([o for o in _cd22_observations(bundle) if result(o) is not None])
    return result(newest) if newest else None


def ph_status(bundle: dict) -> str | None:
    """PhStatus: the latest coded Philadelphia chromosome / BCR-ABL1 result."""
    found = [o for o in resources(bundle, "Observation")
             if any(s == LOINC and c in PH_LOINC for s, c in codings(o.get("code")))
             and _coded_result(o) is not None]
    newest = latest(found)
    return _coded_result(newest) if newest else None


def _medication_concepts(bundle: dict, kind: str) -> list[dict]:
    meds = {f"Medication/{m.get('id')}": m.get("code") for m in resources(bundle, "Medication")}
    out = []
    for r in resources(bundle, kind):
        if "medicationCodeableConcept" in r:
            out.append(r["medicationCodeableConcept"])
        ref = (r.get("medicationReference") or {}).get("reference")
        if ref in meds:
            out.append(meds[ref])
    return out


def tki_failed(bundle: dict) -> bool | None:
    """TKIFailed: a TKI in the medication history suggests true; the clinician confirms."""
    for kind in ("MedicationStatement", "MedicationRequest"):
        for concept in _medication_concepts(bundle, kind):
            if any(s == RXNORM and c in TKI_RXNORM for s, c in codings(concept)) or \
                    any(name in texts(concept) for name in TKI_NAMES):
                return True
    return None


def prescriber_is_oncologist(bundle: dict) -> bool | None:
    """PrescriberIsOncologist: a PractitionerRole with a NUCC oncology specialty."""
    for role in resources(bundle, "PractitionerRole"):
        for specialty in role.get("specialty") or ():
            if any(s == NUCC and c in ONCOLOGY_NUCC for s, c in codings(specialty)):
                return True
    return None


__all__ = ["SYSTEM", "age_in_years", "diagnosis", "disease_status", "cd22_status", "cd22_percent",
           "ph_status", "tki_failed", "prescriber_is_oncologist"]
