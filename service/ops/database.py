"""Database commands: migrate, status, rotate-secrets and prune (docs/operations.md)."""
from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select

from service.ops.formatting import Defaults
from service.storage.admin import SECRETS, Retention, prune, rotate_secrets
from service.storage.db import Storage


@contextmanager
def opened() -> Iterator[Storage]:
    """The configured database (settings checked as at start-up), closed afterwards."""
    from service.app import check_data_dir, load_settings
    from service.storage import open_storage

    settings = load_settings()
    check_data_dir(settings)
    storage = open_storage(settings)
    try:
        yield storage
    finally:
        storage.close()


def newest_revision() -> str | None:
    """The head of the migrations shipped with this version."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from service.storage.migrate import MIGRATIONS
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def run_migrate(_args: argparse.Namespace) -> int:
    """Bring the schema to this version's newest revision (the service also does it at start-up)."""
    from service.storage.migrate import current_revision
    with opened() as storage:
        before = current_revision(storage.engine)
        storage.migrate()
        after = current_revision(storage.engine)
    print(f"schema {before or 'empty'} -> {after}" if before != after else f"schema already at {after}")
    return 0


def run_status(_args: argparse.Namespace) -> int:
    """What an operator checks first: the database, its schema, clients, reviewers, open work. Exit 1 unless usable."""
    from service.app import load_settings
    from service.auth.clients import parse_clients
    from service.storage.migrate import current_revision
    from service.storage.schema import describe_failure
    from service.storage.subscriptions import PENDING
    from service.storage.tables import Claim, OutboxRow, ReviewerAccount

    settings = load_settings()
    clients = parse_clients(settings.smart_clients)
    kinds = sorted({c.kind for c in clients.values()})
    print(f"clients: {len(clients)} registered" + (f" ({', '.join(kinds)})" if kinds else ""))
    print(f"authorization: {'OFF (AUTH_DISABLED)' if settings.auth_disabled else 'on'}")
    with opened() as storage:
        if not storage.ping():
            print(f"storage: {storage.engine.dialect.name} NOT ANSWERING ({describe_failure(storage.ping_error)})"
                  if storage.ping_error else f"storage: {storage.engine.dialect.name} NOT ANSWERING")
            return 1
        revision, newest = current_revision(storage.engine), newest_revision()
        print(f"storage: {storage.engine.dialect.name} answering")
        print(f"schema: {revision or 'empty'} (this version's newest: {newest})"
              + ("" if revision == newest else "; run `besponsa-pa migrate` or start the service"))
        if revision != newest:
            return 1
        with storage.sessions() as session:
            reviewers = session.scalar(select(func.count()).select_from(ReviewerAccount)) or 0
            active = session.scalar(select(func.count()).select_from(ReviewerAccount).where(ReviewerAccount.active)) or 0
            claims = session.scalar(select(func.count()).select_from(Claim)) or 0
            pended = session.scalar(select(func.count()).select_from(Claim).where(Claim.decision == "pend")) or 0
            owed = session.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.state == PENDING)) or 0
    print(f"reviewers: {reviewers} ({active} active)")
    print(f"claims: {claims} ({pended} pended)")
    print(f"notifications owed: {owed}")
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    """New random values for the shared signing secrets; every worker must restart to use them."""
    with opened() as storage:
        rotated = rotate_secrets(storage, args.secret or list(SECRETS))
    for name in rotated:
        print(f"rotated {name}: {SECRETS[name]} signed with the old value stop verifying")
    print("restart every worker now (they read the secrets once, at first use)")
    return 0


def run_prune(args: argparse.Namespace) -> int:
    """Delete rows past their retention; --dry-run counts them only."""
    keep = Retention(access_days=args.access_days, hook_days=args.hook_days, claim_days=args.claim_days,
                     outbox_days=args.outbox_days)
    with opened() as storage:
        counts = prune(storage, keep, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb}: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """migrate, status, rotate-secrets and prune on the besponsa-pa command."""
    sub.add_parser("migrate", formatter_class=Defaults, help="upgrade the database schema to this version").set_defaults(
        run=run_migrate)
    sub.add_parser("status", formatter_class=Defaults,
                   help="the database, schema, clients, reviewers and open work at a glance").set_defaults(run=run_status)
    rotate = sub.add_parser("rotate-secrets", formatter_class=Defaults,
                            help="replace the shared signing secrets kept in the database (server_secrets)")
    rotate.add_argument("--secret", action="append", choices=sorted(SECRETS),
                        help="one secret to rotate (repeatable; default: all of them)")
    rotate.set_defaults(run=run_rotate)
    defaults = Retention()
    pruning = sub.add_parser("prune", formatter_class=Defaults, help="delete rows older than their retention")
    pruning.add_argument("--access-days", type=positive, default=defaults.access_days,
                         help="keep the access trail (AuditEvent) this long")
    pruning.add_argument("--hook-days", type=positive, default=defaults.hook_days, help="keep CRD call logs and feedback")
    pruning.add_argument("--claim-days", type=positive, default=defaults.claim_days,
                         help="keep decided requests, their ClaimResponses, QuestionnaireResponses and history "
                              "this long after their newest version (pended ones are never pruned)")
    pruning.add_argument("--outbox-days", type=positive, default=defaults.outbox_days,
                         help="keep delivered or abandoned notifications")
    pruning.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
    pruning.set_defaults(run=run_prune)


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 day")
    return value
