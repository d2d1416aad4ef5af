"""Validate served resources with the independent medplum validator (tools/node/validate.cjs)."""
from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "node"
# The unmodified HL7 packages, carried in the repository (tests/ig/README.md): a clone has them.
IG_DIR = ROOT / "tests" / "ig"
IG_PACKAGES = ("davinci-crd-2.0.1.tgz", "davinci-dtr-2.0.1.tgz", "davinci-pas-2.2.1.tgz")


def ig_package(name: str) -> Path:
    """The package file `name` (e.g. "davinci-crd-2.0.1.tgz") in tests/ig, or an assertion
    naming the missing file (never a bare StopIteration from an empty glob)."""
    path = IG_DIR / name
    assert path.is_file(), f"IG package {name} is missing from {IG_DIR} (see tests/ig/README.md)"
    return path


def ig_packages() -> list[Path]:
    """Every package the validator loads; an assertion names each one that is missing."""
    missing = [name for name in IG_PACKAGES if not (IG_DIR / name).is_file()]
    assert not missing, f"IG package(s) missing from {IG_DIR}: {', '.join(missing)} (see tests/ig/README.md)"
    return [IG_DIR / name for name in IG_PACKAGES]


def available() -> bool:
    return bool(shutil.which("node")) and (TOOLS / "node_modules" / "@medplum" / "core").exists()


@lru_cache(maxsize=1)
def ig_profiles() -> list[dict]:
    """StructureDefinitions of the CRD, DTR and PAS packages in tests/ig."""
    out = []
    for tgz in ig_packages():
        with tarfile.open(tgz) as tar:
            for member in tar.getmembers():
                if member.name.startswith("package/StructureDefinition-") and member.name.endswith(".json"):
                    out.append(json.load(tar.extractfile(member)))
    return out


# Known false positives of medplum 5.2.13, not defects of the resources:
# - it rejects a one-item array checked against a pattern (e.g. subjectType ["Patient"]);
# - it does not match extensions to slices discriminated by url (it counts 0 qr-context even
#   when two are present), so those counts are checked by our own tests instead.
KNOWN_FALSE_POSITIVES = ("subjectType",)
SLICE_MISCOUNT = "Incorrect number of values provided for slice"


def is_false_positive(issue: dict) -> bool:
    expression = issue.get("expression") or ""
    return any(fp in expression for fp in KNOWN_FALSE_POSITIVES) or (
        expression.endswith(".extension") and SLICE_MISCOUNT in (issue.get("details") or ""))


def validate(items: list[tuple[dict, str | None]]) -> list[list[dict]]:
    """Error issues per (resource, profile) pair, known false positives removed."""
    payload = {"profiles": ig_profiles(), "items": [{"resource": r, "profile": p} for r, p in items]}
    done = subprocess.run(["node", str(TOOLS / "validate.cjs")], input=json.dumps(payload), cwd=TOOLS,
                          capture_output=True, text=True, timeout=180, check=True)
    return [[i for i in result["issues"] if i["severity"] in ("error", "fatal") and not is_false_positive(i)]
            for result in json.loads(done.stdout)]
