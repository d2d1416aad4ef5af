"""Operator commands: `besponsa-pa check` validates settings, declarations and storage."""
from __future__ import annotations

import argparse
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="besponsa-pa", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="validate settings, policy declarations and storage")
    args = parser.parse_args(argv)
    if args.command == "check":
        return run_check()
    return 2


if __name__ == "__main__":
    sys.exit(main())
