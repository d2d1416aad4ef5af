#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what the tests use, then runs pytest
# (which includes ruff and mypy: tests/test_guardrails.py).
# Idempotent: on a machine that already has everything it only re-checks and runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# The locked versions (requirements-test.lock, made by `uv pip compile`), then this project itself
# without re-resolving: two installs a month apart get the same packages.
python3 -m pip install --quiet --disable-pip-version-check -r requirements-test.lock
python3 -m pip install --quiet --disable-pip-version-check --no-deps -e .

# npm tools: the CQL-to-ELM translator, cql-execution + cql-exec-fhir (differential tests),
# the medplum validator, and LHC-Forms (served from our own static folder, never a CDN).
# Like chromium below: if npm cannot install (no npm, no registry), warn and run the rest; the
# tests that need these tools skip themselves.
npm ci --prefix tools/node --no-audit --no-fund --loglevel=error \
  || echo "warning: npm tools could not be installed; CQL translator/engine, validator and LHC-Forms tests will be skipped" >&2
# A real FHIR R4 server for the end-to-end tests (Medplum's FhirRouter over its MemoryRepository).
npm ci --prefix tools/medplum --no-audit --no-fund --loglevel=error \
  || echo "warning: the test FHIR server could not be installed; tests/test_medplum_e2e.py will be skipped" >&2

# Debian's Chromium for the SMART app's browser tests (Playwright drives it, never downloads one).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
      || echo "warning: could not install chromium; browser tests will be skipped" >&2
  else
    echo "chromium is missing: apt-get install chromium (browser tests will be skipped)" >&2
  fi
fi

# Real PostgreSQL when one answers (CI's machine runs one); SQLite otherwise.
if [ -z "${TEST_DATABASE_URL:-}" ] && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  export TEST_DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/test"
fi

exec python3 -m pytest "$@"
