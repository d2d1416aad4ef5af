"""Operator tooling: the besponsa-pa subcommands beyond the first token (service/cli.py wires them)."""
