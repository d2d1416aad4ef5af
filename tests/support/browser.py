"""Debian's Chromium driven by Playwright for the browser tests: where it is, how it starts, where shots go."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# A module's pytestmark: marked `browser`, skipped (not failed) where chromium is not installed.
BROWSER_TESTS = [pytest.mark.browser,
                 pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                    reason="Debian chromium is not installed (apt-get install chromium)")]


@contextmanager
def launch_chromium() -> Iterator:
    """Headless system Chromium, quiet: no sandbox (containers), no background network or updates."""
    from playwright.sync_api import sync_playwright  # imported late: only browser tests need it
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        yield browser
        browser.close()


def save_screenshot(page, name: str) -> None:
    """The whole page as test-artifacts/<name>, for a person to look at after the run."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)
