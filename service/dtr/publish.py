"""`python -m service.dtr.publish --server URL`: load the DTR artifacts into any FHIR R4 server.

A transaction Bundle of conditional PUTs by canonical URL and version (FHIR R4 http.html#cond-update),
so re-publishing the same version updates in place and a new version is added beside it.
"""
from __future__ import annotations

import argparse
import sys
from urllib.parse import quote

from service.dtr.artifacts import libraries, questionnaires
from service.errors import ApiError, upstream
from service.fhir.client import HttpClient, named
from service.fhir.codesystem import build_codesystem
from service.fhir.valuesets import valuesets


def build_transaction() -> dict:
    """CodeSystem, ValueSets, Libraries and Questionnaires, each PUT on `?url=...&version=...`."""
    resources = [build_codesystem(), *valuesets().values(), *libraries().values(), *questionnaires().values()]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "fullUrl": f"{r['url']}|{r['version']}",
        "resource": {k: v for k, v in r.items() if k != "id"},  # the server assigns or matches ids
        "request": {"method": "PUT",
                    "url": f"{r['resourceType']}?url={quote(r['url'], safe='')}&version={quote(r['version'], safe='')}"},
    } for r in resources]}


def publish(server: str, token: str | None = None, http: HttpClient | None = None) -> dict:
    """POST the transaction; returns the server's transaction-response Bundle (or a 502 ApiError)."""
    # The operator names the one server on the command line: its origin is the allow-list (so a loopback
    # server may be named; plain http only to loopback, and never a URL with credentials).
    http = (http or HttpClient(timeout=30.0)).under(named(server))
    result = http.post_json_sync(server.rstrip("/"), build_transaction(), token=token, what="the FHIR server")
    if not isinstance(result, dict):
        raise upstream("the FHIR server did not answer with a Bundle")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="FHIR R4 base URL")
    parser.add_argument("--token", help="bearer token for the server")
    args = parser.parse_args(argv)
    try:
        result = publish(args.server, args.token)
    except ApiError as exc:
        print(f"publishing failed: {exc.message}", file=sys.stderr)
        return 1
    statuses = [e.get("response", {}).get("status", "?") for e in result.get("entry", [])]
    print(f"published {len(statuses)} resources: {', '.join(sorted(set(statuses)))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
