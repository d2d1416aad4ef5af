"""Python equivalents of the BesponsaPrefill CQL defines: one function per define, same semantics.

Each takes an indexed chart ({"_index": index_chart(...)}, or a Bundle) of one patient and the
evaluation date (CQL's Today(), which only AgeInYears reads). Missing data gives None: prefill
never asserts a fact the chart does not show (CONTRACT: where prefill finds these facts).

Readings of the contract, rule by rule (service/dtr/cql_defines.py says the same in CQL):

- Results: an Observation counts only with status final, amended or corrected. The latest wins,
  by the first of effectiveDateTime, effectivePeriod.start, effectiveInstant, issued; times are
  compared as UTC instants (a date or partial date as the start of that period in UTC, fractions
  of a second to the millisecond); a result with no time loses to every dated one; among equal
  times the last in the chart wins. "Latest" is among the results that state the fact asked: a
  later CD22 percent with no lab call does not hide an earlier positive call.
- A lab's call (cd22-status, ph-status): valueCodeableConcept SNOMED 10828004 / 260373001 or
  LOINC LA6576-8 / LA11882-0 (positive), SNOMED 260385009 / 260415000 or LOINC LA6577-6 /
  LA11883-8 (negative), or Observation.interpretation v3 POS / DET (positive), NEG / ND
  (negative). A result saying both states no call. A percent alone is never a status.
- cd22-percent: LOINC 14017-8 valueQuantity without a comparator, UCUM (or no system), unit '%'
  as is, unit '1' (a fraction) times 100 rounded to 6 decimals; the unit is Quantity.code, or
  Quantity.unit when there is no code. No unit at all, another unit, or a value outside 0..100 %
  gives no percent (the chart does not say which scale it used).
- Conditions: verificationStatus refuted or entered-in-error ignored; ICD-10-CM with or without
  the dot, any case.
- tki-failed: MedicationStatement, MedicationRequest, MedicationAdministration and
  MedicationDispense naming imatinib, dasatinib, nilotinib, bosutinib or ponatinib (RxNorm
  ingredient code, or the generic or brand name in text, a coding display or the
  medicationReference display, or the code of a Medication in the chart it references as
  Medication/<id> or <base>/Medication/<id>). Ignored: records entered-in-error and records
  saying the drug was not used (MedicationStatement not-taken, MedicationRequest cancelled or
  doNotPerform, MedicationAdministration not-done, MedicationDispense declined or cancelled),
  Medications entered-in-error. Contained Medications are not read: cql-exec-fhir types
  `contained` as FHIR.Resource, so the CQL cannot see them either.
- Any resource with status entered-in-error is left out. A partial birth date gives no age.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

T = TypeVar("T")

ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NUCC = "http://nucc.org/provider-taxonomy"
UCUM = "http://unitsofmeasure.org"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

CD22_PERCENT_LOINC = "14017-8"
PH_LOINC = {"21821-4", "21822-2", "21823-0", "21795-0", "46434-7"}
POSITIVE = {(SNOMED, "10828004"), (SNOMED, "260373001"), (LOINC, "LA6576-8"), (LOINC, "LA11882-0")}
NEGATIVE = {(SNOMED, "260385009"), (SNOMED, "260415000"), (LOINC, "LA6577-6"), (LOINC, "LA11883-8")}
POSITIVE_INTERPRETATION = {(INTERPRETATION, "POS"), (INTERPRETATION, "DET")}
NEGATIVE_INTERPRETATION = {(INTERPRETATION, "NEG"), (INTERPRETATION, "ND")}
TKI_NAMES = ("imatinib", "dasatinib", "nilotinib", "bosutinib", "ponatinib",
             "gleevec", "glivec", "sprycel", "tasigna", "bosulif", "iclusig")
TKI_RXNORM = {"282388", "475342", "662281", "1307619", "1364347"}
ONCOLOGY_NUCC = {"207RH0003X", "207RX0202X", "2080P0207X"}
ACCEPTED = frozenset({"final", "amended", "corrected"})
REFUTED = {"refuted", "entered-in-error"}
# Medication records that say the drug was not used, by type (entered-in-error is left out for all).
NOT_USED = {"MedicationStatement": frozenset({"not-taken"}), "MedicationRequest": frozenset({"cancelled"}),
            "MedicationAdministration": frozenset({"not-done"}),
            "MedicationDispense": frozenset({"declined", "cancelled"})}
FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_TIME = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})(?:T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
                       r"(Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?")


def listed(value: object) -> list:
    """The value when it is a JSON array, else [] (a chart's junk shows no fact)."""
    return value if isinstance(value, list) else []


def reference_of(value: object) -> str | None:
    """Reference.reference, when the value is a Reference object holding a string."""
    ref = value.get("reference") if isinstance(value, dict) else None
    return ref if isinstance(ref, str) else None


# Index keys beside the resource types: rows each define would otherwise pick out on its own.
CD22_OBSERVATIONS, PH_OBSERVATIONS, CONDITIONS = "Observation:cd22", "Observation:ph", "Condition:not-refuted"
MEDICATION_USE = "Medication:use"


def index_bundle(bundle: dict) -> dict[str, list[dict]]:
    """index_chart over a Bundle's entries."""
    return index_chart(e.get("resource") for e in listed(bundle.get("entry")) if isinstance(e, dict))


def index_chart(chart: Iterable[object]) -> dict[str, list[dict]]:
    """Resources by type, leaving out those recorded in error, with the accepted CD22 and Ph
    results, the Conditions not refuted and the medication records that count picked out: each
    resource is read once per evaluation, not once per define (CRD runs this inside the
    clinician's signing click)."""
    index: dict[str, list[dict]] = {}
    for r in chart:
        if r.__class__ is not dict:
            continue
        status, kind = r.get("status"), r.get("resourceType")
        if kind.__class__ is not str or status == "entered-in-error":
            continue
        bucket = index.get(kind)
        if bucket is None:
            index[kind] = [r]
        else:
            bucket.append(r)
        if kind == "Observation":
            if status.__class__ is not str or status not in ACCEPTED:
                continue
            codes = codings(r.get("code"))
            if (LOINC, CD22_PERCENT_LOINC) in codes or mentions(r.get("code"), "cd22"):
                index.setdefault(CD22_OBSERVATIONS, []).append(r)
            if any(s == LOINC and c in PH_LOINC for s, c in codes):
                index.setdefault(PH_OBSERVATIONS, []).append(r)
        elif kind == "Condition":
            if r.get("verificationStatus") is None or not REFUTED.intersection(
                    c for _, c in codings(r.get("verificationStatus"))):
                index.setdefault(CONDITIONS, []).append(r)
        elif kind in NOT_USED:
            if (status.__class__ is not str or status not in NOT_USED[kind]) and not (
                    kind == "MedicationRequest" and r.get("doNotPerform") is True):
                index.setdefault(MEDICATION_USE, []).append(r)
    return index


def resources(bundle: dict, kind: str) -> list[dict]:
    """Resources of one type (or index key) in the bundle, leaving out those recorded in error."""
    index = bundle.get("_index")  # set by cql_equivalents.prefill for one evaluation
    return (index if index is not None else index_bundle(bundle)).get(kind, [])


def codings(concept: object) -> list[tuple[str | None, str]]:
    """(system, code) of each well-formed Coding of a CodeableConcept."""
    if concept.__class__ is not dict:
        return []
    coding = concept.get("coding")
    if coding.__class__ is not list:
        return []
    out = []
    for c in coding:
        if c.__class__ is dict:
            system, code = c.get("system"), c.get("code")
            if code.__class__ is str and (system is None or system.__class__ is str):
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


# ----- time: the CQL "At" (a FHIR dateTime/instant as a UTC instant, partial dates at their start)

_MOMENTS: dict[str, datetime | None] = {}


def moment(text: object) -> datetime | None:
    """A FHIR date, dateTime or instant as an aware UTC datetime (partial dates at their start,
    UTC; milliseconds truncated as cql-execution does); None when not one."""
    if text.__class__ is not str:
        return None
    try:
        return _MOMENTS[text]
    except KeyError:
        pass
    m = DATE_TIME.fullmatch(text)
    value = None
    if m is not None:
        year, month, day, hour, minute, second, fraction, zone = m.groups()
        try:
            value = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                             int(second or 0), int((fraction or "")[:3].ljust(3, "0")) * 1000, UTC)
            if zone and zone != "Z":
                sign = -1 if zone[0] == "-" else 1
                value -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        except (ValueError, OverflowError):
            value = None
    if len(_MOMENTS) > 4096:
        _MOMENTS.clear()
    _MOMENTS[text] = value
    return value


def _period_start(period: object) -> object:
    return period.get("start") if isinstance(period, dict) else None


def observed(resource: dict) -> tuple[datetime | None, object]:
    """(instant, its text) of an observation: effectiveDateTime, effectivePeriod.start,
    effectiveInstant, else issued, the first that is a date/time (CQL "At")."""
    text = resource.get("effectiveDateTime")
    if text is not None and (when := moment(text)) is not None:
        return when, text
    for text in (_period_start(resource.get("effectivePeriod")), resource.get("effectiveInstant"),
                 resource.get("issued")):
        if text is not None and (when := moment(text)) is not None:
            return when, text
    return None, None


def latest(records: list[dict], read: Callable[[dict], T | None],
           when: Callable[[dict], tuple[datetime | None, object]] = observed) -> tuple[T | None, dict | None]:
    """(read(r), r) of the latest record that has a value: undated before dated, among equal times
    the last in the chart (as CQL's stable sort by time + Last over the records with a value).
    Times are read only when a second record has a value (most charts hold one result)."""
    best, best_record, best_time, timed = None, None, None, False
    for r in records:
        value = read(r)
        if value is None:
            continue
        if best_record is None:
            best, best_record = value, r
            continue
        if not timed:
            best_time, timed = when(best_record)[0], True
        at = when(r)[0]
        if at is None and best_time is None or at is not None and (best_time is None or at >= best_time):
            best, best_record, best_time = value, r, at
    return best, best_record


# ----- the defines: each *_from gives (value, the resource it came from)

def age_from(bundle: dict, today: date) -> tuple[int | None, dict | None]:
    patient = next(iter(resources(bundle, "Patient")), None)
    born = (patient or {}).get("birthDate")
    if not isinstance(born, str) or not FULL_DATE.fullmatch(born):
        return None, None  # a partial or malformed date shows no age
    try:
        b = date.fromisoformat(born)
    except ValueError:  # 2020-02-30
        return None, None
    return today.year - b.year - ((today.month, today.day) < (b.month, b.day)), patient


def age_in_years(bundle: dict, today: date) -> int | None:
    """AgeInYears: whole years from a full Patient.birthDate to today."""
    return age_from(bundle, today)[0]


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


def _condition_time(condition: dict) -> tuple[datetime | None, object]:
    """When a Condition applies, for evidence: onsetDateTime, onsetPeriod.start, else recordedDate."""
    for text in (condition.get("onsetDateTime"), _period_start(condition.get("onsetPeriod")),
                 condition.get("recordedDate")):
        if text is not None and (when := moment(text)) is not None:
            return when, text
    return None, None


def diagnosis_from(bundle: dict, today: date | None = None) -> tuple[str | None, dict | None]:
    """(Diagnosis, the latest Condition giving it)."""
    value = diagnosis(bundle)
    if value is None:
        return None, None
    source = latest(resources(bundle, CONDITIONS), lambda cond: True if any(
        diagnosis_code(s, c) == value for s, c in codings(cond.get("code"))) else None, _condition_time)[1]
    return value, source


def diagnosis(bundle: dict, today: date | None = None) -> str | None:
    """Diagnosis: b-all before lbl before nhl-other when the chart holds several."""
    found = {diagnosis_code(s, c) for cond in resources(bundle, CONDITIONS) for s, c in codings(cond.get("code"))}
    return next((d for d in ("b-all", "lbl", "nhl-other") if d in found), None)


def _relapse(condition: dict) -> bool | None:
    return True if any(s == ICD10 and icd10(c) == "C9102" for s, c in codings(condition.get("code"))) else None


def disease_status_from(bundle: dict, today: date | None = None) -> tuple[str | None, dict | None]:
    """(DiseaseStatus, the latest Condition coding the relapse)."""
    found, source = latest(resources(bundle, CONDITIONS), _relapse, _condition_time)
    return ("relapsed", source) if found else (None, None)


def disease_status(bundle: dict, today: date | None = None) -> str | None:
    """DiseaseStatus: ICD-10-CM C91.02 (in relapse) -> relapsed."""
    relapse = any(s == ICD10 and icd10(c) == "C9102" for cond in resources(bundle, CONDITIONS)
                  for s, c in codings(cond.get("code")))
    return "relapsed" if relapse else None


def percent_of(quantity: object) -> float | None:
    """A Quantity as a percent: '%' as is, UCUM '1' (a fraction) x 100; else None (CQL "PercentOf")."""
    if not isinstance(quantity, dict) or quantity.get("comparator") is not None:
        return None
    value, system, unit = quantity.get("value"), quantity.get("system"), quantity.get("code")
    if unit is None:
        unit = quantity.get("unit")
    if value.__class__ not in (int, float) or not -1e15 < value < 1e15 or (system is not None and system != UCUM):
        return None  # (beyond 1e15 no unit gives 0..100 %; it keeps the arithmetic finite)
    if unit == "%":
        pct = float(value)
    elif unit == "1":
        pct = math.floor(value * 100 * 1e6 + 0.5) / 1e6  # Round(value * 100, 6) as cql-execution does it
    else:
        return None
    return pct if 0 <= pct <= 100 else None


def _cd22_percent(o: dict) -> float | None:
    return percent_of(o.get("valueQuantity")) if (LOINC, CD22_PERCENT_LOINC) in codings(o.get("code")) else None


def cd22_percent_from(bundle: dict, today: date | None = None) -> tuple[float | None, dict | None]:
    return latest(resources(bundle, CD22_OBSERVATIONS), _cd22_percent)


def cd22_percent(bundle: dict, today: date | None = None) -> float | None:
    """CD22Percent: the latest LOINC 14017-8 result with a percent (or fraction) quantity."""
    return latest(resources(bundle, CD22_OBSERVATIONS), _cd22_percent)[0]


def lab_call(observation: dict) -> str | None:
    """The lab's own positive/negative call: the coded value or the interpretation (CQL "CallOf")."""
    positive = negative = False
    value = observation.get("valueCodeableConcept")
    if value is not None:
        for c in codings(value):
            if c in POSITIVE:
                positive = True
            elif c in NEGATIVE:
                negative = True
    interpretation = observation.get("interpretation")
    if interpretation.__class__ is list:
        for concept in interpretation:
            for c in codings(concept):
                if c in POSITIVE_INTERPRETATION:
                    positive = True
                elif c in NEGATIVE_INTERPRETATION:
                    negative = True
    if positive is negative:
        return None  # no call, or one contradicting itself
    return "positive" if positive else "negative"


def cd22_status_from(bundle: dict, today: date | None = None) -> tuple[str | None, dict | None]:
    return latest(resources(bundle, CD22_OBSERVATIONS), lab_call)


def cd22_status(bundle: dict, today: date | None = None) -> str | None:
    """CD22Status: the lab's call on the latest CD22 result that makes one (never from a percent)."""
    return latest(resources(bundle, CD22_OBSERVATIONS), lab_call)[0]


def ph_status_from(bundle: dict, today: date | None = None) -> tuple[str | None, dict | None]:
    return latest(resources(bundle, PH_OBSERVATIONS), lab_call)


def ph_status(bundle: dict, today: date | None = None) -> str | None:
    """PhStatus: the lab's call on the latest Philadelphia chromosome / BCR-ABL1 result."""
    return latest(resources(bundle, PH_OBSERVATIONS), lab_call)[0]


def _medications(bundle: dict) -> dict[str, object]:
    return {f"Medication/{m['id']}": m.get("code") for m in resources(bundle, "Medication")
            if isinstance(m.get("id"), str)}


def _is_tki(concept: object) -> bool:
    """RxNorm ingredient code, or a TKI name in the text or a coding's display (CQL "IsTki")."""
    if concept.__class__ is not dict:
        return False
    text = concept.get("text")
    words = [text.lower()] if text.__class__ is str else []
    for c in listed(concept.get("coding")):
        if c.__class__ is dict:
            code = c.get("code")
            if code.__class__ is str and code in TKI_RXNORM and c.get("system") == RXNORM:
                return True
            display = c.get("display")
            if display.__class__ is str:
                words.append(display.lower())
    return any(name in word for word in words for name in TKI_NAMES)


def names_tki(record: dict, meds: dict[str, object]) -> bool:
    """The record's medication is a TKI: its concept, its reference's display, or the Medication
    it references (Medication/<id>, or an absolute URL ending so)."""
    if _is_tki(record.get("medicationCodeableConcept")):
        return True
    reference = record.get("medicationReference")
    if not isinstance(reference, dict):
        return False
    display = reference.get("display")
    if isinstance(display, str) and any(name in display.lower() for name in TKI_NAMES):
        return True
    ref = reference_of(reference)
    if ref is None:
        return False
    if "/Medication/" in ref:
        ref = "Medication/" + ref.rsplit("/Medication/", 1)[1]
    return ref in meds and _is_tki(meds[ref])


def _record_time(record: dict) -> tuple[datetime | None, object]:
    """When a medication record happened, for evidence: the first date it gives."""
    for text in (record.get("effectiveDateTime"), _period_start(record.get("effectivePeriod")),
                 record.get("authoredOn"), record.get("whenHandedOver"), record.get("whenPrepared"),
                 record.get("dateAsserted")):
        if text is not None and (when := moment(text)) is not None:
            return when, text
    return None, None


def tki_failed_from(bundle: dict, today: date | None = None) -> tuple[bool | None, dict | None]:
    meds = _medications(bundle)
    return latest(resources(bundle, MEDICATION_USE), lambda r: True if names_tki(r, meds) else None, _record_time)


def tki_failed(bundle: dict, today: date | None = None) -> bool | None:
    """TKIFailed: a TKI in the medication history suggests true; the clinician confirms."""
    records = resources(bundle, MEDICATION_USE)
    if records:
        meds = _medications(bundle)
        for record in records:
            if names_tki(record, meds):
                return True
    return None


def prescriber_from(bundle: dict, today: date | None = None) -> tuple[bool | None, dict | None]:
    for role in resources(bundle, "PractitionerRole"):
        for specialty in listed(role.get("specialty")):
            if any(s == NUCC and c in ONCOLOGY_NUCC for s, c in codings(specialty)):
                return True, role
    return None, None


def prescriber_is_oncologist(bundle: dict, today: date | None = None) -> bool | None:
    """PrescriberIsOncologist: a PractitionerRole with a NUCC oncology specialty."""
    return prescriber_from(bundle)[0]


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


# ----- evidence: the resource each answer came from

def _date_part(text: object) -> str:
    return text[:10] if isinstance(text, str) and FULL_DATE.match(text) else ""


# define -> (value and source, the source's date, its label)
SOURCES: dict[str, tuple[Callable[[dict, date], tuple[object, dict | None]], Callable[[dict], str], str]] = {
    "AgeInYears": (age_from, lambda p: _date_part(p.get("birthDate")), "birth date"),
    "Diagnosis": (diagnosis_from, lambda c: _date_part(_condition_time(c)[1]), "Condition"),
    "DiseaseStatus": (disease_status_from, lambda c: _date_part(_condition_time(c)[1]), "Condition"),
    "CD22Percent": (cd22_percent_from, lambda o: _date_part(observed(o)[1]), "CD22 result"),
    "CD22Status": (cd22_status_from, lambda o: _date_part(observed(o)[1]), "CD22 result"),
    "PhStatus": (ph_status_from, lambda o: _date_part(observed(o)[1]), "Philadelphia chromosome result"),
    "TKIFailed": (tki_failed_from, lambda r: _date_part(_record_time(r)[1]), "medication record"),
    "PrescriberIsOncologist": (prescriber_from, lambda r: "", "practitioner role"),
}


def with_evidence(define: str, view: dict, today: date) -> tuple[object, dict | None]:
    """(value, {"reference", "date", "label"}) of one define; evidence None without a single
    identifiable source (a resource with no id)."""
    find, dated, label = SOURCES[define]
    value, source = find(view, today)
    if value is None or source is None:
        return value, None
    rid = source.get("id")
    if not isinstance(rid, str) or not rid:
        return value, None
    return value, {"reference": f"{source['resourceType']}/{rid}", "date": dated(source), "label": label}
