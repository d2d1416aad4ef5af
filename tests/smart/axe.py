"""axe-core inside the browser tests: WCAG 2.1 A/AA rules on a page, at desktop and phone widths."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# npm's axe-core (MPL-2.0), installed by `npm ci --prefix tools/node`; AXE_CORE_JS may point elsewhere.
CANDIDATES = (os.environ.get("AXE_CORE_JS", ""), str(ROOT / "tools/node/node_modules/axe-core/axe.min.js"))
WIDTHS = (1366, 390)  # a clinic desktop, a phone
BLOCKING = ("serious", "critical")


def axe_source() -> str:
    """The axe-core bundle; the test skips (names what to install) where it is absent."""
    found = next((p for p in CANDIDATES if p and Path(p).is_file()), None)
    if found is None:
        pytest.skip("axe-core is not installed (npm ci --prefix tools/node, or AXE_CORE_JS=path/axe.min.js)")
    return Path(found).read_text(encoding="utf-8")


def blocking_violations(page) -> list[str]:
    """Serious and critical axe-core violations on the page as it stands: 'rule (impact): target'."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())  # over the DevTools protocol: the page's CSP does not apply
    result = page.evaluate("""() => axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})""")
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}"
            for v in result["violations"] if v["impact"] in BLOCKING]


def assert_accessible(page, where: str) -> None:
    """No serious or critical violation at each width (the page is re-checked after each resize)."""
    width, height = page.viewport_size["width"], page.viewport_size["height"]
    found = {}
    for w in WIDTHS:
        page.set_viewport_size({"width": w, "height": 900})
        page.wait_for_timeout(50)
        if problems := blocking_violations(page):
            found[w] = problems
    page.set_viewport_size({"width": width, "height": height})
    assert not found, f"axe-core on {where}: {found}"
