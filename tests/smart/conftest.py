"""The SMART app's browser tests: the service on loopback (with the payer contacts the pages show) and one
Chromium, each made once per module."""
from __future__ import annotations

import pytest

from tests.pas.server import running_server
from tests.smart.flows import CONTACTS
from tests.support.browser import launch_chromium


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("smart") / "data", None, SESSION_SECRET="test-secret",
                        PAYER_CONTACTS=CONTACTS) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b
