"""Operator commands: `besponsa-pa check` validates settings, declarations and storage;
`besponsa-pa create-reviewer` makes a reviewer desk account."""
from __future__ import annotations

import argparse
import getpass
import sys


def run_check() -> int:
    """Exit 0 when settings parse, every declaration validates and storage answers."""
    from service.app import load_settings
    from service.policies.registry import load_policies
    from service.storage import open_storage

    settings = load_settings()
    policies = load_policies()
    storage = open_storage(settings)
    reachable = storage.ping()
    storage.close()
    print(f"settings ok; {len(policies)} policies ({', '.join(sorted(policies))}); "
          f"storage {storage.engine.dialect.name} {'reachable' if reachable else 'UNREACHABLE'}")
    return 0 if reachable else 1


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or typed twice at a prompt that does not echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def run_create_reviewer(args: argparse.Namespace) -> int:
    """Create one account in the configured database (migrated first); exit 1 naming what is wrong."""
    from service.app import load_settings
    from service.errors import ApiError
    from service.storage import open_storage
    from service.storage.accounts import create_reviewer

    try:
        password = read_password(args.password_stdin)
    except (ValueError, EOFError) as exc:
        print(f"create-reviewer: {exc or 'no password given'}", file=sys.stderr)
        return 1
    storage = open_storage(load_settings())
    try:
        storage.migrate()
        create_reviewer(storage, args.username, args.role, password, args.npi)
    except ApiError as exc:
        print(f"create-reviewer: {exc.message}", file=sys.stderr)
        return 1
    finally:
        storage.close()
    print(f"created reviewer {args.username} ({args.role})")
    return 0


def main(argv: list[str] | None = None) -> int:
    from service.auth.cli import add_commands as add_client_commands
    from service.storage.accounts import ROLES

    parser = argparse.ArgumentParser(prog="besponsa-pa", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="validate settings, policy declarations and storage")
    create = sub.add_parser("create-reviewer", help="create a reviewer desk account")
    create.add_argument("--username", required=True, help="3-64 characters: a-z 0-9 . _ -")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--npi", help="the reviewer's 10-digit NPI, stated on the ClaimResponses they sign")
    create.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add_client_commands(sub)  # make-client, get-token (service/auth/cli.py)
    args = parser.parse_args(argv)
    if hasattr(args, "run"):
        return int(args.run(args))
    if args.command == "check":
        return run_check()
    if args.command == "create-reviewer":
        return run_create_reviewer(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
