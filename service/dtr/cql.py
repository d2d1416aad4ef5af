"""Prefill CQL per payer, generated from the declaration, translated to ELM, served as Libraries."""
from __future__ import annotations

import base64
import json
import subprocess
from functools import cache
from pathlib import Path

from service.dtr.cql_defines import COMMON, DEFINES, NEEDS
from service.policies import canonical
from service.policies.concepts import CONCEPTS
from service.policies.model import Policy, concepts_used
from service.policies.registry import all_policies

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "questionnaires"
TRANSLATE = ROOT / "tools" / "node" / "translate.mjs"


def defines_for(policy: Policy) -> list[str]:
    """The CQL defines this payer's Questionnaire prefills, in question order."""
    return [define for c in concepts_used(policy) if (define := CONCEPTS[c].cql_define)]


def build_cql(policy: Policy) -> str:
    """One library per payer: only the defines its policy needs (DTR 2.1 section 4.4)."""
    name, defines = canonical.library_name(policy), defines_for(policy)
    helpers = list(dict.fromkeys(h for d in defines for h in NEEDS.get(d, ())))
    header = (f"// Generated from service/policies/payers/{policy.payer_id}.py by "
              f"`python -m service.dtr.generate`; do not edit.\n"
              f"library {name} version '{canonical.ARTIFACT_VERSION}'\n\n"
              "using FHIR version '4.0.1'\n\ncontext Patient\n")
    return header + COMMON + "".join(helpers) + "".join(DEFINES[d] for d in defines)


def translate(sources: dict[str, str]) -> dict[str, dict]:
    """CQL -> ELM JSON with the npm translator; raises naming every translation error."""
    done = subprocess.run(["node", str(TRANSLATE)], input=json.dumps(sources), capture_output=True,
                          text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"CQL translation failed:\n{done.stderr or done.stdout}")
    return json.loads(done.stdout)


def render_elm(elm: dict) -> str:
    return json.dumps(elm, indent=1, sort_keys=True) + "\n"


def build_cql_artifacts(with_elm: bool = True) -> dict[str, str]:
    """questionnaires/cql/<Library>.cql and (translated) questionnaires/elm/<Library>.json."""
    sources = {canonical.library_name(p): build_cql(p) for p in all_policies().values()}
    files = {f"cql/{name}.cql": text for name, text in sources.items()}
    if with_elm:
        files.update({f"elm/{name}.json": render_elm(elm) for name, elm in translate(sources).items()})
    return files


@cache
def read_elm(name: str) -> str:
    return (ARTIFACTS / "elm" / f"{name}.json").read_text(encoding="utf-8")


def build_library(policy: Policy) -> dict:
    """FHIR Library: CQL and its ELM (both content types), name == CQL library name (DTR 2.1)."""
    name = canonical.library_name(policy)
    cql = build_cql(policy)
    return {
        "resourceType": "Library",
        "id": canonical.library_id(policy),
        "meta": {"profile": ["http://hl7.org/fhir/uv/cql/StructureDefinition/cql-library"]},
        "url": canonical.library_url(policy),
        "version": canonical.ARTIFACT_VERSION,
        "name": name,
        "title": f"{policy.payer_name} Besponsa prefill",
        "status": "active",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/library-type",
                             "code": "logic-library"}]},
        "description": f"Prefill logic for the {policy.payer_name} Besponsa Questionnaire; generated "
                       f"from service/policies/payers/{policy.payer_id}.py.",
        "dataRequirement": [{"type": t} for t in ("Patient", "Condition", "Observation", "Medication",
                                                  "MedicationStatement", "MedicationRequest",
                                                  "MedicationAdministration", "MedicationDispense",
                                                  "PractitionerRole")],
        "content": [
            {"contentType": "text/cql", "data": base64.b64encode(cql.encode()).decode()},
            {"contentType": "application/elm+json",
             "data": base64.b64encode(read_elm(name).encode()).decode()},
        ],
    }
