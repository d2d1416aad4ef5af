"""Python equivalents of the BesponsaPrefill CQL defines: one function per define, same semantics.

Each takes a FHIR R4 Bundle of one patient's chart and the evaluation date (CQL's Today(),
which only AgeInYears reads). Missing data gives None: prefill never
asserts a fact the chart does not show (CONTRACT: where prefill finds these facts).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date


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
FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
REFUTED = {"refuted", "entered-in-error"}


def listed(value: object) -> list:
    """The value when it is a JSON array, else [] (a chart's junk shows no fact)."""
    return value if isinstance(value, list) else []


def reference_of(value: object) -> str | None:
    """Reference.reference, when the value is a Reference object holding a string."""
    ref = value.get("reference") if isinstance(value, dict) else None
    return ref if isinstance(ref, str) else None


# Index keys beside the resource types: rows each define would otherwise pick out on its own.
CD22_OBSERVATIONS, PH_OBSERVATIONS, CONDITIONS = "Observation:cd22", "Observation:ph", "Condition:not-refuted"


def index_bundle(bundle: dict) -> dict[str, list[dict]]:
    """index_chart over a Bundle's entries."""
    return index_chart(e.get("resource") for e in listed(bundle.get("entry")) if isinstance(e, dict))


def index_chart(chart: Iterable[object]) -> dict[str, list[dict]]:
    """Resources by type, leaving out those recorded in error, with the CD22 and Ph observations
    and the Conditions not refuted picked out: each resource is read once per evaluation,
    not once per define (CRD runs this inside the clinician's signing click)."""
    index: dict[str, list[dict]] = {}
    for r in chart:
        if r.__class__ is not dict:
            continue
        status, kind = r.get("status"), r.get("resourceType")
        if (status.__class__ is str and status in VOID) or kind.__class__ is not str:
            continue  # a malformed status is simply not void
        bucket = index.get(kind)
        if bucket is None:
            index[kind] = [r]
        else:
            bucket.append(r)
        if kind == "Observation":
            codes = codings(r.get("code"))
            if (LOINC, CD22_PERCENT_LOINC) in codes or mentions(r.get("code"), "cd22"):
                index.setdefault(CD22_OBSERVATIONS, []).append(r)
            if any(s == LOINC and c in PH_LOINC for s, c in codes):
                index.setdefault(PH_OBSERVATIONS, []).append(r)
        elif kind == "Condition" and (r.get("verificationStatus") is None or not REFUTED.intersection(
                c for _, c in codings(r.get("verificationStatus")))):
            index.setdefault(CONDITIONS, []).append(r)
    return index


def resources(bundle: dict, kind: str) -> list[dict]:
    """Resources of one type (or index key) in the bundle, leaving out those recorded in error."""
    index = bundle.get("_index")  # set by cql_equivalents.prefill for one evaluation
    return (index if index is not None else index_bundle(bundle)).get(kind, [])


def codings(concept: object) -> list[tuple[str | None, str]]:
    """(system, code) of each well-formed Coding of a CodeableConcept."""
    if not isinstance(concept, dict):
        return []
    out = []
    for c in listed(concept.get("coding")):
        if isinstance(c, dict):
            system, code = c.get("system"), c.get("code")
            if isinstance(code, str) and (system is None or isinstance(system, str)):
                out.append((system, code))
    return out


def mentions(concept: object, word: str) -> bool:
    """Mentions: the text or a coding's display contains the word, ignoring case (CQL "Mentions")."""
    if not isinstance(concept, dict):
        return False
    text = concept.get("text")
    if isinstance(text, str) and word in text.lower():
        return True
    for c in listed(concept.get("coding")):
        display = c.get("display") if isinstance(c, dict) else None
        if isinstance(display, str) and word in display.lower():
            return True
    return False


def icd10(code: object) -> str:
    """ICD-10-CM code without its dot, upper case: C91.02 and C9102 are the same code."""
    return code.replace(".", "").upper() if isinstance(code, str) else ""


def effective(resource: dict) -> str:
    """The time an observation applies to; ISO strings order chronologically (latest wins)."""
    when = resource.get("effectiveDateTime") or resource.get("issued")
    return when if isinstance(when, str) else ""


def latest_value(observations: list[dict], read: Callable[[dict], object]) -> object:
    """read(o) of the latest observation that has a value; among equal times the last in the
    chart (as CQL's stable sort + Last over the observations with a value)."""
    best, best_time = None, ""
    for o in observations:
        value = read(o)
        if value is not None:
            when = effective(o)
            if best is None or when >= best_time:
                best, best_time = value, when
    return best


def age_in_years(bundle: dict, today: date) -> int | None:
    """AgeInYears: whole years from Patient.birthDate to today."""
    patient = next(iter(resources(bundle, "Patient")), None)
    born = (patient or {}).get("birthDate")
    if not isinstance(born, str) or not FULL_DATE.fullmatch(born):
        return None  # a partial or malformed date shows no age
    try:
        b = date.fromisoformat(born)
    except ValueError:  # 2020-02-30
        return None
    return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


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


def diagnosis(bundle: dict, today: date | None = None) -> str | None:
    """Diagnosis: b-all before lbl before nhl-other when the chart holds several."""
    found = {diagnosis_code(s, c) for cond in resources(bundle, CONDITIONS) for s, c in codings(cond.get("code"))}
    return next((d for d in ("b-all", "lbl", "nhl-other") if d in found), None)


def disease_status(bundle: dict, today: date | None = None) -> str | None:
    """DiseaseStatus: ICD-10-CM C91.02 (in relapse) -> relapsed."""
    relapse = any(s == ICD10 and icd10(c) == "C9102" for cond in resources(bundle, CONDITIONS)
                  for s, c in codings(cond.get("code")))
    return "relapsed" if relapse else None


def _percent(observation: dict) -> float | None:
    quantity = observation.get("valueQuantity")
    value = quantity.get("value") if isinstance(quantity, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def cd22_percent(bundle: dict, today: date | None = None) -> float | None:
    """CD22Percent: the latest LOINC 14017-8 result with a quantity."""
    def percent(o: dict) -> float | None:
        return _percent(o) if (LOINC, CD22_PERCENT_LOINC) in codings(o.get("code")) else None
    return latest_value(resources(bundle, CD22_OBSERVATIONS), percent)


def _coded_result(observation: dict) -> str | None:
    values = set(codings(observation.get("valueCodeableConcept")))
    if values & POSITIVE:
        return "positive"
    if values & NEGATIVE:
        return "negative"
    return None


def _cd22_result(o: dict) -> str | None:
    if (coded := _coded_result(o)) is not None:
        return coded
    pct = _percent(o)
    return None if pct is None else ("positive" if pct >= CD22_POSITIVE_PERCENT else "negative")


def cd22_status(bundle: dict, today: date | None = None) -> str | None:
    """CD22Status: the latest CD22 result, coded, or from its percent (>= 5 % positive)."""
    return latest_value(resources(bundle, CD22_OBSERVATIONS), _cd22_result)


def ph_status(bundle: dict, today: date | None = None) -> str | None:
    """PhStatus: the latest coded Philadelphia chromosome / BCR-ABL1 result."""
    return latest_value(resources(bundle, PH_OBSERVATIONS), _coded_result)


def _medication_concepts(bundle: dict, kind: str) -> list[dict]:
    meds = {f"Medication/{m.get('id')}": m.get("code") for m in resources(bundle, "Medication")}
    out = []
    for r in resources(bundle, kind):
        if "medicationCodeableConcept" in r:
            out.append(r["medicationCodeableConcept"])
        ref = reference_of(r.get("medicationReference"))
        if ref is not None and ref in meds:
            out.append(meds[ref])
    return out


def tki_failed(bundle: dict, today: date | None = None) -> bool | None:
    """TKIFailed: a TKI in the medication history suggests true; the clinician confirms."""
    for kind in ("MedicationStatement", "MedicationRequest"):
        for concept in _medication_concepts(bundle, kind):
            if any(s == RXNORM and c in TKI_RXNORM for s, c in codings(concept)) or \
                    any(mentions(concept, name) for name in TKI_NAMES):
                return True
    return None


def prescriber_is_oncologist(bundle: dict, today: date | None = None) -> bool | None:
    """PrescriberIsOncologist: a PractitionerRole with a NUCC oncology specialty."""
    for role in resources(bundle, "PractitionerRole"):
        for specialty in listed(role.get("specialty")):
            if any(s == NUCC and c in ONCOLOGY_NUCC for s, c in codings(specialty)):
                return True
    return None


# The CQL define each function computes: registered by name, one row per define, so the
# generated Libraries, the Questionnaires' initialExpressions and prefill meet here.
DEFINES: dict[str, Callable[[dict, date], object]] = {
    "AgeInYears": age_in_years,
    "Diagnosis": diagnosis,
    "DiseaseStatus": disease_status,
    "CD22Percent": cd22_percent,
    "CD22Status": cd22_status,
    "PhStatus": ph_status,
    "TKIFailed": tki_failed,
    "PrescriberIsOncologist": prescriber_is_oncologist,
}
