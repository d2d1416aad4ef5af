"""What a person does in the SMART app, for the browser tests: launch, pick a choice, wait for autosave."""
from __future__ import annotations

import json

ORIGIN = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition/information-origin"
EVIDENCE = "http://example.org/fhir/StructureDefinition/prefill-evidence"
CONTEXT = ["Coverage/cov1", "MedicationRequest/mr1"]
CONTACTS = json.dumps({"bcbst": "BCBST utilization management, 1-800-555-0142 (peer-to-peer and appeals)",
                       "*": "Payer provider services, 1-800-555-0100"})


def field(page, concept: str, depth: str = "/1"):
    return page.locator(f'[id="{concept}{depth}"]')


def launch(page, app, ehr) -> None:
    """EHR launch to the form, rendered (marks and counts in place)."""
    page.goto(f"{app.url}/smart/launch?iss={ehr.url}&launch=xyz")
    page.wait_for_url("**/smart/form*")
    page.locator("body[data-form-ready=true]").wait_for()


def choose(page, concept: str, option: str) -> None:
    """Pick an answer from an LHC-Forms autocomplete list by its display text, as a person would."""
    box = field(page, concept)
    box.click()
    box.fill("")
    box.press_sequentially(option[:6])
    page.locator("#completionOptions li", has_text=option).first.click()
    assert box.input_value() == option


def wait_saved(page) -> None:
    page.locator("#status", has_text="Saved to the patient's chart at").wait_for()


def submit(page, button: str = "#submit") -> None:
    page.click(button)
    page.wait_for_url("**/smart/result")


def answers(qr: dict) -> dict:
    """linkId -> (value, origin, evidence reference or None, author or None)."""
    out = {}

    def walk(items):
        for item in items:
            for answer in item.get("answer", []):
                value = next(v for k, v in answer.items() if k.startswith("value"))
                origin = next(e for e in answer["extension"] if e["url"] == ORIGIN)["extension"]
                evidence = next((e["valueReference"]["reference"] for e in answer["extension"]
                                 if e["url"] == EVIDENCE), None)
                author = next((p["extension"][0]["valueReference"]["reference"] for p in origin
                               if p["url"] == "author"), None)
                out[item["linkId"]] = (value.get("code") if isinstance(value, dict) else value,
                                       origin[0]["valueCode"], evidence, author)
            walk(item.get("item", []))
    walk(qr["item"])
    return out


def unfocused_stops(page, stops: int = 40) -> tuple[list[str], list[str]]:
    """Tab through the page: every stop reached, and those showing no visible focus (outline or ring)."""
    reached, unfocused = [], []
    for _ in range(stops):
        page.keyboard.press("Tab")
        here, shown = page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
            return [e.id || e.textContent.trim().slice(0, 30) || e.tagName,
                    (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none'] }""")
        if here in reached:
            break
        reached.append(here)
        if not shown:
            unfocused.append(here)
    return reached, unfocused
