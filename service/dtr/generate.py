"""`python -m service.dtr.generate`: regenerate every committed DTR artifact from the declarations."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from service.dtr.questionnaire import build_questionnaire
from service.policies.registry import load_policies

ROOT = Path(__file__).resolve().parents[2] / "questionnaires"


def render_json(resource: dict) -> str:
    """Stable text for a committed artifact: drift tests compare it byte for byte."""
    return json.dumps(resource, indent=2, ensure_ascii=False) + "\n"


def build_artifacts(with_elm: bool = True) -> dict[str, str]:
    """Every generated file, relative to questionnaires/, with its text."""
    files = {f"{pid}.json": render_json(build_questionnaire(p)) for pid, p in load_policies().items()}
    from service.dtr import cql  # CQL libraries and their ELM (the npm translator makes the ELM)
    files.update(cql.build_cql_artifacts(with_elm=with_elm))
    return files


def write_artifacts(root: Path = ROOT) -> list[str]:
    written = []
    for name, text in build_artifacts().items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(name)
    return written


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    changed = write_artifacts()
    print(f"{len(changed)} file(s) regenerated: {', '.join(changed) or 'none'}")


if __name__ == "__main__":
    main()
