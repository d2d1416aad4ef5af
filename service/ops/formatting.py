"""argparse help that shows each option's default (only where there is one worth showing)."""
from __future__ import annotations

import argparse


class Defaults(argparse.HelpFormatter):
    """Like ArgumentDefaultsHelpFormatter, minus '(default: None)' and '(default: False)' noise."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text \
                and action.option_strings:
            text += " (default: %(default)s)"
        return text
