"""Reviewer desk accounts on the command line: create, list, disable/enable, reset-password, unlock."""
from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime

from service.fhir.npi import NPI_RULE, is_valid_npi
from service.ops.database import opened
from service.ops.formatting import Defaults
from service.storage import admin


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or typed twice at a prompt that does not echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def run_create(args: argparse.Namespace) -> int:
    """Create one account in the configured database (migrated first)."""
    from service.storage.accounts import create_reviewer
    password = read_password(args.password_stdin)
    with opened() as storage:
        storage.migrate()
        create_reviewer(storage, args.username, args.role, password, args.npi)
    print(f"created reviewer {args.username} ({args.role})")
    return 0


def shown(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ") if moment else "-"


def run_list(_args: argparse.Namespace) -> int:
    with opened() as storage:
        accounts = admin.list_accounts(storage)
    print(f"{'username':<24} {'role':<20} {'npi':<10} {'state':<8} {'locked until':<17} last sign-in")
    for a in accounts:
        print(f"{a.username:<24} {a.role:<20} {a.npi or '-':<10} {'active' if a.active else 'disabled':<8} "
              f"{shown(a.locked_until):<17} {shown(a.last_login_at)}")
    return 0


def run_change(args: argparse.Namespace) -> int:
    """disable, enable, reset-password or unlock one account; its sessions end either way."""
    with opened() as storage:
        if args.action == "reset-password":
            admin.reset_password(storage, args.username, read_password(args.password_stdin))
        elif args.action == "unlock":
            admin.unlock(storage, args.username)
        else:
            admin.set_active(storage, args.username, args.action == "enable")
    print(f"{args.username}: {args.action} done; its desk sessions were ended")
    return 0


def npi(text: str) -> str:
    if not is_valid_npi(text):
        raise argparse.ArgumentTypeError(NPI_RULE)
    return text


def add_commands(sub: argparse._SubParsersAction) -> None:
    """create-reviewer and the reviewer group on the besponsa-pa command."""
    from service.storage.accounts import ROLES

    def creation(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--username", required=True, help="3-64 characters: a-z 0-9 . _ -")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--npi", type=npi, help="the reviewer's 10-digit NPI, stated on the ClaimResponses they sign")
        parser.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
        parser.set_defaults(run=run_create)

    creation(sub.add_parser("create-reviewer", formatter_class=Defaults, help="create a reviewer desk account"))
    group = sub.add_parser("reviewer", formatter_class=Defaults, help="reviewer desk accounts: list, disable, "
                                                                      "enable, reset-password, unlock")
    actions = group.add_subparsers(dest="action", required=True)
    creation(actions.add_parser("create", formatter_class=Defaults, help="create an account"))
    actions.add_parser("list", formatter_class=Defaults, help="every account, its state and last sign-in").set_defaults(
        run=run_list)
    for action, text in (("disable", "refuse its sign-ins and end its sessions"), ("enable", "allow sign-ins again"),
                         ("reset-password", "set a new password and clear a lockout"),
                         ("unlock", "clear a lockout after failed sign-ins")):
        parser = actions.add_parser(action, formatter_class=Defaults, help=text)
        parser.add_argument("username")
        if action == "reset-password":
            parser.add_argument("--password-stdin", action="store_true",
                                help="read the password from the first line of stdin")
        parser.set_defaults(run=run_change)
