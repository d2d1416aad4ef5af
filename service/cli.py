"""besponsa-pa: the operator's commands (docs/operations.md "Command line").

  check            validate settings, policy declarations and storage
  status           the database, schema, clients, reviewers and open work at a glance
  migrate          upgrade the database schema to this version
  make-client      make a key pair and print its SMART_CLIENTS entry
  add-client       register a client in a SMART_CLIENTS file; add-key rotates its key
  get-token        get an access token with a signed client assertion
  create-reviewer  create a reviewer desk account; `reviewer` lists and changes them
  rotate-secrets   replace the shared signing secrets kept in the database
  prune            delete rows older than their retention
  publish          load the DTR Questionnaires, Libraries and ValueSets into a FHIR server
"""
from __future__ import annotations

import argparse
import sys


def run_check(_args: argparse.Namespace) -> int:
    """Exit 0 when settings parse, every declaration validates and storage answers."""
    from service.ops.database import opened
    from service.policies.registry import load_policies
    from service.storage.schema import describe_failure

    policies = load_policies()
    with opened() as storage:
        reachable = storage.ping()
        name = storage.engine.dialect.name
    state = "answering" if reachable else \
        f"NOT ANSWERING ({describe_failure(storage.ping_error) if storage.ping_error else 'no reason given'})"
    print(f"settings ok; {len(policies)} policies ({', '.join(sorted(policies))}); storage {name} {state}")
    return 0 if reachable else 1


def run_publish(args: argparse.Namespace) -> int:
    """service.dtr.publish: one transaction of conditional PUTs to the FHIR server."""
    from service.dtr.publish import publish
    result = publish(args.server, args.token)
    statuses = [e.get("response", {}).get("status", "?") for e in result.get("entry", [])]
    print(f"published {len(statuses)} resources: {', '.join(sorted(set(statuses)))}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from service.ops import clients, database, reviewers
    from service.ops.formatting import Defaults

    parser = argparse.ArgumentParser(prog="besponsa-pa", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("check", formatter_class=Defaults,
                   help="validate settings, policy declarations and storage (exit 1 when storage does not answer)"
                   ).set_defaults(run=run_check)
    database.add_commands(sub)
    clients.add_commands(sub)
    reviewers.add_commands(sub)
    publishing = sub.add_parser("publish", formatter_class=Defaults,
                                help="load the DTR Questionnaires, Libraries and ValueSets into a FHIR R4 server")
    publishing.add_argument("--server", required=True, help="the FHIR R4 base URL")
    publishing.add_argument("--token", help="a bearer token for that server")
    publishing.set_defaults(run=run_publish)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; a refusal is one line on stderr and exit 1 (never a traceback)."""
    from sqlalchemy.exc import SQLAlchemyError

    from service.errors import ApiError
    from service.ops.clients import CommandError
    from service.storage.schema import describe_failure

    args = build_parser().parse_args(argv)
    where = f"besponsa-pa {args.command}" + (f" {args.action}" if getattr(args, "action", None) else "")
    try:
        return int(args.run(args))
    except ApiError as exc:
        message = exc.message
    except (CommandError, ValueError, EOFError) as exc:
        message = str(exc) or "no input given"
    except OSError as exc:
        message = f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")
    except SQLAlchemyError as exc:
        message = f"the database refused: {describe_failure(exc)}"
    print(f"{where}: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
