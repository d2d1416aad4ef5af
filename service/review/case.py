"""What a reviewer reads about a request: the order, the patient (minimum necessary, HIPAA 164.502(b)), the answers.

Each answer shows its DTR 2.1 information-origin (auto from the chart, override, manual); an
answer without that extension is "not stated", never guessed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cql_equivalents.besponsa_prefill import (
    CONDITIONS,
    cd22_percent_from,
    cd22_status_from,
    codings,
    diagnosis_code,
    index_bundle,
    observed,
    percent_of,
    resources,
)
from service.fhir.bundle import BundleIndex
from service.fhir.json import obj, objs, text_of
from service.fhir.responses import INFORMATION_ORIGIN, PREFILL_EVIDENCE, iter_items
from service.pas.claimresponse import NPI
from service.policies.concepts import BOOLEAN, CODING, CONCEPTS
from service.policies.drug import BESPONSA
from service.policies.model import Policy

ORIGIN_WORDS = {"auto": "auto: from the chart", "override": "override: chart value changed by the clinician",
                "manual": "manual: entered by the clinician"}
NOT_STATED = "not stated"


@dataclass(frozen=True)
class ChartFact:
    """What the request Bundle's own chart entries say of one concept, read by the prefill's rules
    (CONTRACT: where prefill finds these facts), and where: "Observation, 2026-11-20"."""

    value: object
    source: str
    percent: float | None = None  # a CD22 call's own percent of CD22-positive blasts, when it states one
    all_values: frozenset[str] = frozenset()  # diagnosis: every one the Bundle's Conditions code


@dataclass(frozen=True)
class AnswerRow:
    concept: str
    question: str
    answer: str
    origin: str  # auto | override | manual | "" (not stated)
    origin_words: str
    evidence: str = ""  # the chart entry a prefilled answer came from ("CD22 result of 2026-11-25")


def show_value(concept: str, value: object) -> str:
    """An engine value as the Questionnaire offered it (coded answers by their display)."""
    kind = CONCEPTS[concept].answer_type
    if value is None:
        return "not answered"
    if kind == CODING:
        return CONCEPTS[concept].option_display(str(value))
    if kind == BOOLEAN:
        return "Yes" if value is True else "No"
    return f"{value:g}" if isinstance(value, float) else str(value)


def answer_origin(item: dict) -> str:
    """The information-origin `source` code of an item's first answer, or "" when it states none."""
    for answer in objs(item.get("answer"))[:1]:
        for ext in objs(answer.get("extension")):
            if ext.get("url") == INFORMATION_ORIGIN:
                for sub in objs(ext.get("extension")):
                    if sub.get("url") == "source" and text_of(sub.get("valueCode")) in ORIGIN_WORDS:
                        return sub["valueCode"]
    return ""


def answer_evidence(item: dict) -> str:
    """The prefill-evidence display of an item's first answer (DTR prefill; service/dtr/response.py)."""
    for answer in objs(item.get("answer"))[:1]:
        for ext in objs(answer.get("extension")):
            if ext.get("url") == PREFILL_EVIDENCE:
                ref = obj(ext.get("valueReference"))
                return " · ".join(t for t in (text_of(ref.get("display")), text_of(ref.get("reference"))) if t)
    return ""


def list_answers(policy: Policy, questionnaire_response: dict, answers: dict[str, object]) -> list[AnswerRow]:
    """Every answered criterion in the policy's question order, with where its value came from."""
    items = list(iter_items(questionnaire_response.get("item")))
    origins = {text_of(i.get("linkId")): answer_origin(i) for i in items}
    evidence = {text_of(i.get("linkId")): answer_evidence(i) for i in items}
    rows = []
    for code in [*policy.concepts, *(c for c in answers if c not in policy.concepts and c in CONCEPTS)]:
        if code not in answers:
            continue
        origin = origins.get(code, "")
        rows.append(AnswerRow(code, CONCEPTS[code].question, show_value(code, answers[code]), origin,
                              ORIGIN_WORDS.get(origin, NOT_STATED), evidence.get(code, "")))
    return rows


def age_on(birth: str, day: date) -> int | None:
    try:
        born = date.fromisoformat(birth[:10]) if len(birth) >= 10 else None
    except ValueError:
        return None
    if born is None:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def describe_drug(coding: dict) -> str:
    """The billed code and what it is (the drug's own display when the code is Besponsa's)."""
    code = text_of(coding.get("code"))
    display = text_of(coding.get("display")) or (BESPONSA.code.display if code in BESPONSA.hcpcs_codes else "")
    return " ".join(filter(None, (code, display))) or "not stated"


def summarize_request(bundle: dict, answers: dict[str, object], received: date) -> dict:
    """Age and sex of the patient, the drug, quantity and prescriber NPI: nothing that names the patient."""
    index = BundleIndex(bundle)
    entries = objs(bundle.get("entry"))
    claim = obj(entries[0].get("resource")) if entries else {}
    patient = index.resolve(claim.get("patient"), "Patient") or {}
    age = age_on(text_of(patient.get("birthDate")), received)
    item = objs(claim.get("item"))[:1]
    product = obj(item[0].get("productOrService")) if item else {}
    coding = objs(product.get("coding"))[:1]
    quantity = obj(item[0].get("quantity")) if item else {}
    provider = index.resolve(claim.get("provider")) or {}
    npi = next((text_of(i.get("value")) for i in objs(provider.get("identifier")) if i.get("system") == NPI), "")
    return {
        "age": age if age is not None else answers.get("age-years"),
        "age_source": "birth date, at receipt" if age is not None else "answer",
        "sex": text_of(patient.get("gender")) or "not stated",
        "drug": describe_drug(coding[0] if coding else {}),
        "quantity": f"{quantity.get('value', '')} {text_of(quantity.get('unit'))}".strip() or "not stated",
        "prescriber_npi": npi or "not stated",
        "chart": chart_facts(bundle),
    }


def source_words(resource: dict | None) -> str:
    """'Observation, 2026-11-20': the kind of chart entry and its date (when it states one)."""
    if not resource:
        return ""
    dated = observed(resource)[1] if resource.get("resourceType") == "Observation" else (
        resource.get("onsetDateTime") or resource.get("recordedDate"))
    day = dated[:10] if isinstance(dated, str) else ""
    return ", ".join(filter(None, (str(resource.get("resourceType", "")), day)))


def chart_facts(bundle: dict) -> dict[str, ChartFact]:
    """CD22 status and percent (the latest result stating each) and the diagnoses the Bundle's Observations
    and Conditions code: what the desk checks the answers against (issue 22)."""
    view: dict[str, object] = {"_index": index_bundle(bundle)}
    facts: dict[str, ChartFact] = {}
    status, lab = cd22_status_from(view)
    if status is not None and lab is not None:
        facts["cd22-status"] = ChartFact(status, source_words(lab), percent_of(lab.get("valueQuantity")))
    percent, lab = cd22_percent_from(view)
    if percent is not None and lab is not None:
        facts["cd22-percent"] = ChartFact(percent, source_words(lab), percent)
    coded = [(d, c) for c in resources(view, CONDITIONS) for s, code in codings(c.get("code"))
             if (d := diagnosis_code(s, code))]
    if coded:
        value = next(d for d in ("b-all", "lbl", "nhl-other") if any(d == x for x, _ in coded))  # the prefill's order
        source = next(c for d, c in reversed(coded) if d == value)
        facts["diagnosis"] = ChartFact(value, source_words(source), all_values=frozenset(d for d, _ in coded))
    return facts
