"""The patient and order banner, and one-line summaries of the chart entries answers came from."""
from __future__ import annotations

from service.fhir.json import obj, objs, text_of
from service.policies.drug import BESPONSA

NOT_ON_FILE = "not on file"


def person_name(patient: dict) -> str:
    """HumanName: the official name first, else the first one; text, else given + family."""
    names = objs(patient.get("name"))
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    return text_of(name.get("text")) or " ".join(
        [*(text_of(g) for g in name.get("given") or () if isinstance(g, str)), text_of(name.get("family"))]).strip()


def identifier_of(resource: dict, type_code: str) -> str:
    """The identifier whose type is `type_code` (v2-0203: MR, MB), else ''."""
    for ident in objs(resource.get("identifier")):
        if any(text_of(c.get("code")) == type_code for c in objs(obj(ident.get("type")).get("coding"))):
            return text_of(ident.get("value"))
    return ""


def dose_words(order: dict) -> str:
    """The ordered dose as the EHR wrote it: dosage text, else dose quantity and unit."""
    for dosage in objs(order.get("dosageInstruction")):
        if text_of(dosage.get("text")):
            return text_of(dosage["text"])
        for rate in objs(dosage.get("doseAndRate")):
            dose = obj(rate.get("doseQuantity"))
            if dose.get("value") is not None:
                return f"{dose['value']} {text_of(dose.get('unit'))}".strip()
    return ""


def banner(ctx: dict, payer_name: str) -> dict[str, str]:
    """Who and what the form is for (SMART launch context and the order), each 'not on file' if absent."""
    patient, coverage, order = obj(ctx.get("patient")), obj(ctx.get("coverage")), obj(ctx.get("order"))
    member = text_of(coverage.get("subscriberId")) or identifier_of(coverage, "MB") or next(
        (text_of(i.get("value")) for i in objs(coverage.get("identifier"))), "")
    return {"name": person_name(patient) or NOT_ON_FILE, "birth_date": text_of(patient.get("birthDate")) or NOT_ON_FILE,
            "mrn": identifier_of(patient, "MR") or NOT_ON_FILE,
            "order": f"{BESPONSA.code.code} Besponsa (inotuzumab ozogamicin)" if order else NOT_ON_FILE,
            "dose": dose_words(order) or NOT_ON_FILE, "payer": payer_name, "member_id": member or NOT_ON_FILE}


def quantity_words(value: dict) -> str:
    return f"{value.get('value')} {text_of(value.get('unit')) or text_of(value.get('code'))}".strip()


def summarize(resource: dict) -> str:
    """A chart entry in one line for the evidence panel: what, the value or code, and when."""
    kind = text_of(resource.get("resourceType"))
    concept = obj(resource.get("code"))
    coding = next(iter(objs(concept.get("coding"))), {})
    what = text_of(concept.get("text")) or text_of(coding.get("display")) or text_of(coding.get("code"))
    if kind == "Patient":
        return f"Patient: born {text_of(resource.get('birthDate')) or NOT_ON_FILE}"
    parts = [f"{kind}: {what}" if what else kind]
    if isinstance(resource.get("valueQuantity"), dict):
        parts.append(quantity_words(resource["valueQuantity"]))
    elif isinstance(resource.get("valueCodeableConcept"), dict):
        value = resource["valueCodeableConcept"]
        first = next(iter(objs(value.get("coding"))), {})
        parts.append(text_of(value.get("text")) or text_of(first.get("display")) or text_of(first.get("code")))
    interpretation = [text_of(c.get("code")) for i in objs(resource.get("interpretation")) for c in objs(i.get("coding"))]
    if any(interpretation):
        parts.append("interpretation " + ", ".join(i for i in interpretation if i))
    when = text_of(resource.get("effectiveDateTime")) or text_of(resource.get("onsetDateTime")) or text_of(
        resource.get("recordedDate")) or text_of(resource.get("issued"))
    if when:
        parts.append(when[:10])
    return " · ".join(p for p in parts if p)


def evidence_summaries(known: dict[str, dict], references: list[str]) -> dict[str, str]:
    """reference -> summary for the chart entries the prefill named (read in this launch only)."""
    return {ref: summarize(known[ref]) for ref in references if isinstance(known.get(ref), dict)}
